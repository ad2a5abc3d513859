// opzoo._cuda depthwise conv2d: the descriptors checked against each other
// (depthwise_shape.h, as the CPU binding checks its arrays), then the kernels launched
// on the caller's device and stream without the GIL.
#include <pybind11/stl.h>

#include "depthwise_cuda.h"
#include "depthwise_shape.h"
#include "device_array.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

void forward(const py::handle& x_desc, const py::handle& w_desc, const py::handle& b_desc, const py::handle& y_desc,
             Pair stride, Padding padding, Pair dilation, const std::string& layout, const py::handle& activation,
             uintptr_t stream) {
  const ArrayArg x = device_array(x_desc, "x"), w = device_array(w_desc, "weight"), y = device_array(y_desc, "out");
  const std::optional<ArrayArg> b = optional_device_array(b_desc, "bias");
  const DepthwiseShape s = check_depthwise_forward(x, w, b ? &*b : nullptr, y, {stride, std::move(padding), dilation, layout});
  const Activation act = parse_activation(activation);
  if (depthwise_empty(s)) return;
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::depthwise_forward(s, x.dtype, x.data, w.data, b ? b->data : nullptr, act, y.data, as_stream(stream));
  });
}

void backward(const py::handle& gy_desc, const py::handle& x_desc, const py::handle& w_desc,
              const py::handle& gx_desc, const py::handle& gw_desc, const py::handle& gb_desc, Pair stride,
              Padding padding, Pair dilation, const std::string& layout, uintptr_t stream) {
  const ArrayArg gy = device_array(gy_desc, "grad_out"), x = device_array(x_desc, "x");
  const ArrayArg w = device_array(w_desc, "weight");
  const std::optional<ArrayArg> gx = optional_device_array(gx_desc, "grad_x");
  const std::optional<ArrayArg> gw = optional_device_array(gw_desc, "grad_weight");
  const std::optional<ArrayArg> gb = optional_device_array(gb_desc, "grad_bias");
  const DepthwiseShape s = check_depthwise_backward(gy, x, w, gx ? &*gx : nullptr, gw ? &*gw : nullptr,
                                                    gb ? &*gb : nullptr, {stride, std::move(padding), dilation, layout});
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    if (gx && gx->size()) cuda::depthwise_backward_input(s, gy.dtype, gy.data, w.data, gx->data, as_stream(stream));
    if (gw)
      cuda::depthwise_backward_weight(s, x.dtype, gy.data, x.data, gw->data, gb ? gb->data : nullptr,
                                      as_stream(stream));
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(depthwise) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("depthwise_forward", &b::forward, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"), py::arg("activation"),
        py::arg("stream"), "Depthwise conv2d forward into `out`; padding is (top, bottom, left, right), 'same' or 'valid'.");
  m.def("depthwise_backward", &b::backward, py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("grad_x"),
        py::arg("grad_weight"), py::arg("grad_bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
        py::arg("layout"), py::arg("stream"),
        "Gradients of the depthwise conv2d with respect to x, weight and bias, into the given arrays (each may be None).");
}

// opzoo._cpu depthwise conv2d: the arguments checked against each other
// (depthwise_shape.h), then the kernel run without the GIL.
#include <pybind11/stl.h>

#include <optional>
#include <type_traits>

#include "depthwise_shape.h"
#include "host_array.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

template <class T>
const DepthwiseKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return depthwise_kernels_f32();
  else return depthwise_kernels_f64();
}

py::tuple output_shape(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& weight_shape, Pair stride,
                       Padding padding, Pair dilation, const std::string& layout) {
  return py::cast(depthwise_output_shape(make_depthwise_shape(x_shape, weight_shape,
                                                              {stride, std::move(padding), dilation, layout})));
}

py::tuple conv_pads(Pair size, Pair kernel, Pair stride, Padding padding, Pair dilation) {
  const Window2d g = conv_window(padding, size[0], size[1], kernel[0], kernel[1], stride, dilation);
  return py::make_tuple(g.pads[0], g.pads[1], g.pads[2], g.pads[3]);
}

void forward(const py::array& x_in, const py::array& weight_in, const std::optional<py::array>& bias_in,
             const py::array& out_in, Pair stride, Padding padding, Pair dilation, const std::string& layout,
             const py::handle& activation) {
  const ArrayArg x = host_array(x_in, "x"), weight = host_array(weight_in, "weight");
  const std::optional<ArrayArg> bias = host_array(bias_in, "bias");
  const ArrayArg out = host_array(out_in, "out", true);
  const DepthwiseShape s =
      check_depthwise_forward(x, weight, bias ? &*bias : nullptr, out, {stride, std::move(padding), dilation, layout});
  const Activation act = parse_activation(activation);
  if (depthwise_empty(s)) return;
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().forward(s, x.as<const T>(), weight.as<const T>(), bias ? bias->as<const T>() : nullptr, act,
                         out.as<T>());
  });
}

void backward(const py::array& grad_out_in, const py::array& x_in, const py::array& weight_in,
              const std::optional<py::array>& grad_x_in, const std::optional<py::array>& grad_weight_in,
              const std::optional<py::array>& grad_bias_in, Pair stride, Padding padding, Pair dilation,
              const std::string& layout) {
  const ArrayArg grad_out = host_array(grad_out_in, "grad_out"), x = host_array(x_in, "x");
  const ArrayArg weight = host_array(weight_in, "weight");
  const std::optional<ArrayArg> grad_x = host_array(grad_x_in, "grad_x", true);
  const std::optional<ArrayArg> grad_weight = host_array(grad_weight_in, "grad_weight", true);
  const std::optional<ArrayArg> grad_bias = host_array(grad_bias_in, "grad_bias", true);
  const DepthwiseShape s =
      check_depthwise_backward(grad_out, x, weight, grad_x ? &*grad_x : nullptr, grad_weight ? &*grad_weight : nullptr,
                               grad_bias ? &*grad_bias : nullptr, {stride, std::move(padding), dilation, layout});
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* gx = grad_x && grad_x->size() ? grad_x->as<T>() : nullptr;
    T* gw = grad_weight ? grad_weight->as<T>() : nullptr;
    T* gb = grad_bias ? grad_bias->as<T>() : nullptr;
    py::gil_scoped_release release;
    if (depthwise_empty(s)) {  // nothing to reduce: the sums are zero
      const int64_t CM = s.C * s.M, kk = s.kh * s.kw;
      for (int64_t i = 0; gw && i < CM * kk; ++i) gw[i] = T(0);
      for (int64_t i = 0; gb && i < CM; ++i) gb[i] = T(0);
      gw = gb = nullptr;
    }
    if (gx || gw) kernels<T>().backward(s, grad_out.as<const T>(), x.as<const T>(), weight.as<const T>(), gx, gw, gb);
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(depthwise) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("depthwise_output_shape", &b::output_shape, py::arg("x_shape"), py::arg("weight_shape"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("layout"),
        "The output shape of a depthwise conv2d, every argument checked (ValueError naming the first bad one).");
  m.def("conv_pads", &b::conv_pads, py::arg("size"), py::arg("kernel"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"),
        "The (top, bottom, left, right) pads of a 2-D window over an (H, W) image: `padding`'s own, or TensorFlow's "
        "SAME resolved; every argument checked as the convolutions check it.");
  m.def("depthwise_forward", &b::forward, py::arg("x").noconvert(), py::arg("weight").noconvert(),
        py::arg("bias").noconvert().none(true), py::arg("out").noconvert(), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("layout"), py::arg("activation"),
        "Depthwise conv2d forward into `out`; padding is (top, bottom, left, right), 'same' or 'valid'.");
  m.def("depthwise_backward", &b::backward, py::arg("grad_out").noconvert(), py::arg("x").noconvert(),
        py::arg("weight").noconvert(), py::arg("grad_x").noconvert().none(true),
        py::arg("grad_weight").noconvert().none(true), py::arg("grad_bias").noconvert().none(true), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("layout"),
        "Gradients of the depthwise conv2d with respect to x (into `grad_x`), weight and bias (into `grad_weight` "
        "and `grad_bias`), each when given, in one pass.");
}

// opzoo._cuda activation_backward (out = grad * activation'(z), elementwise) and the
// bias-activation op, on the caller's device and stream.
#include <climits>
#include <optional>
#include <string>

#include "activation_cuda.h"
#include "activation_shape.h"
#include "device_array.h"
#include "params.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

void backward(const py::handle& z_desc, const py::handle& g_desc, const py::handle& out_desc,
              const py::handle& activation, uintptr_t stream) {
  const ArrayArg z = device_array(z_desc, "z"), g = device_array(g_desc, "grad"), out = device_array(out_desc, "out");
  check_activation_backward(z, g, out);
  const Activation act = parse_activation(activation);
  py::gil_scoped_release release;
  on_device(z.device, [&] { cuda::activation_backward(z.dtype, z.size(), z.data, g.data, act, out.data, as_stream(stream)); });
}

void bias_forward(const py::handle& x_desc, const py::handle& bias_desc, const py::handle& residual_desc,
                  const py::handle& out_desc, const py::int_& axis, const py::handle& activation, uintptr_t stream) {
  const ArrayArg x = device_array(x_desc, "x"), out = device_array(out_desc, "out");
  const std::optional<ArrayArg> bias = optional_device_array(bias_desc, "bias"), residual = optional_device_array(residual_desc, "residual");
  const BiasActivationShape s =
      check_bias_activation(x, bias ? &*bias : nullptr, residual ? &*residual : nullptr, out, axis);
  const Activation act = parse_activation(activation);
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::bias_activation_forward(x.dtype, s, x.data, bias ? bias->data : nullptr, act,
                                  residual ? residual->data : nullptr, out.data, as_stream(stream));
  });
}

void bias_backward(const py::handle& g_desc, const py::handle& x_desc, const py::handle& bias_desc,
                   const py::handle& gx_desc, const py::handle& gb_desc, const py::int_& axis,
                   const py::handle& activation, uintptr_t stream) {
  const ArrayArg g = device_array(g_desc, "grad_out"), x = device_array(x_desc, "x");
  const std::optional<ArrayArg> bias = optional_device_array(bias_desc, "bias"), gx = optional_device_array(gx_desc, "grad_x"),
                                gb = optional_device_array(gb_desc, "grad_bias");
  const BiasActivationShape s =
      check_bias_activation_backward(g, x, bias ? &*bias : nullptr, gx ? &*gx : nullptr, gb ? &*gb : nullptr, axis);
  if (gb && s.channels > INT32_MAX)  // one thread block per channel
    throw py::value_error("x: at most 2**31 - 1 channels along axis on a CUDA device, got " +
                          std::to_string(s.channels));
  const Activation act = parse_activation(activation);
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::bias_activation_backward(x.dtype, s, g.data, x.data, bias ? bias->data : nullptr, act,
                                   gx ? gx->data : nullptr, gb ? gb->data : nullptr, as_stream(stream));
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(activation) {
  namespace py = pybind11;
  m.def("activation_backward", &opzoo::bindings::backward, py::arg("z"), py::arg("grad"), py::arg("out"),
        py::arg("activation"), py::arg("stream"),
        "out = grad * activation'(z), elementwise over arrays of one shape (PyTorch's values at the kinks).");
  namespace b = opzoo::bindings;
  m.def("bias_activation", &b::bias_forward, py::arg("x"), py::arg("bias").none(true), py::arg("residual").none(true),
        py::arg("out"), py::arg("axis"), py::arg("activation"), py::arg("stream"),
        "out = activation(x + bias along axis) + residual, elementwise; out may be x or residual itself.");
  m.def("bias_activation_backward", &b::bias_backward, py::arg("grad_out"), py::arg("x"), py::arg("bias").none(true),
        py::arg("grad_x").none(true), py::arg("grad_bias").none(true), py::arg("axis"), py::arg("activation"),
        py::arg("stream"),
        "grad_x = grad_out * activation'(x + bias) and grad_bias its sum over every axis but `axis`, each when given.");
}

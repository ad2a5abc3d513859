// opzoo._cpu activation_backward (out = grad * activation'(z), elementwise) and the
// bias-activation op (y = activation(x + bias) + residual, and its gradients), without the GIL.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "activation_shape.h"
#include "host_array.h"
#include "opzoo/activation.h"
#include "opzoo/blas.h"
#include "params.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

template <class T>
const ActivationKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return activation_kernels_f32();
  else return activation_kernels_f64();
}

void backward(const py::array& z_in, const py::array& grad_in, const py::array& out_in, const py::handle& activation) {
  const ArrayArg z = host_array(z_in, "z"), grad = host_array(grad_in, "grad"), out = host_array(out_in, "out", true);
  check_activation_backward(z, grad, out);
  const Activation act = parse_activation(activation);
  with_host_type(z.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().backward(z.size(), z.as<const T>(), grad.as<const T>(), act, out.as<T>());
  });
}

int64_t axis_of(const std::vector<int64_t>& x_shape, const std::optional<std::vector<int64_t>>& bias_shape,
                const py::int_& axis) {
  return bias_activation_axis(x_shape, bias_shape ? &*bias_shape : nullptr, axis);
}

void bias_forward(const py::array& x_in, const std::optional<py::array>& bias_in,
                  const std::optional<py::array>& residual_in, const py::array& out_in, const py::int_& axis,
                  const py::handle& activation) {
  const ArrayArg x = host_array(x_in, "x"), out = host_array(out_in, "out", true);
  const std::optional<ArrayArg> bias = host_array(bias_in, "bias"), residual = host_array(residual_in, "residual");
  const BiasActivationShape s =
      check_bias_activation(x, bias ? &*bias : nullptr, residual ? &*residual : nullptr, out, axis);
  const Activation act = parse_activation(activation);
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().bias_forward(s, x.as<const T>(), bias ? bias->as<const T>() : nullptr, act,
                              residual ? residual->as<const T>() : nullptr, out.as<T>());
  });
}

void bias_backward(const py::array& grad_in, const py::array& x_in, const std::optional<py::array>& bias_in,
                   const std::optional<py::array>& grad_x_in, const std::optional<py::array>& grad_bias_in,
                   const py::int_& axis, const py::handle& activation) {
  const ArrayArg grad = host_array(grad_in, "grad_out"), x = host_array(x_in, "x");
  const std::optional<ArrayArg> bias = host_array(bias_in, "bias"), grad_x = host_array(grad_x_in, "grad_x", true),
                                grad_bias = host_array(grad_bias_in, "grad_bias", true);
  const BiasActivationShape s = check_bias_activation_backward(
      grad, x, bias ? &*bias : nullptr, grad_x ? &*grad_x : nullptr, grad_bias ? &*grad_bias : nullptr, axis);
  const Activation act = parse_activation(activation);
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().bias_backward(s, grad.as<const T>(), x.as<const T>(), bias ? bias->as<const T>() : nullptr, act,
                               grad_x ? grad_x->as<T>() : nullptr, grad_bias ? grad_bias->as<T>() : nullptr);
  });
}

void gemm(const py::array& a_in, const py::array& b_in, const std::optional<py::array>& bias_in,
          const std::optional<py::array>& residual_in, const py::array& out_in, const py::handle& activation) {
  const ArrayArg a = host_array(a_in, "a"), b = host_array(b_in, "b"), out = host_array(out_in, "out", true);
  const std::optional<ArrayArg> bias = host_array(bias_in, "bias"), residual = host_array(residual_in, "residual");
  check_gemm_bias_activation(a, b, bias ? &*bias : nullptr, residual ? &*residual : nullptr, out);
  const Activation act = parse_activation(activation);
  if (!blas_attached()) throw std::runtime_error("gemm_bias_activation: no BLAS library attached (blas_attach)");
  py::gil_scoped_release release;
  gemm_bias_activation(a.shape[0], a.shape[1], b.shape[1], a.as<const float>(), b.as<const float>(),
                       bias ? bias->as<const float>() : nullptr, act, residual ? residual->as<const float>() : nullptr,
                       out.as<float>());
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(activation) {
  namespace py = pybind11;
  py::tuple names(opzoo::kNumActivations - 1);
  for (int i = 0; i < opzoo::kNumActivations - 1; ++i) names[i] = py::str(opzoo::kActivationNames[i]);
  m.attr("activations") = names;
  m.def("activation_backward", &opzoo::bindings::backward, py::arg("z").noconvert(), py::arg("grad").noconvert(),
        py::arg("out").noconvert(), py::arg("activation"),
        "out = grad * activation'(z), elementwise over arrays of one shape (PyTorch's values at the kinks).");
  namespace b = opzoo::bindings;
  m.def("blas_attach", [](const std::string& path) { return opzoo::blas_attach(path.c_str()); }, py::arg("path"),
        "Attaches the sgemm of the BLAS library at `path` if the process has loaded it (never loads one); whether "
        "an sgemm is attached.");
  m.def("gemm_bias_activation", &b::gemm, py::arg("a").noconvert(), py::arg("b").noconvert(),
        py::arg("bias").noconvert().none(true), py::arg("residual").noconvert().none(true),
        py::arg("out").noconvert(), py::arg("activation"),
        "out = activation(a @ b + bias) + residual (float32, dense), the attached sgemm in row blocks on opzoo's "
        "threads, each followed by the epilogue.");
  m.def("bias_activation_axis", &b::axis_of, py::arg("x_shape"), py::arg("bias_shape").none(true), py::arg("axis"),
        "The bias axis of an array of shape x_shape, normalised (ValueError unless -ndim <= axis < ndim and "
        "bias_shape is (x_shape[axis],)).");
  m.def("bias_activation", &b::bias_forward, py::arg("x").noconvert(), py::arg("bias").noconvert().none(true),
        py::arg("residual").noconvert().none(true), py::arg("out").noconvert(), py::arg("axis"),
        py::arg("activation"),
        "out = activation(x + bias along axis) + residual, elementwise; out may be x or residual itself.");
  m.def("bias_activation_backward", &b::bias_backward, py::arg("grad_out").noconvert(), py::arg("x").noconvert(),
        py::arg("bias").noconvert().none(true), py::arg("grad_x").noconvert().none(true),
        py::arg("grad_bias").noconvert().none(true), py::arg("axis"), py::arg("activation"),
        "grad_x = grad_out * activation'(x + bias) and grad_bias its sum over every axis but `axis`, each when given.");
}

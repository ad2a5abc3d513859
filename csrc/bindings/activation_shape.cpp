#include "activation_shape.h"

#include <string>

namespace opzoo::bindings {

void check_activation_backward(const ArrayArg& z, const ArrayArg& grad, const ArrayArg& out) {
  check_same_kind(grad, z);
  check_same_kind(out, z);
  check_shape(grad, z.shape);
  check_shape(out, z.shape);
  check_no_overlap(out, {&z, &grad});
}

int64_t bias_activation_axis(const std::vector<int64_t>& x_shape, const std::vector<int64_t>* bias_shape,
                             const py::int_& axis) {
  const int64_t ndim = int64_t(x_shape.size());
  if (ndim == 0) throw py::value_error("x: expected at least 1 dimension, got shape ()");
  int overflow = 0;
  int64_t a = PyLong_AsLongLongAndOverflow(axis.ptr(), &overflow);
  if (a == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow || a < -ndim || a >= ndim)
    throw py::value_error("axis: expected an int in [" + std::to_string(-ndim) + ", " + std::to_string(ndim) +
                          ") for x of shape " + shape_str(x_shape) + ", got " + std::string(py::str(axis)));
  if (a < 0) a += ndim;
  if (bias_shape && *bias_shape != std::vector<int64_t>{x_shape[size_t(a)]})
    throw py::value_error("bias: expected shape " + shape_str({x_shape[size_t(a)]}) + " (x's axis " +
                          std::to_string(a) + "), got " + shape_str(*bias_shape));
  return a;
}

BiasActivationShape bias_activation_shape(const std::vector<int64_t>& x_shape, int64_t axis) {
  BiasActivationShape s;
  s.outer = 1;
  for (int64_t d = 0; d < axis; ++d) s.outer *= x_shape[size_t(d)];
  s.channels = x_shape[size_t(axis)];
  for (size_t d = size_t(axis) + 1; d < x_shape.size(); ++d) s.inner *= x_shape[d];
  return s;
}

BiasActivationShape check_bias_activation(const ArrayArg& x, const ArrayArg* bias, const ArrayArg* residual,
                                          const ArrayArg& out, const py::int_& axis_in) {
  const int64_t axis = bias_activation_axis(x.shape, bias ? &bias->shape : nullptr, axis_in);
  for (const ArrayArg* a : {bias, residual, &out})
    if (a) check_same_kind(*a, x);
  if (residual) check_shape(*residual, x.shape);
  check_shape(out, x.shape);
  check_in_place_or_disjoint(out, {&x, residual});
  check_no_overlap(out, {bias});
  return bias_activation_shape(x.shape, axis);
}

BiasActivationShape check_bias_activation_backward(const ArrayArg& grad, const ArrayArg& x, const ArrayArg* bias,
                                                   const ArrayArg* grad_x, const ArrayArg* grad_bias,
                                                   const py::int_& axis_in) {
  const int64_t axis = bias_activation_axis(x.shape, bias ? &bias->shape : nullptr, axis_in);
  for (const ArrayArg* a : {&grad, bias, grad_x, grad_bias})
    if (a) check_same_kind(*a, x);
  check_shape(grad, x.shape);
  if (grad_x) {
    check_shape(*grad_x, x.shape);
    check_no_overlap(*grad_x, {&grad, &x, bias, grad_bias});
  }
  if (grad_bias) {
    check_shape(*grad_bias, {x.shape[size_t(axis)]});
    check_no_overlap(*grad_bias, {&grad, &x, bias});
  }
  return bias_activation_shape(x.shape, axis);
}

void check_gemm_bias_activation(const ArrayArg& a, const ArrayArg& b, const ArrayArg* bias, const ArrayArg* residual,
                                const ArrayArg& out) {
  check_ndim(a.shape, "a", 2, "(M, K)");
  check_ndim(b.shape, "b", 2, "(K, N)");
  if (a.dtype != DType::float32) throw py::type_error(std::string("a: expected dtype float32, got ") + dtype_name(a.dtype));
  const int64_t M = a.shape[0], K = a.shape[1], N = b.shape[1];
  if (b.shape[0] != K)
    throw py::value_error("b: expected shape (" + std::to_string(K) + ", N) for a of shape " + shape_str(a.shape) +
                          ", got " + shape_str(b.shape));
  for (const ArrayArg* x : {&b, bias, residual, &out})
    if (x) check_same_kind(*x, a);
  if (bias) check_shape(*bias, {N});
  if (residual) check_shape(*residual, {M, N});
  check_shape(out, {M, N});
  check_no_overlap(out, {&a, &b, bias, residual});
}

}  // namespace opzoo::bindings

// The activation backward step's and the bias-activation op's arguments checked against
// each other, for the CPU and the CUDA binding alike, and the axis rule Python asks for
// through opzoo._cpu.bias_activation_axis.
#pragma once

#include <cstdint>
#include <vector>

#include "arrays.h"
#include "opzoo/activation.h"

namespace opzoo::bindings {

// `axis` (a Python int, of any size) of an array of shape x_shape, counted from the end
// when negative: ValueError unless -ndim <= axis < ndim; and bias_shape (when given)
// must be (x_shape[axis],).
int64_t bias_activation_axis(const std::vector<int64_t>& x_shape, const std::vector<int64_t>* bias_shape,
                             const py::int_& axis);

// x as (outer, channels, inner) around the normalised `axis`.
BiasActivationShape bias_activation_shape(const std::vector<int64_t>& x_shape, int64_t axis);

// bias (channels,) and residual (x's shape) optional; out x's shape, x or residual itself
// or sharing no memory with them, and none with bias.
BiasActivationShape check_bias_activation(const ArrayArg& x, const ArrayArg* bias, const ArrayArg* residual,
                                          const ArrayArg& out, const py::int_& axis);
// grad of x's shape; grad_x (x's shape) and grad_bias (channels,) optional, sharing no
// memory with the inputs or each other.
BiasActivationShape check_bias_activation_backward(const ArrayArg& grad, const ArrayArg& x, const ArrayArg* bias,
                                                   const ArrayArg* grad_x, const ArrayArg* grad_bias,
                                                   const py::int_& axis);

// z, grad and out of one shape and kind; out shares memory with neither input.
void check_activation_backward(const ArrayArg& z, const ArrayArg& grad, const ArrayArg& out);

// The product's operands: a (M, K), b (K, N), out (M, N), float32; bias (N,) and residual
// (M, N) optional; out shares no memory with any of them.
void check_gemm_bias_activation(const ArrayArg& a, const ArrayArg& b, const ArrayArg* bias, const ArrayArg* residual,
                                const ArrayArg& out);

}  // namespace opzoo::bindings

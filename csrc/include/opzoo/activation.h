// Activations fused into the output pass of kernels, the elementwise backward step an op
// takes through one (grad * activation'(z)), and the bias-activation op: a per-channel
// bias, an activation and a residual in one pass (the epilogue of a GEMM or convolution),
// with its backward. Bindings take activations by name (kActivationNames, None for
// none), so Python never holds their numbering.
#pragma once

#include <cstdint>

namespace opzoo {

enum class Activation : int { none = 0, relu = 1, relu6 = 2, silu = 3, hardswish = 4, sigmoid = 5 };

constexpr int kNumActivations = 6;

// The name of each activation but none, in enum order from relu.
constexpr const char* kActivationNames[kNumActivations - 1] = {"relu", "relu6", "silu", "hardswish", "sigmoid"};

// A dense array as the bias-activation kernels see it: (outer, channels, inner), the
// bias running along channels.
struct BiasActivationShape {
  int64_t outer = 0, channels = 0, inner = 1;
};

// One back end's elementwise activation kernels for one dtype.
template <class T>
struct ActivationKernels {
  // out[i] = grad[i] * activation'(z[i]), i < n, with PyTorch's values at the kinks
  // (0 at relu's 0, 0 at relu6's 0 and 6, hardswish's slope (2z + 3) / 6 on [-3, 3]).
  void (*backward)(int64_t n, const T* z, const T* grad, Activation act, T* out);
  // y = activation(x + bias[c]) + residual, elementwise; bias and residual may be
  // nullptr (none), y may be x or residual itself (in place).
  void (*bias_forward)(const BiasActivationShape& s, const T* x, const T* bias, Activation act, const T* residual,
                       T* y);
  // grad_x = grad * activation'(x + bias[c]) and grad_bias[c] its sum over outer and inner,
  // in an order fixed by the shape alone; either output may be nullptr (not wanted).
  void (*bias_backward)(const BiasActivationShape& s, const T* grad, const T* x, const T* bias, Activation act,
                        T* grad_x, T* grad_bias);
};

// The kernels for the current simd_level() (float) or the portable ones (double).
const ActivationKernels<float>& activation_kernels_f32();
const ActivationKernels<double>& activation_kernels_f64();

}  // namespace opzoo

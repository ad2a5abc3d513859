// Activations fused into the output pass of kernels, and the elementwise backward step
// an op takes through one (grad * activation'(z)). Bindings take activations by name
// (kActivationNames, None for none), so Python never holds their numbering.
#pragma once

#include <cstdint>

namespace opzoo {

enum class Activation : int { none = 0, relu = 1, relu6 = 2, silu = 3, hardswish = 4, sigmoid = 5 };

constexpr int kNumActivations = 6;

// The name of each activation but none, in enum order from relu.
constexpr const char* kActivationNames[kNumActivations - 1] = {"relu", "relu6", "silu", "hardswish", "sigmoid"};

// One back end's elementwise activation kernels for one dtype.
template <class T>
struct ActivationKernels {
  // out[i] = grad[i] * activation'(z[i]), i < n, with PyTorch's values at the kinks
  // (0 at relu's 0, 0 at relu6's 0 and 6, hardswish's slope (2z + 3) / 6 on [-3, 3]).
  void (*backward)(int64_t n, const T* z, const T* grad, Activation act, T* out);
};

// The kernels for the current simd_level() (float) or the portable ones (double).
const ActivationKernels<float>& activation_kernels_f32();
const ActivationKernels<double>& activation_kernels_f64();

}  // namespace opzoo

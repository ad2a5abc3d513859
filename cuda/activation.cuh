// The activations CUDA kernels fuse, and their derivatives: the CPU kernels' formulas
// operand for operand (max(a, b) = a > b ? a : b, so NaN passes through relu and relu6
// as it does there), PyTorch's values at the kinks.
#pragma once

#include "opzoo/activation.h"

namespace opzoo::cuda {

__device__ __forceinline__ float max_of(float a, float b) { return a > b ? a : b; }
__device__ __forceinline__ float min_of(float a, float b) { return a < b ? a : b; }

__device__ __forceinline__ float activate(float v, int act) {
  switch (act) {
    case int(Activation::relu):
      return max_of(0.0f, v);
    case int(Activation::relu6):
      return min_of(6.0f, max_of(0.0f, v));
    case int(Activation::silu):
      return v / (1.0f + expf(-v));
    case int(Activation::hardswish):
      return v * min_of(6.0f, max_of(0.0f, v + 3.0f)) / 6.0f;
    case int(Activation::sigmoid):
      return 1.0f / (1.0f + expf(-v));
    default:
      return v;
  }
}

__device__ __forceinline__ float activation_slope(float z, int act) {
  switch (act) {
    case int(Activation::relu):
      return z > 0.0f ? 1.0f : 0.0f;
    case int(Activation::relu6):
      return (z > 0.0f && z < 6.0f) ? 1.0f : 0.0f;
    case int(Activation::silu): {
      const float s = 1.0f / (1.0f + expf(-z));
      return s * (1.0f + z * (1.0f - s));
    }
    case int(Activation::hardswish):
      return z < -3.0f ? 0.0f : (z <= 3.0f ? (2.0f * z + 3.0f) / 6.0f : 1.0f);
    case int(Activation::sigmoid): {
      const float s = 1.0f / (1.0f + expf(-z));
      return s * (1.0f - s);
    }
    default:
      return 1.0f;
  }
}

}  // namespace opzoo::cuda

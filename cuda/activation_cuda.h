// Elementwise activation kernels and the bias-activation op on CUDA devices: the
// host-side launchers of cuda/activation.cu. Each launches on `stream` and returns at
// once; a failed launch throws.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "opzoo/activation.h"
#include "opzoo/dtype.h"

namespace opzoo::cuda {

// out[i] = grad[i] * activation'(z[i]) over n elements (PyTorch's values at the kinks).
void activation_backward(DType dtype, int64_t n, const void* z, const void* grad, Activation act, void* out,
                         cudaStream_t stream);

// y = activation(x + bias[c]) + residual (bias, residual may be nullptr; y may be x or
// residual), as the CPU kernel.
void bias_activation_forward(DType dtype, const BiasActivationShape& s, const void* x, const void* bias,
                             Activation act, const void* residual, void* y, cudaStream_t stream);
// grad_x = grad * activation'(x + bias[c]) and grad_bias[c] its sum over outer and inner (a
// fixed-order block reduction per channel, at most 2**31 - 1 channels); either may be nullptr.
void bias_activation_backward(DType dtype, const BiasActivationShape& s, const void* grad, const void* x,
                              const void* bias, Activation act, void* grad_x, void* grad_bias, cudaStream_t stream);

}  // namespace opzoo::cuda

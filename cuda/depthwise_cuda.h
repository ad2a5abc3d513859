// Depthwise conv2d on CUDA devices: host-side launchers for cuda/depthwise.cu, over
// raw device pointers and the same DepthwiseShape as the CPU kernels. Each launches
// on `stream` and returns at once; a failed launch throws std::runtime_error.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "opzoo/depthwise.h"

namespace opzoo::cuda {

// Element types the CUDA kernels read and write; they accumulate in float32.
enum class DType : int { float32 = 0, float16 = 1, bfloat16 = 2 };

// y (output layout of s) = activation(conv(x, w) + b); b may be null.
void depthwise_forward(const DepthwiseShape& s, DType dtype, const void* x, const void* w, const void* b,
                       Activation act, void* y, cudaStream_t stream);

// grad_x from grad_y: a gather per input element, no atomics.
void depthwise_backward_input(const DepthwiseShape& s, DType dtype, const void* grad_y, const void* w,
                              void* grad_x, cudaStream_t stream);

// grad_w (C*M, kh, kw) and grad_b (C*M; may be null), each a fixed-order reduction
// by one thread block per output channel: bit-identical from run to run.
void depthwise_backward_weight(const DepthwiseShape& s, DType dtype, const void* grad_y, const void* x,
                               void* grad_w, void* grad_b, cudaStream_t stream);

// out[i] = grad[i] * activation'(z[i]) over n elements (PyTorch's values at the kinks).
void activation_backward(DType dtype, int64_t n, const void* z, const void* grad, Activation act, void* out,
                         cudaStream_t stream);

}  // namespace opzoo::cuda

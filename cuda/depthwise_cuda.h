// Depthwise conv2d on CUDA devices: host-side launchers for cuda/depthwise.cu, over
// raw device pointers and the same DepthwiseShape as the CPU kernels. Each launches
// on `stream` and returns at once; a failed launch throws std::runtime_error.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "opzoo/depthwise.h"
#include "opzoo/dtype.h"

namespace opzoo::cuda {

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

}  // namespace opzoo::cuda

// Squeeze-excite on CUDA devices: the host-side launchers of cuda/squeeze_excite.cu, with
// the CPU kernels' contract (opzoo/squeeze_excite.h) on device pointers of `dtype`. Each
// launches on `stream` and returns at once; its float32 scratch is stream-ordered
// (cudaMallocAsync); a failed launch or allocation throws.
#pragma once

#include <cuda_runtime.h>

#include "opzoo/dtype.h"
#include "opzoo/squeeze_excite.h"

namespace opzoo::cuda {

void squeeze_excite_forward(const SqueezeExciteShape& s, DType dtype, const void* x, const void* w_reduce,
                            const void* b_reduce, const void* w_expand, const void* b_expand, Activation act, void* y,
                            cudaStream_t stream);

void squeeze_excite_backward(const SqueezeExciteShape& s, DType dtype, const void* grad_y, const void* x,
                             const void* w_reduce, const void* b_reduce, const void* w_expand, const void* b_expand,
                             Activation act, void* grad_x, void* grad_w_reduce, void* grad_b_reduce,
                             void* grad_w_expand, void* grad_b_expand, cudaStream_t stream);

}  // namespace opzoo::cuda

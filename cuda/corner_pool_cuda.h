// Corner and center pooling on CUDA devices: the host-side launchers of cuda/corner_pool.cu,
// with the CPU kernels' contract (opzoo/corner_pool.h: CornerPoolKernels) on device
// pointers of `dtype`. Each launches on `stream` and returns at once; a failed launch throws.
#pragma once

#include <cuda_runtime.h>

#include "opzoo/corner_pool.h"
#include "opzoo/dtype.h"

namespace opzoo::cuda {

void corner_pool_forward(const CornerPoolShape& s, DType dtype, const void* a, PoolDirection vertical, const void* b,
                         PoolDirection horizontal, void* out, cudaStream_t stream);

void center_pool_forward(const CornerPoolShape& s, DType dtype, const void* a, const void* b, void* out,
                         cudaStream_t stream);

void corner_pool_backward(const CornerPoolShape& s, DType dtype, const void* grad_out, const void* x,
                          PoolDirection direction, void* grad_x, cudaStream_t stream);

void extent_pool_backward(const CornerPoolShape& s, DType dtype, const void* grad_out, const void* x, bool vertical,
                          void* grad_x, cudaStream_t stream);

}  // namespace opzoo::cuda

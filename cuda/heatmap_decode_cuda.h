// CenterNet heatmap decoding on CUDA devices: the host-side launcher of
// cuda/heatmap_decode.cu, with the CPU kernels' contract (opzoo/heatmap_decode.h) on
// device pointers of `dtype` (reg may be null). It launches on `stream` and returns at
// once; a failed launch or scratch allocation throws.
#pragma once

#include <cuda_runtime.h>

#include "opzoo/dtype.h"
#include "opzoo/heatmap_decode.h"

namespace opzoo::cuda {

void heatmap_decode(const HeatmapDecodeShape& s, DType dtype, const void* heat, const void* wh, const void* reg,
                    void* boxes, cudaStream_t stream);

}  // namespace opzoo::cuda

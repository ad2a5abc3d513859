// Elementwise activation kernels on CUDA devices: the host-side launcher of
// cuda/activation.cu. Launches on `stream` and returns at once; a failed launch throws.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "opzoo/activation.h"
#include "opzoo/dtype.h"

namespace opzoo::cuda {

// out[i] = grad[i] * activation'(z[i]) over n elements (PyTorch's values at the kinks).
void activation_backward(DType dtype, int64_t n, const void* z, const void* grad, Activation act, void* out,
                         cudaStream_t stream);

}  // namespace opzoo::cuda

// Elementwise activation CUDA kernels: one thread per element, grid-stride.
#include <type_traits>

#include "activation.cuh"
#include "activation_cuda.h"
#include "common.cuh"

namespace opzoo::cuda {
namespace {

template <class T>
__global__ void __launch_bounds__(kThreads)
    activation_backward_kernel(int64_t n, const T* __restrict__ z, const T* __restrict__ g, int act,
                               T* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = from_float<T>(to_float(g[i]) * activation_slope(to_float(z[i]), act));
}

}  // namespace

void activation_backward(DType dtype, int64_t n, const void* z, const void* grad, Activation act, void* out,
                         cudaStream_t stream) {
  if (n == 0) return;
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    OPZOO_LAUNCH(unsigned(blocks_for(n)), kThreads, 0, stream, activation_backward_kernel<T>)(
        n, static_cast<const T*>(z), static_cast<const T*>(grad), int(act), static_cast<T*>(out));
    check_launch("activation backward");
  });
}

}  // namespace opzoo::cuda

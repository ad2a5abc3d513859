// Elementwise activation CUDA kernels and the bias-activation op: one thread per element,
// grid-stride; bias gradients one block per channel, summed in a fixed order.
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

template <class T>
__global__ void __launch_bounds__(kThreads)
    bias_forward_kernel(BiasActivationShape s, const T* x, const T* __restrict__ bias, int act, const T* residual,
                        T* y) {  // y may be x or residual: each element is read before it is written
  const int64_t n = s.outer * s.channels * s.inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float z = to_float(x[i]);
    if (bias) z += to_float(bias[i / s.inner % s.channels]);
    float v = activate(z, act);
    if (residual) v += to_float(residual[i]);
    y[i] = from_float<T>(v);
  }
}

template <class T>
__device__ float bias_slope_times_grad(const BiasActivationShape& s, const T* g, const T* x, const T* bias, int act,
                                       int64_t i) {
  const float z = to_float(x[i]) + (bias ? to_float(bias[i / s.inner % s.channels]) : 0.0f);
  return to_float(g[i]) * activation_slope(z, act);
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    bias_backward_input_kernel(BiasActivationShape s, const T* __restrict__ g, const T* __restrict__ x,
                               const T* __restrict__ bias, int act, T* __restrict__ gx) {
  const int64_t n = s.outer * s.channels * s.inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    gx[i] = from_float<T>(bias_slope_times_grad(s, g, x, bias, act, i));
}

// One block per channel: thread t sums the channel's elements t, t + kThreads, ... of
// (outer, inner), then the block adds its threads' sums in a tree.
template <class T>
__global__ void __launch_bounds__(kThreads)
    bias_backward_bias_kernel(BiasActivationShape s, const T* __restrict__ g, const T* __restrict__ x,
                              const T* __restrict__ bias, int act, T* __restrict__ gb) {
  __shared__ float shared[kThreads];
  const int64_t c = blockIdx.x, per_channel = s.outer * s.inner;
  float acc = 0.0f;
  for (int64_t j = threadIdx.x; j < per_channel; j += kThreads) {
    const int64_t o = j / s.inner, k = j % s.inner;
    acc += bias_slope_times_grad(s, g, x, bias, act, (o * s.channels + c) * s.inner + k);
  }
  const float total = block_sum(acc, shared);
  if (threadIdx.x == 0) gb[c] = from_float<T>(total);
}

}  // namespace

void bias_activation_forward(DType dtype, const BiasActivationShape& s, const void* x, const void* bias,
                             Activation act, const void* residual, void* y, cudaStream_t stream) {
  const int64_t n = s.outer * s.channels * s.inner;
  if (n == 0) return;
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    OPZOO_LAUNCH(unsigned(blocks_for(n)), kThreads, 0, stream, bias_forward_kernel<T>)(
        s, static_cast<const T*>(x), static_cast<const T*>(bias), int(act), static_cast<const T*>(residual),
        static_cast<T*>(y));
    check_launch("bias activation");
  });
}

void bias_activation_backward(DType dtype, const BiasActivationShape& s, const void* grad, const void* x,
                              const void* bias, Activation act, void* grad_x, void* grad_bias, cudaStream_t stream) {
  const int64_t n = s.outer * s.channels * s.inner;
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const auto* g = static_cast<const T*>(grad);
    const auto* xt = static_cast<const T*>(x);
    const auto* b = static_cast<const T*>(bias);
    if (grad_x && n > 0) {
      OPZOO_LAUNCH(unsigned(blocks_for(n)), kThreads, 0, stream, bias_backward_input_kernel<T>)(
          s, g, xt, b, int(act), static_cast<T*>(grad_x));
      check_launch("bias activation backward (grad_x)");
    }
    if (grad_bias && s.channels > 0) {  // channels <= 2**31 - 1: the binding checks it
      OPZOO_LAUNCH(unsigned(s.channels), kThreads, 0, stream, bias_backward_bias_kernel<T>)(
          s, g, xt, b, int(act), static_cast<T*>(grad_bias));
      check_launch("bias activation backward (grad_bias)");
    }
  });
}

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

// Squeeze-excite CUDA kernels, in float32 whatever the element type: (1) one block per
// (image, channel) sums its pixels (and grad_y * x) in a fixed-order tree; (2) one block
// per image computes the gate (and, backward, the chain rule down to the means), each
// thread one dot product in order; (3) one thread per element scales x (or grad_y, plus
// the means' gradient); (4) one thread per parameter gradient element sums over the
// images in order. No atomics: the same bits run to run.
#include <stdexcept>
#include <string>
#include <type_traits>

#include "activation.cuh"
#include "common.cuh"
#include "squeeze_excite_cuda.h"

namespace opzoo::cuda {
namespace {

struct SeDims {
  int64_t N, C, R, P;
  int nhwc;
};

__device__ __forceinline__ int64_t se_offset(const SeDims& d, int64_t n, int64_t c, int64_t p) {
  return d.nhwc ? (n * d.P + p) * d.C + c : (n * d.C + c) * d.P + p;
}

// The sum over k < n of w[k * stride] * v[k], in k order.
template <class T>
__device__ float se_dot(const T* __restrict__ w, int64_t stride, const float* __restrict__ v, int64_t n) {
  float acc = 0.0f;
  for (int64_t k = 0; k < n; ++k) acc += to_float(w[k * stride]) * v[k];
  return acc;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    se_sums_kernel(SeDims d, const T* __restrict__ x, const T* __restrict__ gy, float* __restrict__ sums,
                   float* __restrict__ grad_sums) {
  __shared__ float shared[kThreads];
  const int64_t n = blockIdx.x / d.C, c = blockIdx.x % d.C;
  float acc = 0.0f, gacc = 0.0f;
  for (int64_t p = threadIdx.x; p < d.P; p += kThreads) {
    const int64_t i = se_offset(d, n, c, p);
    const float xv = to_float(x[i]);
    acc += xv;
    if (gy) gacc += to_float(gy[i]) * xv;
  }
  const float total = block_sum(acc, shared);
  if (threadIdx.x == 0) sums[blockIdx.x] = total;
  if (gy) {
    const float grad_total = block_sum(gacc, shared);
    if (threadIdx.x == 0) grad_sums[blockIdx.x] = grad_total;
  }
}

// One block per image. Forward: mean, z1, h, z2 and the gate into the image's rows of
// the scratch. With grad_sums (backward): dz2, dz1 and the means' gradient over P.
template <class T>
__global__ void __launch_bounds__(kThreads)
    se_gate_kernel(SeDims d, const T* __restrict__ wr, const T* __restrict__ br, const T* __restrict__ we,
                   const T* __restrict__ be, int act, const float* __restrict__ sums, float* __restrict__ mean,
                   float* __restrict__ z1, float* __restrict__ h, float* __restrict__ z2, float* __restrict__ gate,
                   const float* __restrict__ grad_sums, float* __restrict__ dz2, float* __restrict__ dz1,
                   float* __restrict__ spread) {
  const int64_t n = blockIdx.x, C = d.C, R = d.R;
  const float inv = 1.0f / float(d.P);
  for (int64_t c = threadIdx.x; c < C; c += kThreads) mean[n * C + c] = sums[n * C + c] * inv;
  __syncthreads();
  for (int64_t r = threadIdx.x; r < R; r += kThreads) {
    const float acc = se_dot(wr + r * C, 1, mean + n * C, C) + (br ? to_float(br[r]) : 0.0f);
    z1[n * R + r] = acc;
    h[n * R + r] = activate(acc, act);
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += kThreads) {
    const float acc = se_dot(we + c * R, 1, h + n * R, R) + (be ? to_float(be[c]) : 0.0f);
    z2[n * C + c] = acc;
    gate[n * C + c] = activate(acc, int(Activation::sigmoid));
  }
  if (!grad_sums) return;
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += kThreads)
    dz2[n * C + c] = grad_sums[n * C + c] * activation_slope(z2[n * C + c], int(Activation::sigmoid));
  __syncthreads();
  for (int64_t r = threadIdx.x; r < R; r += kThreads)
    dz1[n * R + r] = se_dot(we + r, R, dz2 + n * C, C) * activation_slope(z1[n * R + r], act);
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += kThreads) spread[n * C + c] = se_dot(wr + c, C, dz1 + n * R, R) * inv;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    se_scale_kernel(SeDims d, const T* a, const float* __restrict__ gate, const float* __restrict__ add, T* out) {
  const int64_t total = d.N * d.C * d.P;  // out may be a itself: each element is read before it is written
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = d.nhwc ? i % d.C : i / d.P % d.C, n = i / (d.C * d.P);
    float v = to_float(a[i]) * gate[n * d.C + c];
    if (add) v += add[n * d.C + c];
    out[i] = from_float<T>(v);
  }
}

// out[i * cols + j] = sum_n a[n * rows + i] * b[n * cols + j] (b null: the sum of a), in image order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    se_image_sums_kernel(int64_t N, int64_t rows, int64_t cols, const float* __restrict__ a,
                         const float* __restrict__ b, T* __restrict__ out) {
  const int64_t total = rows * cols;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / cols, j = k % cols;
    float acc = 0.0f;
    for (int64_t n = 0; n < N; ++n) acc += a[n * rows + i] * (b ? b[n * cols + j] : 1.0f);
    out[k] = from_float<T>(acc);
  }
}

SeDims dims(const SqueezeExciteShape& s) { return {s.N, s.C, s.R, s.H * s.W, s.layout == Layout::NHWC}; }

}  // namespace

void squeeze_excite_forward(const SqueezeExciteShape& s, DType dtype, const void* x, const void* w_reduce,
                            const void* b_reduce, const void* w_expand, const void* b_expand, Activation act, void* y,
                            cudaStream_t stream) {
  const SeDims d = dims(s);
  if (d.N == 0 || d.C == 0 || d.P == 0) return;
  const int64_t NC = d.N * d.C, NR = d.N * d.R;
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const Scratch<float> w({NC, NC, NR, NR, NC, NC}, stream);  // sums, mean, z1, h, z2, gate
    OPZOO_LAUNCH(unsigned(NC), kThreads, 0, stream, se_sums_kernel<T>)(
        d, static_cast<const T*>(x), static_cast<const T*>(nullptr), w[0], static_cast<float*>(nullptr));
    OPZOO_LAUNCH(unsigned(d.N), kThreads, 0, stream, se_gate_kernel<T>)(
        d, static_cast<const T*>(w_reduce), static_cast<const T*>(b_reduce), static_cast<const T*>(w_expand),
        static_cast<const T*>(b_expand), int(act), w[0], w[1], w[2], w[3], w[4], w[5], nullptr, nullptr, nullptr,
        nullptr);
    OPZOO_LAUNCH(unsigned(blocks_for(NC * d.P)), kThreads, 0, stream, se_scale_kernel<T>)(
        d, static_cast<const T*>(x), w[5], static_cast<const float*>(nullptr), static_cast<T*>(y));
    check_launch("squeeze-excite forward");
  });
}

void squeeze_excite_backward(const SqueezeExciteShape& s, DType dtype, const void* grad_y, const void* x,
                             const void* w_reduce, const void* b_reduce, const void* w_expand, const void* b_expand,
                             Activation act, void* grad_x, void* grad_w_reduce, void* grad_b_reduce,
                             void* grad_w_expand, void* grad_b_expand, cudaStream_t stream) {
  const SeDims d = dims(s);
  const int64_t NC = d.N * d.C, NR = d.N * d.R;
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    // sums, grad_sums, mean, z1, h, z2, gate, dz2, dz1, spread
    const Scratch<float> w({NC, NC, NC, NR, NR, NC, NC, NC, NR, NC}, stream);
    if (NC > 0) {
      if (d.P > 0) {
        OPZOO_LAUNCH(unsigned(NC), kThreads, 0, stream, se_sums_kernel<T>)(
            d, static_cast<const T*>(x), static_cast<const T*>(grad_y), w[0], w[1]);
      } else {  // no pixels: zero sums, NaN means (0 / 0), as on the CPU
        cudaMemsetAsync(w[0], 0, size_t(2 * NC) * sizeof(float), stream);
      }
    }
    if (d.N > 0)
      OPZOO_LAUNCH(unsigned(d.N), kThreads, 0, stream, se_gate_kernel<T>)(
          d, static_cast<const T*>(w_reduce), static_cast<const T*>(b_reduce), static_cast<const T*>(w_expand),
          static_cast<const T*>(b_expand), int(act), w[0], w[2], w[3], w[4], w[5], w[6], w[1], w[7], w[8], w[9]);
    if (grad_x && NC * d.P > 0)
      OPZOO_LAUNCH(unsigned(blocks_for(NC * d.P)), kThreads, 0, stream, se_scale_kernel<T>)(
          d, static_cast<const T*>(grad_y), w[6], w[9], static_cast<T*>(grad_x));
    if (grad_w_reduce) {
      auto sums = [&](int64_t rows, int64_t cols, const float* a, const float* b, void* out) {
        if (rows * cols > 0)
          OPZOO_LAUNCH(unsigned(blocks_for(rows * cols)), kThreads, 0, stream, se_image_sums_kernel<T>)(
              d.N, rows, cols, a, b, static_cast<T*>(out));
      };
      sums(d.C, d.R, w[7], w[4], grad_w_expand);  // dz2 (N, C) by h (N, R)
      sums(d.C, 1, w[7], nullptr, grad_b_expand);  // dz2 summed
      sums(d.R, d.C, w[8], w[2], grad_w_reduce);  // dz1 (N, R) by the means (N, C)
      sums(d.R, 1, w[8], nullptr, grad_b_reduce);  // dz1 summed
    }
    check_launch("squeeze-excite backward");
  });
}

}  // namespace opzoo::cuda

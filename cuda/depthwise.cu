// Depthwise conv2d CUDA kernels: float32, float16 and bfloat16 storage, float32
// accumulation. Every output sums its taps in (kh, kw) order from zero, then adds the
// bias, as the CPU kernels do; taps over padding are skipped, which leaves each sum
// unchanged and keeps an infinite or NaN weight from meeting padding's zeros (NaN). No atomics anywhere: the forward pass and grad_x are one thread per
// element, grad_weight a fixed-order block reduction per channel.
//
// Forward fast paths (K x K kernel, K = 3 or 5, equal strides 1 or 2, no dilation):
//   NCHW: a block computes a 32 x 16 output tile of one plane from a shared-memory
//         copy of the input tile it reads, with the K*K weights in registers.
//   NHWC: a thread computes 4 adjacent output pixels of one channel, loading each
//         input pixel of a kernel row once; neighbouring threads take neighbouring
//         channels, so every load is coalesced.
// Anything else runs a direct kernel: one thread per output, bounds checked per tap.
#include <type_traits>

#include "activation.cuh"
#include "common.cuh"
#include "depthwise_cuda.h"

namespace opzoo::cuda {
namespace {

// ---------------------------------------------------------------------------------
// Forward.

constexpr int kTileW = 32, kTileH = 16, kTileRowsPerPass = kThreads / kTileW;

template <class T, int K, int S>
__global__ void __launch_bounds__(kThreads)
    forward_nchw_tiled(DepthwiseShape s, const T* __restrict__ x, const T* __restrict__ w,
                       const T* __restrict__ b, int act, T* __restrict__ y, int64_t tiles_w, int64_t tiles_h) {
  constexpr int IW = (kTileW - 1) * S + K, IH = (kTileH - 1) * S + K;
  __shared__ float tile[IH][IW];
  int64_t block = blockIdx.x;
  const int64_t tw = block % tiles_w;
  block /= tiles_w;
  const int64_t th = block % tiles_h, plane = block / tiles_h;  // plane = n * C*M + oc
  const int64_t CM = s.C * s.M, n = plane / CM, oc = plane % CM, c = oc / s.M;
  const T* xp = x + (n * s.C + c) * s.H * s.W;
  const int64_t oh0 = th * kTileH, ow0 = tw * kTileW;
  const int64_t ih0 = oh0 * S - s.pad_top, iw0 = ow0 * S - s.pad_left;
  const int tx = threadIdx.x % kTileW, ty = threadIdx.x / kTileW;
  for (int i = threadIdx.x; i < IH * IW; i += kThreads) {
    const int r = i / IW, q = i % IW;
    const int64_t ih = ih0 + r, iw = iw0 + q;
    tile[r][q] = (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) ? to_float(xp[ih * s.W + iw]) : 0.0f;
  }
  float wr[K * K];
  bool finite = true;  // the block's weights (one output channel): uniform across it
#pragma unroll
  for (int t = 0; t < K * K; ++t) {
    wr[t] = to_float(w[oc * K * K + t]);
    finite = finite && isfinite(wr[t]);
  }
  const float bias = b ? to_float(b[oc]) : 0.0f;
  __syncthreads();
  const int64_t ow = ow0 + tx;
  T* yp = y + plane * s.Ho * s.Wo;
#pragma unroll
  for (int j = 0; j < kTileH / kTileRowsPerPass; ++j) {
    const int row = ty + j * kTileRowsPerPass;
    const int64_t oh = oh0 + row;
    if (oh >= s.Ho || ow >= s.Wo) continue;
    float acc = 0.0f;
    if (finite) {
#pragma unroll
      for (int a = 0; a < K; ++a)
#pragma unroll
        for (int bb = 0; bb < K; ++bb) acc = fmaf(wr[a * K + bb], tile[row * S + a][tx * S + bb], acc);
    } else {  // an infinite or NaN weight meets no padding (inf * 0), as on the CPU
      for (int a = 0; a < K; ++a)
        for (int bb = 0; bb < K; ++bb) {
          const int64_t ih = ih0 + row * S + a, iw = iw0 + tx * S + bb;
          if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) acc = fmaf(wr[a * K + bb], tile[row * S + a][tx * S + bb], acc);
        }
    }
    yp[oh * s.Wo + ow] = from_float<T>(activate(acc + bias, act));
  }
}

constexpr int kPixelsPerThread = 4;

template <class T, int K, int S>
__global__ void __launch_bounds__(kThreads)
    forward_nhwc_pixels(DepthwiseShape s, const T* __restrict__ x, const T* __restrict__ w,
                        const T* __restrict__ b, int act, T* __restrict__ y, int64_t groups, int64_t total) {
  constexpr int U = kPixelsPerThread, P = (U - 1) * S + K;  // input pixels a kernel row of U outputs reads
  const int64_t CM = s.C * s.M;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t oc = i % CM;
    int64_t rest = i / CM;
    const int64_t group = rest % groups;
    rest /= groups;
    const int64_t oh = rest % s.Ho, n = rest / s.Ho, c = oc / s.M, ow0 = group * U;
    float acc[U];
#pragma unroll
    for (int u = 0; u < U; ++u) acc[u] = 0.0f;
#pragma unroll
    for (int a = 0; a < K; ++a) {
      const int64_t ih = oh * S - s.pad_top + a;
      if (ih < 0 || ih >= s.H) continue;
      const T* row = x + ((n * s.H + ih) * s.W) * s.C + c;
      float v[P];
      bool inside[P];  // taps over padding are skipped: an infinite weight times its 0 would be NaN
#pragma unroll
      for (int p = 0; p < P; ++p) {
        const int64_t iw = ow0 * S - s.pad_left + p;
        inside[p] = iw >= 0 && iw < s.W;
        v[p] = inside[p] ? to_float(row[iw * s.C]) : 0.0f;
      }
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int bb = 0; bb < K; ++bb)
          if (inside[u * S + bb]) acc[u] = fmaf(to_float(w[oc * K * K + a * K + bb]), v[u * S + bb], acc[u]);
    }
    const float bias = b ? to_float(b[oc]) : 0.0f;
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (ow0 + u < s.Wo) y[((n * s.Ho + oh) * s.Wo + ow0 + u) * CM + oc] = from_float<T>(activate(acc[u] + bias, act));
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    forward_direct(DepthwiseShape s, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                   int act, T* __restrict__ y, int64_t total) {
  const int64_t CM = s.C * s.M, kk = s.kh * s.kw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t n, oc, oh, ow, rest;
    if (s.layout == Layout::NCHW) {
      ow = i % s.Wo, rest = i / s.Wo, oh = rest % s.Ho, rest /= s.Ho, oc = rest % CM, n = rest / CM;
    } else {
      oc = i % CM, rest = i / CM, ow = rest % s.Wo, rest /= s.Wo, oh = rest % s.Ho, n = rest / s.Ho;
    }
    const int64_t c = oc / s.M;
    float acc = 0.0f;
    for (int64_t a = 0; a < s.kh; ++a) {
      const int64_t ih = oh * s.stride_h - s.pad_top + a * s.dilation_h;
      if (ih < 0 || ih >= s.H) continue;
      for (int64_t bb = 0; bb < s.kw; ++bb) {
        const int64_t iw = ow * s.stride_w - s.pad_left + bb * s.dilation_w;
        if (iw < 0 || iw >= s.W) continue;
        acc = fmaf(to_float(w[oc * kk + a * s.kw + bb]), to_float(x[dense_offset(s.layout, n, c, ih, iw, s.C, s.H, s.W)]),
                   acc);
      }
    }
    y[i] = from_float<T>(activate(acc + (b ? to_float(b[oc]) : 0.0f), act));
  }
}

template <class T, int K, int S>
void launch_fast_forward(const DepthwiseShape& s, const T* x, const T* w, const T* b, int act, T* y,
                         cudaStream_t stream) {
  const int64_t CM = s.C * s.M;
  if (s.layout == Layout::NCHW) {
    const int64_t tiles_w = (s.Wo + kTileW - 1) / kTileW, tiles_h = (s.Ho + kTileH - 1) / kTileH;
    OPZOO_LAUNCH(unsigned(tiles_w * tiles_h * s.N * CM), kThreads, 0, stream, forward_nchw_tiled<T, K, S>)(
        s, x, w, b, act, y, tiles_w, tiles_h);
    check_launch("depthwise forward (NCHW tiles)");
  } else {
    const int64_t groups = (s.Wo + kPixelsPerThread - 1) / kPixelsPerThread, total = s.N * s.Ho * groups * CM;
    OPZOO_LAUNCH(unsigned(blocks_for(total)), kThreads, 0, stream, forward_nhwc_pixels<T, K, S>)(
        s, x, w, b, act, y, groups, total);
    check_launch("depthwise forward (NHWC pixels)");
  }
}

template <class T>
void forward_typed(const DepthwiseShape& s, const T* x, const T* w, const T* b, int act, T* y, cudaStream_t stream) {
  const int64_t CM = s.C * s.M, total = s.N * CM * s.Ho * s.Wo;
  if (total == 0) return;
  const bool square = s.kh == s.kw && s.stride_h == s.stride_w && s.dilation_h == 1 && s.dilation_w == 1;
  // NCHW tiles are counted in one grid dimension: planes beyond its range run the direct kernel.
  const int64_t tiles = ((s.Wo + kTileW - 1) / kTileW) * ((s.Ho + kTileH - 1) / kTileH) * s.N * CM;
  const bool fits = s.layout == Layout::NHWC || tiles <= int64_t(0x7fffffff);
  if (square && fits && (s.stride_h == 1 || s.stride_h == 2) && (s.kh == 3 || s.kh == 5)) {
    if (s.kh == 3)
      return s.stride_h == 1 ? launch_fast_forward<T, 3, 1>(s, x, w, b, act, y, stream)
                             : launch_fast_forward<T, 3, 2>(s, x, w, b, act, y, stream);
    return s.stride_h == 1 ? launch_fast_forward<T, 5, 1>(s, x, w, b, act, y, stream)
                           : launch_fast_forward<T, 5, 2>(s, x, w, b, act, y, stream);
  }
  OPZOO_LAUNCH(unsigned(blocks_for(total)), kThreads, 0, stream, forward_direct<T>)(s, x, w, b, act, y, total);
  check_launch("depthwise forward");
}

// ---------------------------------------------------------------------------------
// Backward.

// grad_x[n, c, ih, iw] = sum over m, a, b of grad_y[n, c*M + m, oh, ow] * w[c*M + m, a, b]
// where ih = oh * sh - pad_top + a * dh (and likewise for columns).
template <class T>
__global__ void __launch_bounds__(kThreads)
    backward_input_gather(DepthwiseShape s, const T* __restrict__ gy, const T* __restrict__ w, T* __restrict__ gx,
                          int64_t total) {
  const int64_t CM = s.C * s.M, kk = s.kh * s.kw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t n, c, ih, iw, rest;
    if (s.layout == Layout::NCHW) {
      iw = i % s.W, rest = i / s.W, ih = rest % s.H, rest /= s.H, c = rest % s.C, n = rest / s.C;
    } else {
      c = i % s.C, rest = i / s.C, iw = rest % s.W, rest /= s.W, ih = rest % s.H, n = rest / s.H;
    }
    float acc = 0.0f;
    for (int64_t m = 0; m < s.M; ++m) {
      const int64_t oc = c * s.M + m;
      for (int64_t a = 0; a < s.kh; ++a) {
        const int64_t rh = ih + s.pad_top - a * s.dilation_h;
        if (rh < 0 || rh % s.stride_h) continue;
        const int64_t oh = rh / s.stride_h;
        if (oh >= s.Ho) continue;
        for (int64_t bb = 0; bb < s.kw; ++bb) {
          const int64_t rw = iw + s.pad_left - bb * s.dilation_w;
          if (rw < 0 || rw % s.stride_w) continue;
          const int64_t ow = rw / s.stride_w;
          if (ow >= s.Wo) continue;
          acc = fmaf(to_float(gy[dense_offset(s.layout, n, oc, oh, ow, CM, s.Ho, s.Wo)]), to_float(w[oc * kk + a * s.kw + bb]),
                     acc);
        }
      }
    }
    gx[i] = from_float<T>(acc);
  }
}

// Taps a thread accumulates at once in grad_weight; larger kernels take several passes.
constexpr int kTapsPerPass = 25;

// One block per output channel: thread t sums positions t, t + 256, ... of
// (n, oh, ow) for every tap, then each tap's partial sums are added in a tree.
template <class T>
__global__ void __launch_bounds__(kThreads)
    backward_weight_reduce(DepthwiseShape s, const T* __restrict__ gy, const T* __restrict__ x, T* __restrict__ gw,
                           T* __restrict__ gb) {
  __shared__ float shared[kThreads];
  const int64_t CM = s.C * s.M, kk = s.kh * s.kw, oc = blockIdx.x, c = oc / s.M;
  const int64_t positions = s.N * s.Ho * s.Wo;
  for (int64_t t0 = 0; t0 < kk; t0 += kTapsPerPass) {
    const int taps = int(kk - t0 < kTapsPerPass ? kk - t0 : kTapsPerPass);
    float acc[kTapsPerPass];
#pragma unroll
    for (int t = 0; t < kTapsPerPass; ++t) acc[t] = 0.0f;
    float acc_bias = 0.0f;
    for (int64_t p = threadIdx.x; p < positions; p += kThreads) {
      const int64_t ow = p % s.Wo, rest = p / s.Wo, oh = rest % s.Ho, n = rest / s.Ho;
      const float g = to_float(gy[dense_offset(s.layout, n, oc, oh, ow, CM, s.Ho, s.Wo)]);
      acc_bias += g;
#pragma unroll
      for (int t = 0; t < kTapsPerPass; ++t) {
        if (t >= taps) break;
        const int64_t tap = t0 + t, a = tap / s.kw, bb = tap % s.kw;
        const int64_t ih = oh * s.stride_h - s.pad_top + a * s.dilation_h;
        const int64_t iw = ow * s.stride_w - s.pad_left + bb * s.dilation_w;
        if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W)
          acc[t] = fmaf(g, to_float(x[dense_offset(s.layout, n, c, ih, iw, s.C, s.H, s.W)]), acc[t]);
      }
    }
    for (int t = 0; t < taps; ++t) {
      const float total = block_sum(acc[t], shared);
      if (threadIdx.x == 0) gw[oc * kk + t0 + t] = from_float<T>(total);
    }
    if (t0 == 0 && gb) {
      const float total = block_sum(acc_bias, shared);
      if (threadIdx.x == 0) gb[oc] = from_float<T>(total);
    }
  }
}

}  // namespace

void depthwise_forward(const DepthwiseShape& s, DType dtype, const void* x, const void* w, const void* b,
                       Activation act, void* y, cudaStream_t stream) {
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    forward_typed<T>(s, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(b), int(act),
                     static_cast<T*>(y), stream);
  });
}

void depthwise_backward_input(const DepthwiseShape& s, DType dtype, const void* grad_y, const void* w,
                              void* grad_x, cudaStream_t stream) {
  const int64_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    OPZOO_LAUNCH(unsigned(blocks_for(total)), kThreads, 0, stream, backward_input_gather<T>)(
        s, static_cast<const T*>(grad_y), static_cast<const T*>(w), static_cast<T*>(grad_x), total);
    check_launch("depthwise backward (input)");
  });
}

void depthwise_backward_weight(const DepthwiseShape& s, DType dtype, const void* grad_y, const void* x,
                               void* grad_w, void* grad_b, cudaStream_t stream) {
  const int64_t CM = s.C * s.M;
  if (CM == 0) return;
  if (CM > int64_t(0x7fffffff)) throw std::invalid_argument("opzoo CUDA: more than 2^31 - 1 output channels");
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    OPZOO_LAUNCH(unsigned(CM), kThreads, 0, stream, backward_weight_reduce<T>)(
        s, static_cast<const T*>(grad_y), static_cast<const T*>(x), static_cast<T*>(grad_w), static_cast<T*>(grad_b));
    check_launch("depthwise backward (weight)");
  });
}

}  // namespace opzoo::cuda

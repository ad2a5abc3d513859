// Squeeze-excite kernels over a vector type V, compiled once per ISA by
// squeeze_excite_{scalar,avx2,avx512}.cpp (arm/squeeze_excite_neon.cpp).
//
// Forward: (1) channel sums per image; NHWC splits an image's pixels into chunks that
// depend on the shape alone, each summed in pixel order into its own partial row, the
// partial rows then added in chunk order; NCHW sums each plane in vector lanes added
// lane by lane at the end. (2) The gate of each image from its means: two small matrix
// products, rows dotted in lanes. (3) y = x * gate, a pass in the same chunks. The
// backward takes one pass for the sums of x and of grad_y * x, the chain rule per image,
// parameter gradients summed over the images in order, and one pass for grad_x.
#pragma once

#include <vector>

#include "activations.h"
#include "kernel_common.h"
#include "opzoo/squeeze_excite.h"
#include "simd/scalar.h"
#include "spans.h"

namespace opzoo::cpu {
namespace {

// Elements per task of the passes over x.
constexpr int64_t kSeChunk = 16384;
// NHWC: at most this many pixel chunks per image (partial rows of C sums each).
constexpr int64_t kSeMaxChunks = 64;

// How the passes over one image's pixels are split: `chunks` tasks of `pixels` pixels
// (NHWC), or one task per plane (NCHW).
struct SePasses {
  int64_t P;       // pixels per image
  int64_t chunks;  // per image (NHWC); 1 for NCHW
  int64_t pixels;  // per chunk (NHWC)
};

inline SePasses se_passes(const SqueezeExciteShape& s) {
  SePasses p;
  p.P = s.H * s.W;
  p.chunks = 1;
  p.pixels = p.P;
  if (s.layout == Layout::NHWC && p.P > 0 && s.C > 0) {
    const int64_t wanted = min64(kSeMaxChunks, max64(1, ceil_div(p.P * s.C, kSeChunk)));
    p.pixels = ceil_div(p.P, wanted);
    p.chunks = ceil_div(p.P, p.pixels);
  }
  return p;
}

// Zeroed scratch, allocated before the parallel regions that use it (where a failure
// can still be thrown to the caller).
template <class T>
std::vector<T> se_buffer(int64_t n) {
  return std::vector<T>(size_t(n), T(0));
}

// sums[n * C + c] = sum over image n's pixels of x (and, with grad_y, grad_sums of
// grad_y * x), in an order fixed by the shape.
template <class V>
void se_channel_sums(const SqueezeExciteShape& s, const SePasses& p, const typename V::value_type* x,
                     const typename V::value_type* grad_y, typename V::value_type* sums,
                     typename V::value_type* grad_sums) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t C = s.C;
  if (s.layout == Layout::NCHW) {
    parallel_for(s.N * C, threads_for(s.N * C), [&](int64_t plane, int) {
      const T* xp = x + plane * p.P;
      const T* gp = grad_y ? grad_y + plane * p.P : nullptr;
      R acc = V::zero(), gacc = V::zero();
      for (int64_t i = 0; i < p.P; i += Wd) {
        const int64_t lanes = min64(Wd, p.P - i);
        const R xv = load_inputs<V>(xp + i, lanes);
        acc = V::add(acc, xv);
        if (gp) gacc = V::add(gacc, V::mul(load_inputs<V>(gp + i, lanes), xv));
      }
      sums[plane] = V::hsum(acc);
      if (gp) grad_sums[plane] = V::hsum(gacc);
    });
    return;
  }
  const int64_t tasks = s.N * p.chunks;
  std::vector<T> partial = se_buffer<T>(tasks * C), grad_partial = se_buffer<T>(grad_y ? tasks * C : 0);
  parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
    const int64_t n = task / p.chunks, p0 = task % p.chunks * p.pixels, p1 = min64(p.P, p0 + p.pixels);
    for (int64_t c0 = 0; c0 < C; c0 += Wd) {
      const int64_t lanes = min64(Wd, C - c0);
      R acc = V::zero(), gacc = V::zero();
      for (int64_t px = p0; px < p1; ++px) {
        const int64_t off = ((n * p.P) + px) * C + c0;
        const R xv = load_inputs<V>(x + off, lanes);
        acc = V::add(acc, xv);
        if (grad_y) gacc = V::add(gacc, V::mul(load_inputs<V>(grad_y + off, lanes), xv));
      }
      store_outputs<V>(partial.data() + task * C + c0, acc, lanes);
      if (grad_y) store_outputs<V>(grad_partial.data() + task * C + c0, gacc, lanes);
    }
  });
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      T total = T(0), grad_total = T(0);
      for (int64_t k = 0; k < p.chunks; ++k) {
        total += partial[size_t((n * p.chunks + k) * C + c)];
        if (grad_y) grad_total += grad_partial[size_t((n * p.chunks + k) * C + c)];
      }
      sums[n * C + c] = total;
      if (grad_y) grad_sums[n * C + c] = grad_total;
    }
}

// sum_i a[i] * b[i * stride], i < n: lanes when stride == 1, added lane by lane at the end.
template <class V>
typename V::value_type se_dot(const typename V::value_type* a, const typename V::value_type* b, int64_t n,
                              int64_t stride) {
  using T = typename V::value_type;
  if (stride != 1) {
    T acc = T(0);
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i * stride];
    return acc;
  }
  return dot_span<V>(a, b, n);
}

template <class T>
T se_scalar(Activation act, T v) {
  return activate<ScalarVec<T>>(act, v);
}

template <class T>
T se_slope(Activation act, T v) {
  return activation_slope<ScalarVec<T>>(act, v);
}

// One image's squeeze and excitation from its channel sums: means (C), z1 and h (R),
// z2 and the gate (C).
template <class V>
void se_gate(const SqueezeExciteShape& s, const SePasses& p, const typename V::value_type* sums,
             const typename V::value_type* w_reduce, const typename V::value_type* b_reduce,
             const typename V::value_type* w_expand, const typename V::value_type* b_expand, Activation act,
             typename V::value_type* mean, typename V::value_type* z1, typename V::value_type* h,
             typename V::value_type* z2, typename V::value_type* gate) {
  using T = typename V::value_type;
  const T inv = T(1) / T(p.P);
  for (int64_t c = 0; c < s.C; ++c) mean[c] = sums[c] * inv;
  for (int64_t r = 0; r < s.R; ++r) {
    z1[r] = se_dot<V>(w_reduce + r * s.C, mean, s.C, 1) + (b_reduce ? b_reduce[r] : T(0));
    h[r] = se_scalar(act, z1[r]);
  }
  for (int64_t c = 0; c < s.C; ++c) {
    z2[c] = se_dot<V>(w_expand + c * s.R, h, s.R, 1) + (b_expand ? b_expand[c] : T(0));
    gate[c] = se_scalar(Activation::sigmoid, z2[c]);
  }
}

// out = a * gate (+ add[c] when given), the gate (and add) per image and channel.
template <class V>
void se_scale(const SqueezeExciteShape& s, const SePasses& p, const typename V::value_type* a,
              const typename V::value_type* gate, const typename V::value_type* add, typename V::value_type* out) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t C = s.C;
  if (s.layout == Layout::NCHW) {
    parallel_for(s.N * C, threads_for(s.N * C), [&](int64_t plane, int) {
      const R g = V::set1(gate[plane]), b = V::set1(add ? add[plane] : T(0));
      const T* ap = a + plane * p.P;
      T* op = out + plane * p.P;
      for (int64_t i = 0; i < p.P; i += Wd) {
        const int64_t lanes = min64(Wd, p.P - i);
        const R v = V::mul(load_inputs<V>(ap + i, lanes), g);
        store_outputs<V>(op + i, add ? V::add(v, b) : v, lanes);
      }
    });
    return;
  }
  const int64_t tasks = s.N * p.chunks;
  parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
    const int64_t n = task / p.chunks, p0 = task % p.chunks * p.pixels, p1 = min64(p.P, p0 + p.pixels);
    for (int64_t px = p0; px < p1; ++px)
      for (int64_t c0 = 0; c0 < C; c0 += Wd) {
        const int64_t lanes = min64(Wd, C - c0), off = (n * p.P + px) * C + c0;
        const R v = V::mul(load_inputs<V>(a + off, lanes), load_inputs<V>(gate + n * C + c0, lanes));
        store_outputs<V>(out + off, add ? V::add(v, load_inputs<V>(add + n * C + c0, lanes)) : v, lanes);
      }
  });
}

template <class V>
void se_forward(const SqueezeExciteShape& s, const typename V::value_type* x, const typename V::value_type* w_reduce,
                const typename V::value_type* b_reduce, const typename V::value_type* w_expand,
                const typename V::value_type* b_expand, Activation act, typename V::value_type* y) {
  using T = typename V::value_type;
  const SePasses p = se_passes(s);
  if (s.N == 0 || s.C == 0 || p.P == 0) return;
  const int64_t NC = s.N * s.C, NR = s.N * s.R;
  std::vector<T> sums = se_buffer<T>(NC), gate = se_buffer<T>(NC), mean = se_buffer<T>(NC), z2 = se_buffer<T>(NC);
  std::vector<T> z1 = se_buffer<T>(NR), h = se_buffer<T>(NR);
  se_channel_sums<V>(s, p, x, nullptr, sums.data(), nullptr);
  parallel_for(s.N, threads_for(s.N), [&](int64_t n, int) {
    const int64_t c0 = n * s.C, r0 = n * s.R;
    se_gate<V>(s, p, sums.data() + c0, w_reduce, b_reduce, w_expand, b_expand, act, mean.data() + c0, z1.data() + r0,
               h.data() + r0, z2.data() + c0, gate.data() + c0);
  });
  se_scale<V>(s, p, x, gate.data(), nullptr, y);
}

// out[i * cols + j] = sum_n a[n * rows + i] * b[n * cols + j] and sums[i] = sum_n
// a[n * rows + i], the images n in order; one task per row i.
template <class T>
void se_image_sums(int64_t N, int64_t rows, int64_t cols, const T* a, const T* b, T* out, T* sums) {
  parallel_for(rows, threads_for(rows), [&](int64_t i, int) {
    for (int64_t j = 0; j < cols; ++j) {
      T acc = T(0);
      for (int64_t n = 0; n < N; ++n) acc += a[n * rows + i] * b[n * cols + j];
      out[i * cols + j] = acc;
    }
    T acc = T(0);
    for (int64_t n = 0; n < N; ++n) acc += a[n * rows + i];
    sums[i] = acc;
  });
}

template <class V>
void se_backward(const SqueezeExciteShape& s, const typename V::value_type* grad_y, const typename V::value_type* x,
                 const typename V::value_type* w_reduce, const typename V::value_type* b_reduce,
                 const typename V::value_type* w_expand, const typename V::value_type* b_expand, Activation act,
                 typename V::value_type* grad_x, typename V::value_type* grad_w_reduce,
                 typename V::value_type* grad_b_reduce, typename V::value_type* grad_w_expand,
                 typename V::value_type* grad_b_expand) {
  using T = typename V::value_type;
  const SePasses p = se_passes(s);
  const int64_t N = s.N, C = s.C, R = s.R;
  std::vector<T> sums = se_buffer<T>(N * C), grad_sums = se_buffer<T>(N * C);
  // Per image: the gate, the means and h (for the weight gradients), dz2 (C), dz1 (R),
  // and the mean's gradient spread over the pixels, ds / P (C).
  std::vector<T> gate = se_buffer<T>(N * C), mean = se_buffer<T>(N * C), h = se_buffer<T>(N * R);
  std::vector<T> dz2 = se_buffer<T>(N * C), dz1 = se_buffer<T>(N * R), spread = se_buffer<T>(N * C);
  std::vector<T> z1 = se_buffer<T>(N * R), z2 = se_buffer<T>(N * C);
  // No pixels (P == 0): the sums stay 0 and the means are 0 / 0, NaN, as torch's and NumPy's.
  if (N > 0 && C > 0 && p.P > 0) se_channel_sums<V>(s, p, x, grad_y, sums.data(), grad_sums.data());
  parallel_for(N, threads_for(N), [&](int64_t n, int) {
    T* g = gate.data() + n * C;
    const T* zr = z1.data() + n * R;
    const T* ze = z2.data() + n * C;
    se_gate<V>(s, p, sums.data() + n * C, w_reduce, b_reduce, w_expand, b_expand, act, mean.data() + n * C,
               z1.data() + n * R, h.data() + n * R, z2.data() + n * C, g);
    T* d2 = dz2.data() + n * C;
    for (int64_t c = 0; c < C; ++c) d2[c] = grad_sums[size_t(n * C + c)] * se_slope(Activation::sigmoid, ze[c]);
    T* d1 = dz1.data() + n * R;
    for (int64_t r = 0; r < R; ++r) d1[r] = se_dot<V>(d2, w_expand + r, C, R) * se_slope(act, zr[r]);
    const T inv = T(1) / T(p.P);
    for (int64_t c = 0; c < C; ++c) spread[size_t(n * C + c)] = se_dot<V>(d1, w_reduce + c, R, C) * inv;
  });
  if (grad_x && N > 0 && C > 0 && p.P > 0) se_scale<V>(s, p, grad_y, gate.data(), spread.data(), grad_x);
  if (!grad_w_reduce) return;
  // Parameter gradients: sums over the images in image order.
  se_image_sums(N, C, R, dz2.data(), h.data(), grad_w_expand, grad_b_expand);
  se_image_sums(N, R, C, dz1.data(), mean.data(), grad_w_reduce, grad_b_reduce);
}

template <class V>
constexpr SqueezeExciteKernels<typename V::value_type> squeeze_excite_kernels() {
  return {se_forward<V>, se_backward<V>};
}

}  // namespace
}  // namespace opzoo::cpu

// Loops over contiguous spans of elements that kernels of every family share, over a
// vector type V: fills, copies, partial stores, activation in place, and the register
// transpose of a small matrix. Internal linkage (kernel_common.h says why).
#pragma once

#include <cstdint>

#include "activations.h"
#include "kernel_common.h"

namespace opzoo::cpu {
namespace {

// Inline fills and copies: the rows of small planes are too short to pay for a libc call.
template <class V>
void zero_span(typename V::value_type* p, int64_t n) {
  int64_t i = 0;
  for (; i + V::width <= n; i += V::width) V::store(p + i, V::zero());
  if (i < n) V::store_n(p + i, V::zero(), int(n - i));
}

template <class V>
void copy_span(typename V::value_type* dst, const typename V::value_type* src, int64_t n) {
  int64_t i = 0;
  for (; i + V::width <= n; i += V::width) V::store(dst + i, V::load(src + i));
  if (i < n) V::store_n(dst + i, V::load_n(src + i, int(n - i)), int(n - i));
}

// copy_span with the whole 64-byte lines of dst written by streaming stores, past the
// caches (V::streaming_stores); the partial lines at either end, which the neighbouring
// spans share, by plain ones.
template <class V>
void copy_span_streaming(typename V::value_type* dst, const typename V::value_type* src, int64_t n) {
  using T = typename V::value_type;
  constexpr int64_t line = 64 / int64_t(sizeof(T));
  static_assert(line % V::width == 0, "vectors tile a line");
  const int64_t head = min64(n, int64_t(-reinterpret_cast<uintptr_t>(dst) % 64) / int64_t(sizeof(T)));
  copy_span<V>(dst, src, head);
  int64_t i = head;
  for (; i + line <= n; i += line)
    for (int64_t j = 0; j < line; j += V::width) V::store_streaming(dst + i + j, V::load(src + i + j));
  copy_span<V>(dst + i, src + i, n - i);
}

// Stores the first `count` lanes of v (all of them when count >= width).
// The first min(count, width) elements at src (count > 0), the other lanes zero.
template <class V>
typename V::reg load_inputs(const typename V::value_type* src, int64_t count) {
  return count >= V::width ? V::load(src) : V::load_n(src, int(count));
}

template <class V>
void store_outputs(typename V::value_type* dst, typename V::reg v, int64_t count) {
  if (count >= V::width)
    V::store(dst, v);
  else if (count > 0)
    V::store_n(dst, v, int(count));
}

// Applies `act` in place to `count` contiguous outputs, right after a kernel wrote them.
template <class V>
void activate_span(Activation act, typename V::value_type* p, int64_t count) {
  if (act == Activation::none) return;
  int64_t i = 0;
  for (; i + V::width <= count; i += V::width) V::store(p + i, activate<V>(act, V::load(p + i)));
  if (i < count) V::store_n(p + i, activate<V>(act, V::load_n(p + i, int(count - i))), int(count - i));
}

// sum of a[i] * b[i] over i < n, in vector lanes, added lane by lane at the end.
template <class V>
typename V::value_type dot_span(const typename V::value_type* a, const typename V::value_type* b, int64_t n) {
  typename V::reg acc = V::zero();
  for (int64_t i = 0; i < n; i += V::width) {
    const int64_t lanes = n - i < V::width ? n - i : V::width;
    acc = V::fma(load_inputs<V>(a + i, lanes), load_inputs<V>(b + i, lanes), acc);
  }
  return V::hsum(acc);
}

template <class V, bool Full>
typename V::reg load_lanes(const typename V::value_type* p, int lanes) {
  if constexpr (Full) return V::load(p);
  else return V::load_n(p, lanes);
}

// Outputs of this many bytes and more are worth writing with streaming stores (whole
// 64-byte lines, past the caches): an output this large leaves the caches before its
// reader comes, and a plain store reads each line from memory before writing it, half as
// much again as the traffic of a kernel whose output is the size of its input.
constexpr int64_t kStreamOutputBytes = int64_t(8) << 20;

// Stores a whole vector, past the caches where `stream` and V has streaming stores.
template <class V>
void store_vector(typename V::value_type* p, typename V::reg v, bool stream) {
  if constexpr (V::streaming_stores)
    if (stream) {
      V::store_streaming(p, v);
      return;
    }
  V::store(p, v);
}

template <class V, bool Full>
void store_lanes(typename V::value_type* p, typename V::reg v, int lanes) {
  if constexpr (Full) V::store(p, v);
  else V::store_n(p, v, lanes);
}

// src (rows, cols) -> dst (cols, rows), dst's rows dst_stride elements apart, by
// register transposes of width x width tiles: for packing weights (channels, taps) tap
// major, so one vector load serves consecutive channels.
template <class V>
void transpose_into(const typename V::value_type* src, int64_t rows, int64_t cols, typename V::value_type* dst,
                    int64_t dst_stride) {
  constexpr int Wd = V::width;
  for (int64_t r0 = 0; r0 < rows; r0 += Wd) {
    const int lanes = int(min64(Wd, rows - r0));
    for (int64_t c0 = 0; c0 < cols; c0 += Wd) {
      const int count = int(min64(Wd, cols - c0));
      typename V::reg r[Wd];
      for (int l = 0; l < Wd; ++l) r[l] = l < lanes ? V::load_n(src + (r0 + l) * cols + c0, count) : V::zero();
      V::transpose(r);
      for (int j = 0; j < count; ++j) V::store_n(dst + (c0 + j) * dst_stride + r0, r[j], lanes);
    }
  }
}

}  // namespace
}  // namespace opzoo::cpu

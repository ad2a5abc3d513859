// Corner and center pooling kernels over a vector type V, compiled once per ISA by
// corner_pool_{scalar,avx2,avx512}.cpp (arm/corner_pool_neon.cpp).
//
// A running maximum along the contiguous axis would be a serial chain per row; along
// the other axis the lanes are independent. So every scan keeps its running maxima in
// registers across the lanes of the contiguous axis: NCHW's vertical scans walk rows of
// W lanes, NHWC's scans of either axis walk pixels of C lanes. NCHW's horizontal scans
// transpose tiles of width x width elements (V::transpose), scan the columns of the tile
// as rows, and transpose back. A pair (corner pooling's two branches) runs in one pass:
// per group of rows, the horizontal scan of b into a small buffer, then the vertical
// scan of a over the group, adding the two as it stores.
//
// The backward passes run each line (a column or a row, lanes side by side) twice: the
// running maximum forward, stored where the gradient goes, then the sums of grad_out
// backward, each written at the arg-max that collects it. Every sum runs in a fixed order.
#pragma once

#include <limits>

#include "bands.h"
#include "kernel_common.h"
#include "opzoo/corner_pool.h"
#include "simd/scalar.h"
#include "spans.h"

namespace opzoo::cpu {
namespace {

// max(m, x), NaN where either is: V::max(m, x) is x where either is NaN, so m's own NaN
// is kept by the select (m <= m fails only for NaN).
template <class V>
typename V::reg max_nan(typename V::reg m, typename V::reg x) {
  return V::select_le(m, m, V::max(m, x), m);
}

// `when` where x == m for the running maximum m >= x (or x is NaN), else `other`.
template <class V>
typename V::reg where_max(typename V::reg x, typename V::reg m, typename V::reg when, typename V::reg other) {
  return V::select_le(x, x, V::select_le(m, x, when, other), when);
}

template <class T>
T lowest() {
  return -std::numeric_limits<T>::infinity();
}

// Channels per block of the NHWC scans: a 64-byte line (at least one vector), so that
// blocks never share a line.
template <class V>
constexpr int line_vectors() {
  constexpr int per_line = int(64 / sizeof(typename V::value_type)) / V::width;
  return per_line > 0 ? per_line : 1;
}

// ---- NCHW: planes of H rows of W contiguous elements ----------------------------------

// dst rows = the horizontal scan (left: from the right end; right: from the left) of
// `rows` rows of src (both with row stride W), rows <= V::width. A full group of rows
// runs through tiles; a short group, and the columns the tiles leave, one row at a time.
template <class V>
void hscan_rows(const typename V::value_type* src, typename V::value_type* dst, int64_t W, int64_t dst_stride,
                int64_t rows, bool from_right) {
  using T = typename V::value_type;
  using S = ScalarVec<T>;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  T carry[Wd];
  for (int r = 0; r < Wd; ++r) carry[r] = lowest<T>();
  const int64_t tiles = rows == Wd ? W / Wd : 0;
  if (tiles > 0) {
    R m = V::set1(lowest<T>());
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t j0 = from_right ? W - (t + 1) * Wd : t * Wd;
      R r[Wd];
      for (int k = 0; k < Wd; ++k) r[k] = V::load(src + k * W + j0);
      V::transpose(r);
      if (from_right)
        for (int k = Wd - 1; k >= 0; --k) r[k] = m = max_nan<V>(m, r[k]);
      else
        for (int k = 0; k < Wd; ++k) r[k] = m = max_nan<V>(m, r[k]);
      V::transpose(r);
      for (int k = 0; k < Wd; ++k) V::store(dst + k * dst_stride + j0, r[k]);
    }
    V::store(carry, m);
  }
  const int64_t done = tiles * Wd;  // columns the tiles covered, at the scan's start
  for (int64_t k = 0; k < rows; ++k) {
    const T* s = src + k * W;
    T* d = dst + k * dst_stride;
    T m = carry[k];
    if (from_right)
      for (int64_t j = W - done - 1; j >= 0; --j) d[j] = m = max_nan<S>(m, s[j]);
    else
      for (int64_t j = done; j < W; ++j) d[j] = m = max_nan<S>(m, s[j]);
  }
}

// out = the vertical pool of a over plane rows rows[0..count) in scan order, the column
// maxima carried in cm, plus h (the horizontal pool of those rows, plane row r at
// h + (r - first) * W) when h is given.
template <class V>
void vscan_group(const typename V::value_type* a, const typename V::value_type* h, int64_t first,
                 typename V::value_type* cm, typename V::value_type* out, int64_t W, const int64_t* rows,
                 int64_t count, bool stream) {
  using R = typename V::reg;
  constexpr int Wd = V::width, NV = line_vectors<V>();
  // A line of columns at a time, so that a streamed row is written in whole lines.
  for (int64_t j = 0; j < W; j += NV * Wd) {
    R m[NV];
    for (int v = 0; v < NV; ++v)
      if (j + v * Wd < W) m[v] = load_inputs<V>(cm + j + v * Wd, W - j - v * Wd);
    for (int64_t k = 0; k < count; ++k) {
      for (int v = 0; v < NV; ++v) {
        const int64_t jv = j + v * Wd, lanes = W - jv;
        if (lanes <= 0) break;
        const int64_t off = rows[k] * W + jv;
        m[v] = max_nan<V>(m[v], load_inputs<V>(a + off, lanes));
        const R o = h ? V::add(m[v], load_inputs<V>(h + (rows[k] - first) * W + jv, lanes)) : m[v];
        if (lanes >= Wd) store_vector<V>(out + off, o, stream);
        else store_outputs<V>(out + off, o, lanes);
      }
    }
    for (int v = 0; v < NV; ++v)
      if (j + v * Wd < W) store_outputs<V>(cm + j + v * Wd, m[v], W - j - v * Wd);
  }
}

template <class V>
void corner_nchw(const CornerPoolShape& s, const typename V::value_type* a, PoolDirection vertical,
                 const typename V::value_type* b, PoolDirection horizontal, typename V::value_type* out) {
  using T = typename V::value_type;
  constexpr int Wd = V::width;
  const int64_t H = s.H, W = s.W, planes = s.N * s.C, P = H * W;
  const bool upward = vertical == PoolDirection::top, from_right = horizontal == PoolDirection::left;
  const int threads = threads_for(planes);
  // Per thread: the running column maxima (W) and, for a pair, the horizontal pool of
  // one group of rows (Wd x W).
  ThreadScratch<T> scratch(W + (a && b ? Wd * W : 0), threads);
  const bool stream = V::streaming_stores && reinterpret_cast<uintptr_t>(out) % 64 == 0 &&
                      W * int64_t(sizeof(T)) % 64 == 0 && planes * P * int64_t(sizeof(T)) >= kStreamOutputBytes;
  parallel_for(planes, threads, [&](int64_t plane, int thread) {
    const T* ap = a ? a + plane * P : nullptr;
    const T* bp = b ? b + plane * P : nullptr;
    T* op = out + plane * P;
    T* cm = scratch.get(thread);
    T* hbuf = cm + W;
    if (!ap) {  // the horizontal pool alone, straight into out
      for (int64_t i = 0; i < H; i += Wd) hscan_rows<V>(bp + i * W, op + i * W, W, W, min64(Wd, H - i), from_right);
      return;
    }
    for (int64_t j = 0; j < W; ++j) cm[j] = lowest<T>();
    // Groups of rows in the vertical scan's order: group g starts at plane row first(g).
    const auto first = [&](int64_t g) { return upward ? max64(H - g - Wd, 0) : g; };
    for (int64_t g = 0; g < H; g += Wd) {
      const int64_t count = min64(Wd, H - g), row0 = first(g);
      // The next group's rows, or the next plane's first, are on their way meanwhile.
      const int64_t next = g + Wd < H ? first(g + Wd) * W : P + first(0) * W;
      const int64_t next_bytes = min64(Wd, g + Wd < H ? H - g - Wd : H) * W * int64_t(sizeof(T));
      prefetch_lines<2>(ap, next_bytes, next * int64_t(sizeof(T)));
      if (bp) prefetch_lines<2>(bp, next_bytes, next * int64_t(sizeof(T)));
      int64_t rows[Wd];
      for (int64_t k = 0; k < count; ++k) rows[k] = upward ? row0 + count - 1 - k : row0 + k;
      if (bp) hscan_rows<V>(bp + row0 * W, hbuf, W, W, count, from_right);
      vscan_group<V>(ap, bp ? hbuf : nullptr, row0, cm, op, W, rows, count, stream);
    }
    if (stream) V::streaming_fence();
  });
}

// dst[k] = the maximum of row k of src (row stride W), k < rows <= V::width. A full group
// reduces its rows side by side, one vector each, and finishes them across lanes with
// one transpose; the columns past the last whole vector, and a short group, go one by one.
template <class V>
void row_maxima(const typename V::value_type* src, int64_t W, int64_t rows, typename V::value_type* dst) {
  using T = typename V::value_type;
  using S = ScalarVec<T>;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t full = rows == Wd ? W / Wd * Wd : 0;
  if (full > 0) {
    R r[Wd];
    for (int k = 0; k < Wd; ++k) r[k] = V::load(src + k * W);
    for (int64_t j = Wd; j < full; j += Wd)
      for (int k = 0; k < Wd; ++k) r[k] = max_nan<V>(r[k], V::load(src + k * W + j));
    V::transpose(r);
    R m = r[0];
    for (int k = 1; k < Wd; ++k) m = max_nan<V>(m, r[k]);
    V::store(dst, m);
  }
  for (int64_t k = 0; k < rows; ++k) {
    T m = full > 0 ? dst[k] : lowest<T>();
    for (int64_t j = full; j < W; ++j) m = max_nan<S>(m, src[k * W + j]);
    dst[k] = m;
  }
}

// out[i, j] = max_k a[k, j] + max_k b[i, k], per plane: the column maxima of a and the
// row maxima of b in one pass over both, then the sums.
template <class V>
void center_nchw(const CornerPoolShape& s, const typename V::value_type* a, const typename V::value_type* b,
                 typename V::value_type* out) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t H = s.H, W = s.W, planes = s.N * s.C, P = H * W;
  const int threads = threads_for(planes);
  ThreadScratch<T> scratch(W + Wd, threads);
  const bool stream = V::streaming_stores && reinterpret_cast<uintptr_t>(out) % 64 == 0 &&
                      W * int64_t(sizeof(T)) % 64 == 0 && planes * P * int64_t(sizeof(T)) >= kStreamOutputBytes;
  parallel_for(planes, threads, [&](int64_t plane, int thread) {
    const T* ap = a + plane * P;
    const T* bp = b + plane * P;
    T* op = out + plane * P;
    T* cm = scratch.get(thread);
    T* rm = cm + W;
    for (int64_t j = 0; j < W; ++j) cm[j] = lowest<T>();
    const int64_t row_bytes = W * int64_t(sizeof(T));
    for (int64_t i = 0; i < H; ++i) {  // a row by row, in memory order, b's rows following
      prefetch_lines<2>(bp + i * W, row_bytes);
      for (int64_t j = 0; j < W; j += Wd)
        store_outputs<V>(cm + j, max_nan<V>(load_inputs<V>(cm + j, W - j), load_inputs<V>(ap + i * W + j, W - j)),
                         W - j);
    }
    // Then a group of rows of b at a time: its row maxima, then those rows of out; the
    // next plane's rows of a following.
    for (int64_t i0 = 0; i0 < H; i0 += Wd) {
      const int64_t rows = min64(Wd, H - i0);
      prefetch_lines<2>(ap, rows * row_bytes, (P + i0 * W) * int64_t(sizeof(T)));
      row_maxima<V>(bp + i0 * W, W, rows, rm);
      for (int64_t i = i0; i < i0 + rows; ++i) {
        const R r = V::set1(rm[i - i0]);
        for (int64_t j = 0; j < W; j += Wd) {
          const R o = V::add(load_inputs<V>(cm + j, W - j), r);
          if (W - j >= Wd) store_vector<V>(op + i * W + j, o, stream);
          else store_outputs<V>(op + i * W + j, o, W - j);
        }
      }
    }
    if (stream) V::streaming_fence();
  });
}

// ---- NHWC: pixels of C contiguous channels ---------------------------------------------

// Tasks of the NHWC kernels: (image, chunk of channels). A chunk is every channel where
// there are images enough for the threads, so that a task reads and writes whole rows of
// pixels, contiguous, as the prefetchers like; else the channels are split in as many
// chunks as threads need, each whole lines.
struct ChannelChunks {
  int64_t width;  // channels per chunk
  int64_t per_image;
};

template <class V>
ChannelChunks channel_chunks(int64_t N, int64_t C) {
  const int64_t line = int64_t(line_vectors<V>()) * V::width;
  const int64_t parts = min64(ceil_div(num_threads(), max64(N, 1)), ceil_div(C, line));
  const int64_t width = round_up(ceil_div(C, max64(parts, 1)), line);
  return {width, ceil_div(C, width)};
}

// Whether the NHWC kernels stream their output: whole aligned lines at every pixel, and
// an output too large to stay in the caches for its reader.
template <class V>
bool nhwc_streams_output(const CornerPoolShape& s, const void* out) {
  using T = typename V::value_type;
  return V::streaming_stores && reinterpret_cast<uintptr_t>(out) % 64 == 0 && s.C * int64_t(sizeof(T)) % 64 == 0 &&
         s.N * s.H * s.W * s.C * int64_t(sizeof(T)) >= kStreamOutputBytes;
}

// The NHWC pair or single pool for one image's chunk of channels [c0, c0 + nc): pixels
// row by row in the vertical scan's order, each row in the horizontal scan's order; the
// running horizontal maxima in hm (one pixel's chunk), the vertical ones in cm (W pixels').
template <class V>
void corner_nhwc_chunk(const CornerPoolShape& s, const typename V::value_type* a, bool upward,
                       const typename V::value_type* b, bool from_right, typename V::value_type* out, int64_t c0,
                       int64_t nc, int64_t width, typename V::value_type* cm, typename V::value_type* hm,
                       bool stream) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t H = s.H, W = s.W, C = s.C;
  if (a)
    for (int64_t k = 0; k < W * width; ++k) cm[k] = lowest<T>();
  for (int64_t r = 0; r < H; ++r) {
    const int64_t i = a && upward ? H - 1 - r : r;
    if (b)
      for (int64_t k = 0; k < width; ++k) hm[k] = lowest<T>();
    for (int64_t q = 0; q < W; ++q) {
      const int64_t j = from_right ? W - 1 - q : q;
      const int64_t base = (i * W + j) * C + c0;
      T* cmj = cm + j * width;
      if (r + 1 < H) {  // the same pixel of the next row, on its way
        const int64_t ahead = ((a && upward ? -1 : 1) * W * C) * int64_t(sizeof(T));
        if (a) prefetch_lines<2>(a + base, nc * int64_t(sizeof(T)), ahead);
        if (b) prefetch_lines<2>(b + base, nc * int64_t(sizeof(T)), ahead);
      }
      for (int64_t c = 0; c < nc; c += Wd) {
        const int64_t lanes = nc - c;
        R o;
        if (b) {
          o = max_nan<V>(V::load(hm + c), load_inputs<V>(b + base + c, lanes));
          V::store(hm + c, o);
        }
        if (a) {
          const R m = max_nan<V>(V::load(cmj + c), load_inputs<V>(a + base + c, lanes));
          V::store(cmj + c, m);
          o = b ? V::add(m, o) : m;
        }
        if (lanes >= Wd) store_vector<V>(out + base + c, o, stream);
        else store_outputs<V>(out + base + c, o, lanes);
      }
    }
  }
}

template <class V>
void corner_nhwc(const CornerPoolShape& s, const typename V::value_type* a, PoolDirection vertical,
                 const typename V::value_type* b, PoolDirection horizontal, typename V::value_type* out) {
  using T = typename V::value_type;
  const ChannelChunks chunks = channel_chunks<V>(s.N, s.C);
  const int64_t tasks = s.N * chunks.per_image, image = s.H * s.W * s.C;
  const int threads = threads_for(tasks);
  const bool stream = nhwc_streams_output<V>(s, out);
  // Per thread: the vertical maxima of a row of pixels, the horizontal ones of one pixel.
  ThreadScratch<T> scratch((s.W + 1) * chunks.width, threads);
  parallel_for(tasks, threads, [&](int64_t task, int thread) {
    const int64_t n = task / chunks.per_image, c0 = task % chunks.per_image * chunks.width;
    const int64_t off = n * image;
    T* cm = scratch.get(thread);
    corner_nhwc_chunk<V>(s, a ? a + off : nullptr, vertical == PoolDirection::top, b ? b + off : nullptr,
                         horizontal == PoolDirection::left, out + off, c0, min64(chunks.width, s.C - c0), chunks.width,
                         cm, cm + s.W * chunks.width, stream);
    if (stream) V::streaming_fence();
  });
}

template <class V>
void center_nhwc(const CornerPoolShape& s, const typename V::value_type* a, const typename V::value_type* b,
                 typename V::value_type* out) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const ChannelChunks chunks = channel_chunks<V>(s.N, s.C);
  const int64_t H = s.H, W = s.W, C = s.C, width = chunks.width, tasks = s.N * chunks.per_image, image = H * W * C;
  const int threads = threads_for(tasks);
  const bool stream = nhwc_streams_output<V>(s, out);
  // Per thread: column maxima (W x chunk) and row maxima (H x chunk).
  ThreadScratch<T> scratch((W + H) * width, threads);
  parallel_for(tasks, threads, [&](int64_t task, int thread) {
    const int64_t n = task / chunks.per_image, c0 = task % chunks.per_image * width;
    const int64_t nc = min64(width, C - c0);
    const T* ap = a + n * image + c0;
    const T* bp = b + n * image + c0;
    T* op = out + n * image + c0;
    T* cm = scratch.get(thread);
    T* rm = cm + W * width;
    for (int64_t k = 0; k < (W + H) * width; ++k) cm[k] = lowest<T>();
    for (int64_t i = 0; i < H; ++i) {
      T* rmi = rm + i * width;
      for (int64_t j = 0; j < W; ++j) {
        const int64_t base = (i * W + j) * C;
        T* cmj = cm + j * width;
        for (int64_t c = 0; c < nc; c += Wd) {
          const int64_t lanes = nc - c;
          V::store(cmj + c, max_nan<V>(V::load(cmj + c), load_inputs<V>(ap + base + c, lanes)));
          V::store(rmi + c, max_nan<V>(V::load(rmi + c), load_inputs<V>(bp + base + c, lanes)));
        }
      }
    }
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        for (int64_t c = 0; c < nc; c += Wd) {
          const R o = V::add(V::load(cm + j * width + c), V::load(rm + i * width + c));
          T* dst = op + (i * W + j) * C + c;
          if (nc - c >= Wd) store_vector<V>(dst, o, stream);
          else store_outputs<V>(dst, o, nc - c);
        }
    if (stream) V::streaming_fence();
  });
}

// ---- Backward: lines of `lanes` contiguous elements, L positions `step` apart ----------

// grad_x of one running maximum: position p's maximum over positions 0..p of the line.
template <class V>
void corner_line_backward(const typename V::value_type* g, const typename V::value_type* x,
                          typename V::value_type* gx, int64_t L, int64_t step, int64_t lanes) {
  using T = typename V::value_type;
  using R = typename V::reg;
  R m = V::set1(lowest<T>());
  for (int64_t p = 0; p < L; ++p) {
    m = max_nan<V>(m, load_inputs<V>(x + p * step, lanes));
    store_outputs<V>(gx + p * step, m, lanes);
  }
  // Position p collects the gradients of the positions whose arg-max it is: itself and
  // those up to the next position that raises (or equals) the maximum.
  R sum = V::zero();
  for (int64_t p = L - 1; p >= 0; --p) {
    const R xv = load_inputs<V>(x + p * step, lanes), mv = load_inputs<V>(gx + p * step, lanes);
    sum = V::add(sum, load_inputs<V>(g + p * step, lanes));
    store_outputs<V>(gx + p * step, where_max<V>(xv, mv, sum, V::zero()), lanes);
    sum = where_max<V>(xv, mv, V::zero(), sum);
  }
}

// grad_x of the maximum over the whole line, as BottomPool(TopPool(x)) routes it: each
// arg-max collects the gradients since the one before it, the last one the rest.
template <class V>
void extent_line_backward(const typename V::value_type* g, const typename V::value_type* x,
                          typename V::value_type* gx, int64_t L, int64_t step, int64_t lanes) {
  using T = typename V::value_type;
  using R = typename V::reg;
  R m = V::set1(lowest<T>());
  for (int64_t p = 0; p < L; ++p) m = max_nan<V>(m, load_inputs<V>(x + p * step, lanes));
  R sum = V::zero();
  for (int64_t p = 0; p < L; ++p) {
    const R xv = load_inputs<V>(x + p * step, lanes);
    sum = V::add(sum, load_inputs<V>(g + p * step, lanes));
    store_outputs<V>(gx + p * step, where_max<V>(xv, m, sum, V::zero()), lanes);
    sum = where_max<V>(xv, m, V::zero(), sum);
  }
  for (int64_t p = L - 1; p >= 0; --p) {  // the rest, to the last arg-max
    const R xv = load_inputs<V>(x + p * step, lanes);
    store_outputs<V>(gx + p * step, V::add(load_inputs<V>(gx + p * step, lanes), where_max<V>(xv, m, sum, V::zero())),
                     lanes);
    sum = where_max<V>(xv, m, V::zero(), sum);
  }
}

// Runs line(g, x, gx, L, step, lanes) over every line of a scan along the vertical or
// horizontal axis, position 0 at the scan's start (reversed = from the bottom or right).
template <class V, class Line, class ScalarLine>
void for_each_line(const CornerPoolShape& s, const typename V::value_type* g, const typename V::value_type* x,
                   typename V::value_type* gx, bool vertical, bool reversed, Line line, ScalarLine scalar_line) {
  constexpr int Wd = V::width;
  const int64_t H = s.H, W = s.W, C = s.C;
  const int64_t L = vertical ? H : W;
  if (L == 0) return;
  if (s.layout == Layout::NCHW) {
    const int64_t P = H * W, planes = s.N * s.C;
    if (vertical) {  // lanes along each row
      const int64_t per_plane = ceil_div(W, Wd), tasks = planes * per_plane;
      const int64_t step = reversed ? -W : W, start = reversed ? (H - 1) * W : 0;
      parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
        const int64_t off = task / per_plane * P + task % per_plane * Wd + start;
        line(g + off, x + off, gx + off, L, step, min64(Wd, W - task % per_plane * Wd));
      });
    } else {  // one row at a time, a lane each
      const int64_t tasks = planes * H, step = reversed ? -1 : 1, start = reversed ? W - 1 : 0;
      parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
        const int64_t off = task * W + start;
        scalar_line(g + off, x + off, gx + off, L, step, int64_t(1));
      });
    }
    return;
  }
  // NHWC: lanes along the channels of each pixel; lines over (n, column) or (n, row).
  const int64_t per_line = ceil_div(C, Wd), lines = s.N * (vertical ? W : H), tasks = lines * per_line;
  const int64_t pixel_step = vertical ? W * C : C;
  parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
    const int64_t ln = task / per_line, c0 = task % per_line * Wd;
    const int64_t n = ln / (vertical ? W : H), k = ln % (vertical ? W : H);
    const int64_t first = vertical ? (n * H * W + k) * C : (n * H + k) * W * C;
    const int64_t off = first + c0 + (reversed ? (L - 1) * pixel_step : 0);
    line(g + off, x + off, gx + off, L, reversed ? -pixel_step : pixel_step, min64(Wd, C - c0));
  });
}

// ---- The table's entries -------------------------------------------------------------

template <class V>
void corner_forward(const CornerPoolShape& s, const typename V::value_type* a, PoolDirection vertical,
                    const typename V::value_type* b, PoolDirection horizontal, typename V::value_type* out) {
  if (s.N == 0 || s.C == 0 || s.H == 0 || s.W == 0) return;
  if (s.layout == Layout::NCHW) corner_nchw<V>(s, a, vertical, b, horizontal, out);
  else corner_nhwc<V>(s, a, vertical, b, horizontal, out);
}

template <class V>
void center_forward(const CornerPoolShape& s, const typename V::value_type* a, const typename V::value_type* b,
                    typename V::value_type* out) {
  if (s.N == 0 || s.C == 0 || s.H == 0 || s.W == 0) return;
  if (s.layout == Layout::NCHW) center_nchw<V>(s, a, b, out);
  else center_nhwc<V>(s, a, b, out);
}

template <class V>
void corner_backward(const CornerPoolShape& s, const typename V::value_type* g, const typename V::value_type* x,
                     PoolDirection direction, typename V::value_type* gx) {
  using T = typename V::value_type;
  if (s.N == 0 || s.C == 0 || s.H == 0 || s.W == 0) return;
  // top and left take the maximum from the far end: their scans start there.
  const bool reversed = direction == PoolDirection::top || direction == PoolDirection::left;
  for_each_line<V>(s, g, x, gx, is_vertical(direction), reversed, corner_line_backward<V>,
                   corner_line_backward<ScalarVec<T>>);
}

template <class V>
void extent_backward(const CornerPoolShape& s, const typename V::value_type* g, const typename V::value_type* x,
                     bool vertical, typename V::value_type* gx) {
  using T = typename V::value_type;
  if (s.N == 0 || s.C == 0 || s.H == 0 || s.W == 0) return;
  for_each_line<V>(s, g, x, gx, vertical, false, extent_line_backward<V>, extent_line_backward<ScalarVec<T>>);
}

template <class V>
constexpr CornerPoolKernels<typename V::value_type> corner_pool_kernels() {
  return {corner_forward<V>, center_forward<V>, corner_backward<V>, extent_backward<V>};
}

}  // namespace
}  // namespace opzoo::cpu

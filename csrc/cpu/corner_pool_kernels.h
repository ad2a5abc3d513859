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
                 int64_t count) {
  using R = typename V::reg;
  constexpr int Wd = V::width;
  for (int64_t j = 0; j < W; j += Wd) {
    const int64_t lanes = min64(Wd, W - j);
    R m = load_inputs<V>(cm + j, lanes);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t off = rows[k] * W + j;
      m = max_nan<V>(m, load_inputs<V>(a + off, lanes));
      store_outputs<V>(out + off, h ? V::add(m, load_inputs<V>(h + (rows[k] - first) * W + j, lanes)) : m, lanes);
    }
    store_outputs<V>(cm + j, m, lanes);
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
    for (int64_t g = 0; g < H; g += Wd) {  // groups of rows in the vertical scan's order
      const int64_t count = min64(Wd, H - g), first = upward ? H - g - count : g;
      int64_t rows[Wd];
      for (int64_t k = 0; k < count; ++k) rows[k] = upward ? first + count - 1 - k : first + k;
      if (bp) hscan_rows<V>(bp + first * W, hbuf, W, W, count, from_right);
      vscan_group<V>(ap, bp ? hbuf : nullptr, first, cm, op, W, rows, count);
    }
  });
}

// out[i, j] = max_k a[k, j] + max_k b[i, k], per plane: the column maxima of a in one
// pass, each row maximum of b, then the sums.
template <class V>
void center_nchw(const CornerPoolShape& s, const typename V::value_type* a, const typename V::value_type* b,
                 typename V::value_type* out) {
  using T = typename V::value_type;
  using S = ScalarVec<T>;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t H = s.H, W = s.W, planes = s.N * s.C, P = H * W;
  const int threads = threads_for(planes);
  ThreadScratch<T> scratch(W + H + Wd, threads);
  parallel_for(planes, threads, [&](int64_t plane, int thread) {
    const T* ap = a + plane * P;
    const T* bp = b + plane * P;
    T* op = out + plane * P;
    T* cm = scratch.get(thread);
    T* rm = cm + W;
    T* lanes_buf = rm + H;
    for (int64_t j = 0; j < W; j += Wd) {
      const int64_t lanes = min64(Wd, W - j);
      R m = V::set1(lowest<T>());
      for (int64_t i = 0; i < H; ++i) m = max_nan<V>(m, load_inputs<V>(ap + i * W + j, lanes));
      store_outputs<V>(cm + j, m, lanes);
    }
    const int64_t full = W / Wd * Wd;
    for (int64_t i = 0; i < H; ++i) {
      const T* row = bp + i * W;
      T m = lowest<T>();
      if (full > 0) {
        R v = V::load(row);
        for (int64_t j = Wd; j < full; j += Wd) v = max_nan<V>(v, V::load(row + j));
        V::store(lanes_buf, v);
        for (int k = 0; k < Wd; ++k) m = max_nan<S>(m, lanes_buf[k]);
      }
      for (int64_t j = full; j < W; ++j) m = max_nan<S>(m, row[j]);
      rm[i] = m;
    }
    for (int64_t i = 0; i < H; ++i) {
      const R r = V::set1(rm[i]);
      for (int64_t j = 0; j < W; j += Wd) {
        const int64_t lanes = min64(Wd, W - j);
        store_outputs<V>(op + i * W + j, V::add(load_inputs<V>(cm + j, lanes), r), lanes);
      }
    }
  });
}

// ---- NHWC: pixels of C contiguous channels ---------------------------------------------

// Tasks of the NHWC kernels: (image, block of one line of channels).
struct ChannelBlocks {
  int64_t width;  // channels per block
  int64_t per_image;
};

template <class V>
ChannelBlocks channel_blocks(int64_t C) {
  const int64_t width = int64_t(line_vectors<V>()) * V::width;
  return {width, ceil_div(C, width)};
}

// The NHWC pair or single pool for one image's block of channels [c0, c0 + nc): pixels
// row by row in the vertical scan's order, each row in the horizontal scan's order; the
// running horizontal maxima in registers, the vertical ones in cm (W x block).
template <class V>
void corner_nhwc_block(const CornerPoolShape& s, const typename V::value_type* a, bool upward,
                       const typename V::value_type* b, bool from_right, typename V::value_type* out, int64_t c0,
                       int64_t nc, typename V::value_type* cm) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width, NV = line_vectors<V>();
  const int64_t H = s.H, W = s.W, C = s.C;
  if (a)
    for (int64_t k = 0; k < W * NV * Wd; ++k) cm[k] = lowest<T>();
  for (int64_t r = 0; r < H; ++r) {
    const int64_t i = a && upward ? H - 1 - r : r;
    R hm[NV];
    for (int v = 0; v < NV; ++v) hm[v] = V::set1(lowest<T>());
    for (int64_t q = 0; q < W; ++q) {
      const int64_t j = from_right ? W - 1 - q : q;
      const int64_t base = (i * W + j) * C + c0;
      T* cmj = cm + j * NV * Wd;
      for (int v = 0; v < NV; ++v) {
        const int64_t lanes = nc - v * Wd;
        if (lanes <= 0) break;
        R o;
        if (b) o = hm[v] = max_nan<V>(hm[v], load_inputs<V>(b + base + v * Wd, lanes));
        if (a) {
          const R m = max_nan<V>(V::load(cmj + v * Wd), load_inputs<V>(a + base + v * Wd, lanes));
          V::store(cmj + v * Wd, m);
          o = b ? V::add(m, o) : m;
        }
        store_outputs<V>(out + base + v * Wd, o, lanes);
      }
    }
  }
}

template <class V>
void corner_nhwc(const CornerPoolShape& s, const typename V::value_type* a, PoolDirection vertical,
                 const typename V::value_type* b, PoolDirection horizontal, typename V::value_type* out) {
  using T = typename V::value_type;
  const ChannelBlocks blocks = channel_blocks<V>(s.C);
  const int64_t tasks = s.N * blocks.per_image, image = s.H * s.W * s.C;
  const int threads = threads_for(tasks);
  ThreadScratch<T> scratch(a ? s.W * blocks.width : 0, threads);
  parallel_for(tasks, threads, [&](int64_t task, int thread) {
    const int64_t n = task / blocks.per_image, c0 = task % blocks.per_image * blocks.width;
    const int64_t off = n * image;
    corner_nhwc_block<V>(s, a ? a + off : nullptr, vertical == PoolDirection::top, b ? b + off : nullptr,
                         horizontal == PoolDirection::left, out + off, c0, min64(blocks.width, s.C - c0),
                         scratch.get(thread));
  });
}

template <class V>
void center_nhwc(const CornerPoolShape& s, const typename V::value_type* a, const typename V::value_type* b,
                 typename V::value_type* out) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width, NV = line_vectors<V>();
  const ChannelBlocks blocks = channel_blocks<V>(s.C);
  const int64_t H = s.H, W = s.W, C = s.C, tasks = s.N * blocks.per_image, image = H * W * C;
  const int threads = threads_for(tasks);
  // Per thread: column maxima (W x block) and row maxima (H x block).
  ThreadScratch<T> scratch((W + H) * blocks.width, threads);
  parallel_for(tasks, threads, [&](int64_t task, int thread) {
    const int64_t n = task / blocks.per_image, c0 = task % blocks.per_image * blocks.width;
    const int64_t nc = min64(blocks.width, C - c0);
    const T* ap = a + n * image + c0;
    const T* bp = b + n * image + c0;
    T* op = out + n * image + c0;
    T* cm = scratch.get(thread);
    T* rm = cm + W * blocks.width;
    for (int64_t k = 0; k < W * blocks.width; ++k) cm[k] = lowest<T>();
    for (int64_t i = 0; i < H; ++i) {
      R hm[NV];
      for (int v = 0; v < NV; ++v) hm[v] = V::set1(lowest<T>());
      for (int64_t j = 0; j < W; ++j) {
        const int64_t base = (i * W + j) * C;
        for (int v = 0; v < NV; ++v) {
          const int64_t lanes = nc - v * Wd;
          if (lanes <= 0) break;
          T* cmj = cm + (j * NV + v) * Wd;
          V::store(cmj, max_nan<V>(V::load(cmj), load_inputs<V>(ap + base + v * Wd, lanes)));
          hm[v] = max_nan<V>(hm[v], load_inputs<V>(bp + base + v * Wd, lanes));
        }
      }
      for (int v = 0; v < NV; ++v) V::store(rm + (i * NV + v) * Wd, hm[v]);
    }
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        for (int v = 0; v < NV; ++v) {
          const int64_t lanes = nc - v * Wd;
          if (lanes <= 0) break;
          const R o = V::add(V::load(cm + (j * NV + v) * Wd), V::load(rm + (i * NV + v) * Wd));
          store_outputs<V>(op + (i * W + j) * C + v * Wd, o, lanes);
        }
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

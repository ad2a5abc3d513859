// Heatmap decoding kernels over a vector type V, compiled once per ISA by
// heatmap_decode_{scalar,avx2,avx512}.cpp (arm/heatmap_decode_neon.cpp).
//
// One pass over the heatmap: each task (a range of one image's planes in NCHW, of its
// rows in NHWC) computes the kept scores row by row in vectors, the 3x3 maximum from
// running row maxima (NHWC: from the row's vertical maxima), and offers a row to its own K-best heap only where some score
// could enter it (a vector test against the heap's worst score). The order of the
// candidates (score, then index) is total, so the tasks' heaps merged hold exactly the
// image's K best whatever the split: the same boxes for any number of threads.
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include "kernel_common.h"
#include "opzoo/heatmap_decode.h"
#include "simd/scalar.h"
#include "spans.h"

namespace opzoo::cpu {
namespace {

template <class T>
struct Candidate {
  T score;
  int64_t index;  // c * H * W + y * W + x
};

// Whether a ranks before b: NaN first, then higher scores, then lower indices.
template <class T>
bool ranks_before(const Candidate<T>& a, const Candidate<T>& b) {
  const bool a_nan = a.score != a.score, b_nan = b.score != b.score;
  if (a_nan || b_nan) return a_nan && (!b_nan || a.index < b.index);
  if (a.score != b.score) return a.score > b.score;
  return a.index < b.index;
}

// A task's best `capacity` candidates in a max-heap by ranks_before: its front is the
// worst kept.
template <class T>
class BestK {
 public:
  BestK(Candidate<T>* slots, int64_t capacity) : slots_(slots), capacity_(capacity) {}
  int64_t size() const { return size_; }
  // Scores below this cannot enter (equal ones may, by a lower index).
  T threshold() const {
    return size_ < capacity_ ? -std::numeric_limits<T>::infinity() : slots_[0].score;
  }
  void offer(const Candidate<T>& c) {
    if (size_ < capacity_) {
      slots_[size_++] = c;
      std::push_heap(slots_, slots_ + size_, ranks_before<T>);
    } else if (capacity_ > 0 && ranks_before(c, slots_[0])) {
      std::pop_heap(slots_, slots_ + size_, ranks_before<T>);
      slots_[size_ - 1] = c;
      std::push_heap(slots_, slots_ + size_, ranks_before<T>);
    }
  }

 private:
  Candidate<T>* slots_;
  int64_t capacity_;
  int64_t size_ = 0;
};

// max(m, x), NaN where either is (as max_pool2d's window maximum).
template <class V>
typename V::reg decode_max(typename V::reg m, typename V::reg x) {
  return V::select_le(m, m, V::max(m, x), m);
}

// The kept score: heat where it equals its window's maximum, else heat * 0.
template <class V>
typename V::reg kept_score(typename V::reg heat, typename V::reg window_max) {
  return V::select_le(window_max, heat, heat, V::mul(heat, V::zero()));
}

// 1 in each lane whose score is not below thr (NaN included), else 0.
template <class V>
typename V::reg may_enter(typename V::reg score, typename V::reg thr) {
  return V::select_lt(score, thr, V::zero(), V::set1(typename V::value_type(1)));
}

// Offers each of n scores (flat indices first, first + step, ...) to the heap.
template <class T>
void offer_row(BestK<T>& best, const T* scores, int64_t n, int64_t first, int64_t step) {
  for (int64_t k = 0; k < n; ++k) {
    const T s = scores[k], thr = best.threshold();
    if (!(s < thr)) best.offer({s, first + k * step});
  }
}

// h[x] = max(row[x-1], row[x], row[x+1]) over the row's W elements (-inf beyond them),
// through pad (W + 2 elements).
template <class V>
void row_max3(const typename V::value_type* row, int64_t W, typename V::value_type* pad, typename V::value_type* h) {
  using T = typename V::value_type;
  constexpr int Wd = V::width;
  pad[0] = pad[W + 1] = -std::numeric_limits<T>::infinity();
  copy_span<V>(pad + 1, row, W);
  for (int64_t x = 0; x < W; x += Wd) {
    const int64_t lanes = min64(Wd, W - x);
    const auto m = decode_max<V>(decode_max<V>(load_inputs<V>(pad + x, lanes), load_inputs<V>(pad + x + 1, lanes)),
                                 load_inputs<V>(pad + x + 2, lanes));
    store_outputs<V>(h + x, m, lanes);
  }
}

// NCHW: planes [c0, c1) of one image's heatmap into `best`.
template <class V>
void decode_planes(const HeatmapDecodeShape& s, const typename V::value_type* heat, int64_t c0, int64_t c1,
                   typename V::value_type* scratch, BestK<typename V::value_type>& best) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t H = s.H, W = s.W, P = H * W;
  T* pad = scratch;
  T* rows[3] = {pad + W + 2, pad + 2 * W + 2, pad + 3 * W + 2};  // the row maxima of y - 1, y, y + 1
  T* scores = pad + 4 * W + 2;
  for (int64_t c = c0; c < c1; ++c) {
    const T* plane = heat + c * P;
    row_max3<V>(plane, W, pad, rows[1]);
    for (int64_t y = 0; y < H; ++y) {
      if (y + 1 < H) row_max3<V>(plane + (y + 1) * W, W, pad, rows[2]);
      const R thr = V::set1(best.threshold());
      R flags = V::zero();
      for (int64_t x = 0; x < W; x += Wd) {
        const int64_t lanes = min64(Wd, W - x);
        R m = load_inputs<V>(rows[1] + x, lanes);
        if (y > 0) m = decode_max<V>(m, load_inputs<V>(rows[0] + x, lanes));
        if (y + 1 < H) m = decode_max<V>(m, load_inputs<V>(rows[2] + x, lanes));
        const R score = kept_score<V>(load_inputs<V>(plane + y * W + x, lanes), m);
        store_outputs<V>(scores + x, score, lanes);
        if (lanes == Wd) flags = V::add(flags, may_enter<V>(score, thr));
        else flags = V::add(flags, V::set1(T(1)));  // a partial vector: let the scalar test decide
      }
      if (V::hsum(flags) > T(0)) offer_row(best, scores, W, c * P + y * W, 1);
      T* oldest = rows[0];
      rows[0] = rows[1];
      rows[1] = rows[2];
      rows[2] = oldest;
    }
  }
}

// NHWC: rows [y0, y1) of one image's heatmap (H, W, C) into `best`: per row, the
// vertical maxima of its pixels' channels into vmax (W x C), then the horizontal maxima
// of those and the kept scores into scores (W x C), all in vectors along the channels.
template <class V>
void decode_rows(const HeatmapDecodeShape& s, const typename V::value_type* heat, int64_t y0, int64_t y1,
                 typename V::value_type* scratch, BestK<typename V::value_type>& best) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t H = s.H, W = s.W, C = s.C, P = H * W, WC = W * C;
  T* vmax = scratch;
  T* scores = scratch + WC;
  for (int64_t y = y0; y < y1; ++y) {
    const T* row = heat + y * WC;
    for (int64_t e = 0; e < WC; e += Wd) {
      const int64_t lanes = min64(Wd, WC - e);
      R m = load_inputs<V>(row + e, lanes);
      if (y > 0) m = decode_max<V>(m, load_inputs<V>(row - WC + e, lanes));
      if (y + 1 < H) m = decode_max<V>(m, load_inputs<V>(row + WC + e, lanes));
      store_outputs<V>(vmax + e, m, lanes);
    }
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < C; c += Wd) {
        const int64_t lanes = min64(Wd, C - c), e = x * C + c;
        R m = load_inputs<V>(vmax + e, lanes);
        if (x > 0) m = decode_max<V>(m, load_inputs<V>(vmax + e - C, lanes));
        if (x + 1 < W) m = decode_max<V>(m, load_inputs<V>(vmax + e + C, lanes));
        store_outputs<V>(scores + e, kept_score<V>(load_inputs<V>(row + e, lanes), m), lanes);
      }
    // A row holds W * C scores: they are offered a block at a time, only the blocks that
    // hold some score the heap may take.
    constexpr int64_t block = 16 * Wd;
    for (int64_t e0 = 0; e0 < WC; e0 += block) {
      const int64_t n = min64(block, WC - e0);
      const T t = best.threshold();
      const R thr = V::set1(t);
      R flags = V::zero();
      for (int64_t e = 0; e < n; e += Wd)
        flags = V::add(flags, n - e >= Wd ? may_enter<V>(V::load(scores + e0 + e), thr) : V::set1(T(1)));
      if (!(V::hsum(flags) > T(0))) continue;
      for (int64_t e = e0; e < e0 + n; ++e) {
        const T sc = scores[e];
        if (!(sc < best.threshold())) best.offer({sc, e % C * P + y * W + e / C});
      }
    }
  }
}

template <class V>
void decode(const HeatmapDecodeShape& s, const typename V::value_type* heat, const typename V::value_type* wh,
            const typename V::value_type* reg, typename V::value_type* boxes) {
  using T = typename V::value_type;
  const int64_t N = s.N, C = s.C, H = s.H, W = s.W, K = s.K, P = H * W;
  if (N == 0 || K == 0) return;
  const bool nchw = s.layout == Layout::NCHW;
  // Tasks per image: ranges of planes (NCHW) or rows (NHWC), as many as threads.
  const int64_t units = nchw ? C : H;
  const int64_t parts = max64(1, min64(units, num_threads())), per_part = ceil_div(units, parts);
  const int64_t tasks = N * parts, capacity = min64(K, per_part * (nchw ? P : W * C));
  std::vector<Candidate<T>> slots(size_t(tasks * capacity));
  std::vector<int64_t> kept(size_t(tasks), 0);
  const int threads = threads_for(tasks);
  ThreadScratch<T> scratch(nchw ? 5 * W + 2 : 2 * W * C, threads);
  parallel_for(tasks, threads, [&](int64_t task, int thread) {
    const int64_t n = task / parts, u0 = task % parts * per_part, u1 = min64(units, u0 + per_part);
    BestK<T> best(slots.data() + task * capacity, capacity);
    const T* image = heat + n * C * P;
    if (u0 < u1) {
      if (nchw) decode_planes<V>(s, image, u0, u1, scratch.get(thread), best);
      else decode_rows<V>(s, image, u0, u1, scratch.get(thread), best);
    }
    kept[size_t(task)] = best.size();
  });
  parallel_for(N, threads_for(N), [&](int64_t n, int) {
    // The image's candidates, gathered in task order, best K first.
    Candidate<T>* first = slots.data() + n * parts * capacity;
    int64_t count = 0;
    for (int64_t t = 0; t < parts; ++t) {
      const Candidate<T>* from = first + t * capacity;
      for (int64_t k = 0; k < kept[size_t(n * parts + t)]; ++k) first[count++] = from[k];
    }
    std::partial_sort(first, first + K, first + count, ranks_before<T>);
    for (int64_t k = 0; k < K; ++k) {
      const int64_t idx = first[k].index, c = idx / P, pix = idx % P, y = pix / W, x = pix % W;
      // Element j of a 2-channel map at this pixel.
      auto at = [&](const T* map, int64_t j) { return nchw ? map[(n * 2 + j) * P + pix] : map[(n * P + pix) * 2 + j]; };
      const T xs = T(x) + (reg ? at(reg, 0) : T(0.5)), ys = T(y) + (reg ? at(reg, 1) : T(0.5));
      const T w = at(wh, 0), h = at(wh, 1);
      T* box = boxes + (n * K + k) * 6;
      box[0] = xs - w / T(2);
      box[1] = ys - h / T(2);
      box[2] = xs + w / T(2);
      box[3] = ys + h / T(2);
      box[4] = first[k].score;
      box[5] = T(c);
    }
  });
}

template <class V>
constexpr HeatmapDecodeKernels<typename V::value_type> heatmap_decode_kernels() {
  return {decode<V>};
}

}  // namespace
}  // namespace opzoo::cpu

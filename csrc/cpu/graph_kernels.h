// Graph message-passing kernels over a vector type V, compiled once per ISA by
// graph_{scalar,avx2,avx512}.cpp (arm/graph_neon.cpp). The threads split the CSR's rows
// into contiguous ranges of equal work (edges plus rows), so a few hub nodes of a
// power-law graph do not leave one thread with most of it; each row is reduced by one
// thread in CSR order (the caller's order within the row), with the features in vector
// lanes, so the result does not depend on the thread count. A row's gathers read whole
// feature rows of x, prefetched a few edges ahead.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "bands.h"
#include "kernel_common.h"
#include "opzoo/graph.h"
#include "spans.h"

namespace opzoo::cpu {
namespace {

// Edges ahead whose feature rows are prefetched.
constexpr int64_t kGatherAhead = 16;
// A feature block of one pass over a row's edges: 64 floats, a quarter KiB of x per edge,
// in registers (4 AVX-512 or 8 AVX2 vectors).
template <class V>
constexpr int kBlockVectors = V::width >= 64 ? 1 : 64 / V::width > 16 ? 16 : 64 / V::width;

// Calls body(begin_row, end_row) on each thread for rows of about equal work, the
// ranges cut where rowptr[r] + r crosses multiples of the total / threads.
template <class F>
void for_row_ranges(const Csr& g, const F& body) {
  const int64_t work = g.edges + g.rows;
  const int threads = threads_for(work / 4096 + 1);
  // Cuts found by bisection on rowptr before it is validated, then made non-decreasing,
  // so that the ranges cover every row once whatever rowptr holds.
  std::vector<int64_t> cuts(size_t(threads) + 1);
  cuts[0] = 0;
  cuts[threads] = g.rows;
  for (int part = 1; part < threads; ++part) {
    const int64_t goal = work / threads * part;
    int64_t lo = 0, hi = g.rows;  // the first row r with rowptr[r] + r >= goal
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (g.rowptr[mid] < goal - mid) lo = mid + 1;
      else hi = mid;
    }
    cuts[part] = max64(lo, cuts[part - 1]);
  }
  parallel_for(threads, threads, [&](int64_t part, int) { body(cuts[part], cuts[part + 1]); });
}

// Whether row r's range and its edges' col entries (and edge entries, where a kernel
// indexes with them) are valid.
inline bool row_valid(const Csr& g, int64_t r, bool edges_index) {
  const int64_t begin = g.rowptr[r], end = g.rowptr[r + 1];
  if (begin < 0 || end < begin || end > g.edges || (r == 0 && begin != 0) || (r == g.rows - 1 && end != g.edges))
    return false;
  for (int64_t p = begin; p < end; ++p)
    if (uint64_t(g.col[p]) >= uint64_t(g.cols)) return false;
  if (edges_index)
    for (int64_t p = begin; p < end; ++p)
      if (uint64_t(g.edge[p]) >= uint64_t(g.edges)) return false;
  return true;
}

// Runs row(r) for every row whose CSR entries are valid; false if any is not.
// `edges_index`: the kernel indexes edge-aligned arrays with g.edge.
template <class F>
bool for_valid_rows(const Csr& g, bool edges_index, const F& row) {
  std::atomic<bool> ok{true};
  for_row_ranges(g, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (!row_valid(g, r, edges_index)) {
        ok.store(false, std::memory_order_relaxed);
        return;
      }
      row(r);
    }
  });
  return ok.load();
}

// Pulls towards L1 the features [o, o + nv vectors) of the node that CSR edge
// p + kGatherAhead gathers, across row ends (rows are short: a power-law graph's median
// node has a handful of edges). The index is not validated yet, so the address is
// formed as an integer: a prefetch never faults.
template <class V>
void prefetch_gather(const Csr& g, int64_t p, const typename V::value_type* x, int64_t F, int64_t o, int nv) {
  using T = typename V::value_type;
  if (p + kGatherAhead >= g.edges) return;
  const uintptr_t at = reinterpret_cast<uintptr_t>(x) +
                       (uintptr_t(g.col[p + kGatherAhead]) * uintptr_t(F) + uintptr_t(o)) * sizeof(T);
  prefetch_lines<3>(reinterpret_cast<const void*>(at), int64_t(nv) * V::width * int64_t(sizeof(T)));
}

template <class V, Reduce R>
typename V::reg combine(typename V::reg acc, typename V::reg v) {
  if constexpr (R == Reduce::sum || R == Reduce::mean) return V::add(acc, v);
  // NaN propagates: a NaN v replaces acc; a NaN acc stays, as max(v, acc) keeps acc then.
  else if constexpr (R == Reduce::max) return V::select_le(v, v, V::max(v, acc), v);
  else return V::select_le(v, v, V::min(v, acc), v);
}

// Where v takes over as the row's extreme so far: the position k replaces arg's lanes.
template <class V, Reduce R>
typename V::reg take_position(typename V::reg acc, typename V::reg v, typename V::reg k, typename V::reg arg) {
  const typename V::reg better = R == Reduce::max ? V::select_lt(acc, v, k, arg) : V::select_lt(v, acc, k, arg);
  // a NaN v takes over unless acc is NaN already
  return V::select_le(v, v, better, V::select_le(acc, acc, k, arg));
}

// One pass over the edges [begin, end) of a row for the feature block [o, o + nv vectors)
// (the last with `last` lanes) of head h, out and arg written. Max and min without Exact
// take the plain max / min, which drops a NaN, and watch for values that are not finite:
// s - s, s an edge's values summed, is NaN where one is (or where s overflows). Then the
// block writes nothing and returns false, for the caller to run the exact
// (NaN-propagating) pass, a blend per vector dearer.
template <class V, Reduce R, bool Weighted, bool Arg, bool Full, bool Exact>
bool aggregate_block(const Csr& g, const FeatureShape& f, int64_t r, int64_t h, int64_t o, int nv, int last,
                     const typename V::value_type* x, const typename V::value_type* weight,
                     const int64_t* col_rowptr, typename V::value_type* out, int64_t* arg, bool stream) {
  using T = typename V::value_type;
  using Reg = typename V::reg;
  constexpr int NB = kBlockVectors<V>;
  constexpr bool watch = !Exact && !Arg && (R == Reduce::max || R == Reduce::min);
  Reg specials = V::zero();
  const int64_t F = f.features(), begin = g.rowptr[r], end = g.rowptr[r + 1];
  auto lanes = [&](int k) { return Full || k < nv - 1 ? V::width : last; };
  Reg acc[NB], pos[NB];
  const T start = R == Reduce::max ? -std::numeric_limits<T>::infinity()
                  : R == Reduce::min ? std::numeric_limits<T>::infinity()
                                     : T(0);
  for (int k = 0; k < NB; ++k) {
    acc[k] = V::set1(start);
    pos[k] = V::zero();
  }
  for (int64_t p = begin; p < end; ++p) {
    prefetch_gather<V>(g, p, x, F, o, nv);
    const T* xp = x + g.col[p] * F + o;
    Reg w{};
    if constexpr (Weighted) {
      T wp = weight ? weight[g.edge[p] * f.heads + h] : T(1);
      if (col_rowptr) wp = wp / T(col_rowptr[g.col[p] + 1] - col_rowptr[g.col[p]]);
      w = V::set1(wp);
    }
    const Reg here = V::set1(T(p - begin));
    Reg edge_specials = V::zero();
    for (int k = 0; k < NB; ++k) {
      if (!Full && k >= nv) break;
      Reg v = load_lanes<V, Full>(xp + k * V::width, lanes(k));
      if constexpr (Weighted) {
        if constexpr (R == Reduce::sum || R == Reduce::mean) {
          acc[k] = V::fma(w, v, acc[k]);
          continue;
        }
        v = V::mul(w, v);
      }
      if constexpr (watch) {
        acc[k] = R == Reduce::max ? V::max(v, acc[k]) : V::min(v, acc[k]);
        edge_specials = V::add(edge_specials, v);
        continue;
      }
      if constexpr (Arg) pos[k] = take_position<V, R>(acc[k], v, here, pos[k]);
      acc[k] = combine<V, R>(acc[k], v);
    }
    if constexpr (watch) specials = V::add(specials, V::sub(edge_specials, edge_specials));
  }
  if constexpr (watch) {
    if (std::isnan(V::hsum(specials))) return false;
  }
  T* outp = out + r * F + o;
  const Reg count = V::set1(T(end - begin));
  for (int k = 0; k < NB; ++k) {
    if (!Full && k >= nv) break;
    Reg v = end == begin ? V::zero() : acc[k];
    if constexpr (R == Reduce::mean) v = V::div(v, V::select_lt(V::zero(), count, count, V::set1(T(1))));
    if constexpr (Full)
      store_vector<V>(outp + k * V::width, v,
                      stream && reinterpret_cast<uintptr_t>(outp + k * V::width) % (V::width * sizeof(T)) == 0);
    else store_lanes<V, false>(outp + k * V::width, v, lanes(k));
    if constexpr (Arg) {
      T at[V::width];
      V::store(at, pos[k]);
      int64_t* argp = arg + r * F + o + k * V::width;
      for (int l = 0; l < lanes(k); ++l) argp[l] = end == begin ? -1 : g.edge[begin + int64_t(at[l])];
    }
  }
  return true;
}

// Max or min of a row whose positions a lane cannot hold exactly (more than 2^24 edges
// in float32): element by element, the same decisions.
template <class T, Reduce R, bool Weighted>
void extreme_row_scalar(const Csr& g, const FeatureShape& f, int64_t r, const T* x, const T* weight, T* out,
                        int64_t* arg) {
  const int64_t F = f.features(), begin = g.rowptr[r], end = g.rowptr[r + 1];
  for (int64_t c = 0; c < F; ++c) {
    T best = 0;
    int64_t at = -1;
    for (int64_t p = begin; p < end; ++p) {
      T v = x[g.col[p] * F + c];
      if constexpr (Weighted) v *= weight[g.edge[p] * f.heads + c / f.per_head];
      const bool take = at < 0 || (R == Reduce::max ? v > best : v < best) || (std::isnan(v) && !std::isnan(best));
      if (take) {
        best = v;
        at = g.edge[p];
      }
    }
    out[r * F + c] = best;
    if (arg) arg[r * F + c] = at;
  }
}

template <class V, Reduce R, bool Weighted, bool Arg>
void aggregate_row(const Csr& g, const FeatureShape& f, int64_t r, const typename V::value_type* x,
                   const typename V::value_type* weight, const int64_t* col_rowptr, typename V::value_type* out,
                   int64_t* arg, bool stream) {
  using T = typename V::value_type;
  constexpr int64_t block = int64_t(kBlockVectors<V>) * V::width;
  constexpr int64_t exact_positions = int64_t(1) << std::numeric_limits<T>::digits;
  if constexpr (Arg) {
    if (g.rowptr[r + 1] - g.rowptr[r] > exact_positions)
      return extreme_row_scalar<T, R, Weighted>(g, f, r, x, weight, out, arg);
  }
  auto run = [&](auto full, int64_t h, int64_t o, int nv, int last) {
    constexpr bool Full = decltype(full)::value;
    if (!aggregate_block<V, R, Weighted, Arg, Full, false>(g, f, r, h, o, nv, last, x, weight, col_rowptr, out, arg,
                                                          stream))
      aggregate_block<V, R, Weighted, Arg, Full, true>(g, f, r, h, o, nv, last, x, weight, col_rowptr, out, arg,
                                                       stream);
  };
  for (int64_t h = 0; h < f.heads; ++h) {
    const int64_t head = h * f.per_head;
    int64_t c = 0;
    for (; c + block <= f.per_head; c += block) run(std::true_type{}, h, head + c, kBlockVectors<V>, V::width);
    if (c < f.per_head) {
      const int64_t rest = f.per_head - c;
      const int nv = int(ceil_div(rest, V::width));
      run(std::false_type{}, h, head + c, nv, int(rest - (nv - 1) * V::width));
    }
  }
}

template <class V>
bool graph_aggregate(const Csr& g, const FeatureShape& f, Reduce reduce, const typename V::value_type* x,
                     const typename V::value_type* weight, const int64_t* col_rowptr, typename V::value_type* out,
                     int64_t* arg) {
  if (g.rows == 0) return true;
  // Outputs past the caches go around them: written once, and kept there they would evict
  // the gathered rows of x, read again and again.
  const bool stream = g.rows * f.features() * int64_t(sizeof(typename V::value_type)) >= kStreamOutputBytes;
  auto run = [&](auto r, auto weighted, auto with_arg) {
    const bool ok = for_valid_rows(g, weight != nullptr, [&](int64_t row) {
      aggregate_row<V, decltype(r)::value, decltype(weighted)::value, decltype(with_arg)::value>(
          g, f, row, x, weight, col_rowptr, out, arg, stream);
    });
    if (stream) V::streaming_fence();
    return ok;
  };
  auto with_weight = [&](auto r, auto with_arg) {
    return weight || col_rowptr ? run(r, std::true_type{}, with_arg) : run(r, std::false_type{}, with_arg);
  };
  auto extreme = [&](auto r) {
    return arg ? with_weight(r, std::true_type{}) : with_weight(r, std::false_type{});
  };
  switch (reduce) {
    case Reduce::sum: return with_weight(std::integral_constant<Reduce, Reduce::sum>{}, std::false_type{});
    case Reduce::mean: return with_weight(std::integral_constant<Reduce, Reduce::mean>{}, std::false_type{});
    case Reduce::max: return extreme(std::integral_constant<Reduce, Reduce::max>{});
    case Reduce::min: return extreme(std::integral_constant<Reduce, Reduce::min>{});
  }
  return false;
}

template <class V>
bool graph_extreme_backward(const Csr& t, const FeatureShape& f, const typename V::value_type* grad_out,
                            const typename V::value_type* weight, const int64_t* arg,
                            typename V::value_type* grad_x) {
  using T = typename V::value_type;
  const int64_t F = f.features();
  if (t.rows == 0) return true;
  return for_valid_rows(t, weight != nullptr, [&](int64_t j) {
    T* gx = grad_x + j * F;
    for (int64_t c = 0; c < F; ++c) gx[c] = T(0);
    for (int64_t p = t.rowptr[j]; p < t.rowptr[j + 1]; ++p) {
      const int64_t i = t.col[p], e = t.edge[p];
      const T* go = grad_out + i * F;
      const int64_t* a = arg + i * F;
      for (int64_t h = 0; h < f.heads; ++h) {
        const T w = weight ? weight[e * f.heads + h] : T(1);
        for (int64_t c = h * f.per_head; c < (h + 1) * f.per_head; ++c)
          if (a[c] == e) gx[c] += weight ? w * go[c] : go[c];
      }
    }
  });
}

template <class V>
bool graph_weight_backward(const Csr& g, const FeatureShape& f, Reduce reduce, const typename V::value_type* grad_out,
                           const typename V::value_type* x, const int64_t* arg,
                           typename V::value_type* grad_weight) {
  using T = typename V::value_type;
  const int64_t F = f.features(), L = f.per_head;
  if (g.rows == 0) return true;
  return for_valid_rows(g, true, [&](int64_t i) {
    const int64_t begin = g.rowptr[i], end = g.rowptr[i + 1];
    const T* go = grad_out + i * F;
    const T scale = reduce == Reduce::mean ? T(1) / T(end - begin) : T(1);
    for (int64_t p = begin; p < end; ++p) {
      const T* xp = x + g.col[p] * F;
      const int64_t e = g.edge[p];
      for (int64_t h = 0; h < f.heads; ++h) {
        const int64_t o = h * L;
        T sum = 0;
        if (reduce == Reduce::max || reduce == Reduce::min) {
          for (int64_t c = o; c < o + L; ++c)
            if (arg[i * F + c] == e) sum += go[c] * xp[c];
        } else {
          sum = dot_span<V>(go + o, xp + o, L);
          if (reduce == Reduce::mean) sum = sum * scale;
        }
        grad_weight[e * f.heads + h] = sum;
      }
    }
  });
}

template <class V>
bool graph_sddmm(const Csr& g, const FeatureShape& f, const typename V::value_type* a, const typename V::value_type* b,
                 typename V::value_type* out) {
  using T = typename V::value_type;
  const int64_t F = f.features(), L = f.per_head;
  if (g.rows == 0) return true;
  return for_valid_rows(g, true, [&](int64_t i) {
    const T* bi = b + i * F;
    const int64_t end = g.rowptr[i + 1];
    for (int64_t p = g.rowptr[i]; p < end; ++p) {
      prefetch_gather<V>(g, p, a, F, 0, int(ceil_div(F, V::width)));
      const T* aj = a + g.col[p] * F;
      for (int64_t h = 0; h < f.heads; ++h) {
        out[g.edge[p] * f.heads + h] = dot_span<V>(aj + h * L, bi + h * L, L);
      }
    }
  });
}

template <class V>
bool graph_edge_softmax(const Csr& g, int64_t heads, const typename V::value_type* scores,
                        typename V::value_type* out) {
  using T = typename V::value_type;
  if (g.rows == 0) return true;
  return for_valid_rows(g, true, [&](int64_t i) {
    const int64_t begin = g.rowptr[i], end = g.rowptr[i + 1];
    for (int64_t h = 0; h < heads; ++h) {
      T peak = -std::numeric_limits<T>::infinity();
      for (int64_t p = begin; p < end; ++p) {
        const T s = scores[g.edge[p] * heads + h];
        peak = std::isnan(s) || s > peak ? s : peak;
        if (std::isnan(peak)) break;
      }
      T total = 0;
      for (int64_t p = begin; p < end; ++p) {
        const int64_t at = g.edge[p] * heads + h;
        out[at] = std::exp(scores[at] - peak);
        total += out[at];
      }
      total += T(1e-16);
      for (int64_t p = begin; p < end; ++p) out[g.edge[p] * heads + h] /= total;
    }
  });
}

template <class V>
bool graph_edge_softmax_backward(const Csr& g, int64_t heads, const typename V::value_type* grad_out,
                                 const typename V::value_type* out, typename V::value_type* grad_scores) {
  using T = typename V::value_type;
  if (g.rows == 0) return true;
  return for_valid_rows(g, true, [&](int64_t i) {
    const int64_t begin = g.rowptr[i], end = g.rowptr[i + 1];
    for (int64_t h = 0; h < heads; ++h) {
      T dot = 0;
      for (int64_t p = begin; p < end; ++p) {
        const int64_t at = g.edge[p] * heads + h;
        dot += grad_out[at] * out[at];
      }
      for (int64_t p = begin; p < end; ++p) {
        const int64_t at = g.edge[p] * heads + h;
        grad_scores[at] = out[at] * (grad_out[at] - dot);
      }
    }
  });
}

template <class V>
constexpr GraphKernels<typename V::value_type> graph_kernels() {
  return {graph_aggregate<V>, graph_extreme_backward<V>, graph_weight_backward<V>, graph_sddmm<V>,
          graph_edge_softmax<V>, graph_edge_softmax_backward<V>};
}

}  // namespace
}  // namespace opzoo::cpu

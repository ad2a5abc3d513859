// Graph message-passing CUDA kernels: a warp per CSR row (grid-stride over rows), its
// lanes over the features (neighbouring lanes on neighbouring features, so each gathered
// row of x is read in coalesced runs), each output element reduced by one lane in CSR
// order; per-edge values (dot products, softmax sums) reduced across the warp by a
// butterfly of shuffles, a fixed order. No atomics on values, so results are the same
// bits run to run. A warp first checks its row's range and indices, and a row that fails
// raises a flag (the only atomic) instead of being read; the launcher returns the flag.
#include <type_traits>

#include "common.cuh"
#include "graph_cuda.h"

namespace opzoo::cuda {
namespace {

constexpr int kWarps = kThreads / 32;
constexpr unsigned kFull = 0xffffffffu;

// Whether row r's range and indices are valid (every lane gets the answer); `edges_index`:
// the kernel indexes edge-aligned arrays with g.edge.
__device__ bool row_valid(const Csr& g, int64_t r, bool edges_index, int lane) {
  const int64_t begin = g.rowptr[r], end = g.rowptr[r + 1];
  bool ok = begin >= 0 && begin <= end && end <= g.edges && (r != 0 || begin == 0) &&
            (r != g.rows - 1 || end == g.edges);
  if (ok)
    for (int64_t p = begin + lane; p < end; p += 32)
      if (uint64_t(g.col[p]) >= uint64_t(g.cols) || (edges_index && uint64_t(g.edge[p]) >= uint64_t(g.edges)))
        ok = false;
  return __all_sync(kFull, ok);
}

__device__ float warp_sum(float v) {
  for (int d = 16; d > 0; d /= 2) v += __shfl_xor_sync(kFull, v, d);
  return v;
}

__device__ float warp_max(float v) {
  for (int d = 16; d > 0; d /= 2) v = max_nan(v, __shfl_xor_sync(kFull, v, d));
  return v;
}

// Calls row(r, lane) for every valid row r of this warp's share; raises *bad for the others.
template <class F>
__device__ void for_rows(const Csr& g, bool edges_index, int* bad, const F& row) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * kWarps;
  for (int64_t r = blockIdx.x * int64_t(kWarps) + threadIdx.x / 32; r < g.rows; r += warps) {
    if (!row_valid(g, r, edges_index, lane)) {
      if (lane == 0) atomicMax(bad, 1);
      continue;
    }
    row(r, lane);
  }
}

template <class T>
__device__ float weight_of(const T* w, int64_t e, int64_t heads, int64_t h) {
  return w ? to_float(w[e * heads + h]) : 1.0f;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    aggregate_kernel(Csr g, int64_t heads, int64_t per_head, int reduce, const T* __restrict__ x,
                     const T* __restrict__ w, const int64_t* __restrict__ col_rowptr, T* __restrict__ out,
                     int64_t* __restrict__ arg, int* bad) {
  const int64_t F = heads * per_head;
  for_rows(g, w != nullptr, bad, [&](int64_t r, int lane) {
    const int64_t begin = g.rowptr[r], end = g.rowptr[r + 1];
    for (int64_t c = lane; c < F; c += 32) {
      const int64_t h = c / per_head;
      float acc = 0.0f;
      int64_t at = -1;
      for (int64_t p = begin; p < end; ++p) {
        const int64_t j = g.col[p];
        float v = to_float(x[j * F + c]);
        if (w || col_rowptr) {
          float wp = w ? to_float(w[g.edge[p] * heads + h]) : 1.0f;
          if (col_rowptr) wp = __fdiv_rn(wp, float(col_rowptr[j + 1] - col_rowptr[j]));
          v = __fmul_rn(wp, v);
        }
        if (reduce == int(Reduce::sum) || reduce == int(Reduce::mean)) {
          acc = __fadd_rn(acc, v);
        } else {
          const bool better = reduce == int(Reduce::max) ? v > acc : v < acc;
          if (at < 0 || better || (v != v && acc == acc)) {
            acc = v;
            at = g.edge[p];
          }
        }
      }
      if (reduce == int(Reduce::mean) && end > begin) acc = __fdiv_rn(acc, float(end - begin));
      out[r * F + c] = from_float<T>(acc);
      if (arg) arg[r * F + c] = at;
    }
  });
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    extreme_backward_kernel(Csr t, int64_t heads, int64_t per_head, const T* __restrict__ grad_out,
                            const T* __restrict__ w, const int64_t* __restrict__ arg, T* __restrict__ grad_x,
                            int* bad) {
  const int64_t F = heads * per_head;
  for_rows(t, w != nullptr, bad, [&](int64_t j, int lane) {
    for (int64_t c = lane; c < F; c += 32) {
      float acc = 0.0f;
      for (int64_t p = t.rowptr[j]; p < t.rowptr[j + 1]; ++p) {
        const int64_t i = t.col[p], e = t.edge[p];
        if (arg[i * F + c] == e)
          acc = __fadd_rn(acc, __fmul_rn(weight_of(w, e, heads, c / per_head), to_float(grad_out[i * F + c])));
      }
      grad_x[j * F + c] = from_float<T>(acc);
    }
  });
}

// For every edge p of row r and head h: value(p, h) = the warp's sum over head h's
// features c of term(p, c), written by lane 0 through put(p, h, value).
template <class Term, class Put>
__device__ void per_edge_dots(const Csr& g, int64_t r, int lane, int64_t heads, int64_t per_head, const Term& term,
                              const Put& put) {
  for (int64_t p = g.rowptr[r]; p < g.rowptr[r + 1]; ++p)
    for (int64_t h = 0; h < heads; ++h) {
      float partial = 0.0f;
      for (int64_t c = h * per_head + lane; c < (h + 1) * per_head; c += 32) partial = __fadd_rn(partial, term(p, c));
      const float value = warp_sum(partial);
      if (lane == 0) put(p, h, value);
    }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    weight_backward_kernel(Csr g, int64_t heads, int64_t per_head, int reduce, const T* __restrict__ grad_out,
                           const T* __restrict__ x, const int64_t* __restrict__ arg, T* __restrict__ grad_w, int* bad) {
  const int64_t F = heads * per_head;
  for_rows(g, true, bad, [&](int64_t i, int lane) {
    const float scale = reduce == int(Reduce::mean) ? __fdiv_rn(1.0f, float(g.rowptr[i + 1] - g.rowptr[i])) : 1.0f;
    per_edge_dots(
        g, i, lane, heads, per_head,
        [&](int64_t p, int64_t c) {
          if (arg && arg[i * F + c] != g.edge[p]) return 0.0f;
          return __fmul_rn(to_float(grad_out[i * F + c]), to_float(x[g.col[p] * F + c]));
        },
        [&](int64_t p, int64_t h, float value) {
          grad_w[g.edge[p] * heads + h] = from_float<T>(reduce == int(Reduce::mean) ? __fmul_rn(value, scale) : value);
        });
  });
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    sddmm_kernel(Csr g, int64_t heads, int64_t per_head, const T* __restrict__ a, const T* __restrict__ b,
                 T* __restrict__ out, int* bad) {
  const int64_t F = heads * per_head;
  for_rows(g, true, bad, [&](int64_t i, int lane) {
    per_edge_dots(
        g, i, lane, heads, per_head,
        [&](int64_t p, int64_t c) { return __fmul_rn(to_float(a[g.col[p] * F + c]), to_float(b[i * F + c])); },
        [&](int64_t p, int64_t h, float value) { out[g.edge[p] * heads + h] = from_float<T>(value); });
  });
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    softmax_kernel(Csr g, int64_t heads, const T* __restrict__ scores, T* __restrict__ out, int* bad) {
  for_rows(g, true, bad, [&](int64_t i, int lane) {
    const int64_t begin = g.rowptr[i], end = g.rowptr[i + 1];
    for (int64_t h = 0; h < heads; ++h) {
      auto score = [&](int64_t p) { return to_float(scores[g.edge[p] * heads + h]); };
      float peak = -INFINITY;
      for (int64_t p = begin + lane; p < end; p += 32) peak = max_nan(peak, score(p));
      peak = warp_max(peak);
      float total = 0.0f;
      for (int64_t p = begin + lane; p < end; p += 32) total = __fadd_rn(total, expf(__fsub_rn(score(p), peak)));
      total = __fadd_rn(warp_sum(total), 1e-16f);
      for (int64_t p = begin + lane; p < end; p += 32)
        out[g.edge[p] * heads + h] = from_float<T>(__fdiv_rn(expf(__fsub_rn(score(p), peak)), total));
    }
  });
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    softmax_backward_kernel(Csr g, int64_t heads, const T* __restrict__ grad_out, const T* __restrict__ y,
                            T* __restrict__ grad_scores, int* bad) {
  for_rows(g, true, bad, [&](int64_t i, int lane) {
    const int64_t begin = g.rowptr[i], end = g.rowptr[i + 1];
    for (int64_t h = 0; h < heads; ++h) {
      float dot = 0.0f;
      for (int64_t p = begin + lane; p < end; p += 32) {
        const int64_t at = g.edge[p] * heads + h;
        dot = __fadd_rn(dot, __fmul_rn(to_float(grad_out[at]), to_float(y[at])));
      }
      dot = warp_sum(dot);
      for (int64_t p = begin + lane; p < end; p += 32) {
        const int64_t at = g.edge[p] * heads + h;
        grad_scores[at] = from_float<T>(__fmul_rn(to_float(y[at]), __fsub_rn(to_float(grad_out[at]), dot)));
      }
    }
  });
}

// Launches kernel(args..., bad) over the rows of g with a zeroed flag, waits, and
// returns whether the flag stayed down.
template <class Kernel, class... Args>
bool run_rows(const char* name, const Csr& g, cudaStream_t stream, Kernel kernel, Args... args) {
  if (g.rows == 0) return true;
  auto check = [&](cudaError_t e, const char* what) {
    if (e != cudaSuccess)
      throw std::runtime_error(std::string("opzoo CUDA ") + name + ": " + what + ": " + cudaGetErrorString(e));
  };
  Scratch<int> flag({1}, stream);
  check(cudaMemsetAsync(flag[0], 0, sizeof(int), stream), "cudaMemsetAsync");
  const int64_t blocks = std::max<int64_t>(1, std::min(kMaxBlocks, (g.rows + kWarps - 1) / kWarps));
  OPZOO_LAUNCH(blocks, kThreads, 0, stream, kernel)(args..., flag[0]);
  check_launch(name);
  int bad = 0;
  check(cudaMemcpyAsync(&bad, flag[0], sizeof(int), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  return bad == 0;
}

}  // namespace

bool graph_aggregate(const Csr& g, const FeatureShape& f, Reduce reduce, DType dtype, const void* x,
                     const void* weight, const int64_t* col_rowptr, void* out, int64_t* arg, cudaStream_t stream) {
  bool ok = true;
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    ok = run_rows("graph_aggregate", g, stream, aggregate_kernel<T>, g, f.heads, f.per_head, int(reduce),
                  static_cast<const T*>(x), static_cast<const T*>(weight), col_rowptr, static_cast<T*>(out), arg);
  });
  return ok;
}

bool graph_extreme_backward(const Csr& by_source, const FeatureShape& f, DType dtype, const void* grad_out,
                            const void* weight, const int64_t* arg, void* grad_x, cudaStream_t stream) {
  bool ok = true;
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    ok = run_rows("graph_extreme_backward", by_source, stream, extreme_backward_kernel<T>, by_source,
                  f.heads, f.per_head, static_cast<const T*>(grad_out), static_cast<const T*>(weight), arg,
                  static_cast<T*>(grad_x));
  });
  return ok;
}

bool graph_weight_backward(const Csr& g, const FeatureShape& f, Reduce reduce, DType dtype, const void* grad_out,
                           const void* x, const int64_t* arg, void* grad_weight, cudaStream_t stream) {
  bool ok = true;
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    ok = run_rows("graph_weight_backward", g, stream, weight_backward_kernel<T>, g, f.heads, f.per_head,
                  int(reduce), static_cast<const T*>(grad_out), static_cast<const T*>(x), arg,
                  static_cast<T*>(grad_weight));
  });
  return ok;
}

bool graph_sddmm(const Csr& g, const FeatureShape& f, DType dtype, const void* a, const void* b, void* out,
                 cudaStream_t stream) {
  bool ok = true;
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    ok = run_rows("graph_sddmm", g, stream, sddmm_kernel<T>, g, f.heads, f.per_head,
                  static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out));
  });
  return ok;
}

bool graph_edge_softmax(const Csr& g, int64_t heads, DType dtype, const void* scores, void* out, cudaStream_t stream) {
  bool ok = true;
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    ok = run_rows("graph_edge_softmax", g, stream, softmax_kernel<T>, g, heads,
                  static_cast<const T*>(scores), static_cast<T*>(out));
  });
  return ok;
}

bool graph_edge_softmax_backward(const Csr& g, int64_t heads, DType dtype, const void* grad_out, const void* out,
                                 void* grad_scores, cudaStream_t stream) {
  bool ok = true;
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    ok = run_rows("graph_edge_softmax_backward", g, stream, softmax_backward_kernel<T>, g, heads,
                  static_cast<const T*>(grad_out), static_cast<const T*>(out), static_cast<T*>(grad_scores));
  });
  return ok;
}

}  // namespace opzoo::cuda

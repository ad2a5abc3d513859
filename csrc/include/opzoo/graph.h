// Graph message passing over a CSR: aggregation (sum, mean, max, min) of weighted
// neighbour features, per-edge dot products (SDDMM) and the softmax over the edges that
// share a target, with their backward; and the CSR build itself.
//
// A graph of N nodes and E edges j -> i (PyTorch Geometric's edge_index: row 0 the
// source j, row 1 the target i) is held twice, each built once:
//   by target: rowptr (N + 1), col[p] = the source of CSR edge p, edge[p] = its index in
//              the caller's edge order; a row's edges keep the caller's order;
//   by source: the same with the roles swapped (the backward's transposed products).
// Each output row is reduced by one thread in CSR order, so results are the same bits for
// any thread count, with no atomics; edge-aligned arrays (weights, scores, SDDMM's
// output) are indexed through edge[], in the caller's order.
//
// Node features are (N, heads, per_head) elements: with per-edge weights or scores of
// one value per head, head h's value applies to features [h * per_head, (h + 1) * per_head).
#pragma once

#include <cstdint>

namespace opzoo {

enum class Reduce : int { sum = 0, mean = 1, max = 2, min = 3 };
constexpr int kNumReduces = 4;
constexpr const char* kReduceNames[kNumReduces] = {"sum", "mean", "max", "min"};

// One CSR as the kernels read it. Every kernel checks what it reads from it (rowptr
// non-decreasing from 0 to edges, col < nodes of the other side, edge < edges) and returns
// false, having written nothing it did not check, when the arrays are inconsistent.
struct Csr {
  int64_t rows = 0;       // nodes on the reduced side
  int64_t cols = 0;       // nodes on the gathered side
  int64_t edges = 0;
  const int64_t* rowptr = nullptr;
  const int64_t* col = nullptr;
  const int64_t* edge = nullptr;
};

// Features per node: heads * per_head; `heads` is 1 unless weights or scores have one
// value per head.
struct FeatureShape {
  int64_t heads = 1, per_head = 0;
  int64_t features() const { return heads * per_head; }
};

// The CSR build from an edge list of `edges` (source, target) pairs of type I (int32 or
// int64), of `nodes` nodes: by target (or by source), a stable counting sort.
template <class I>
struct CsrBuild {
  // -1, or the first position (0 .. 2 * edges - 1, row-major over (2, edges)) holding an
  // index outside [0, nodes).
  int64_t (*first_invalid)(const I* edge_index, int64_t edges, int64_t nodes);
  // The CSR of valid indices: rowptr (nodes + 1), col and edge (edges).
  void (*build)(const I* edge_index, int64_t edges, int64_t nodes, bool by_source, int64_t* rowptr, int64_t* col,
                int64_t* edge);
};

template <class T>
struct GraphKernels {
  // out[r] = reduce over CSR row r of w * x[col[p]], w = weight[edge[p] * heads + h]
  // (1 when weight is nullptr), divided by the gathered node's count of edges in
  // col_rowptr (a CSR rowptr over g.cols nodes) when that is not nullptr: the transpose
  // of mean; 0 for an empty row. For max and min with arg not nullptr, arg[r * features
  // + f] receives the caller's index of the edge that gave out[r, f] (the first in the row
  // attaining it, or the first NaN), -1 in an empty row.
  bool (*aggregate)(const Csr& g, const FeatureShape& f, Reduce reduce, const T* x, const T* weight,
                    const int64_t* col_rowptr, T* out, int64_t* arg);
  // The transposed product of max or min's backward, over the CSR by source:
  // grad_x[j] = sum over j's edges e = j -> i of w * grad_out[i], for the features f
  // whose arg[i * features + f] is e.
  bool (*extreme_backward)(const Csr& by_source, const FeatureShape& f, const T* grad_out, const T* weight,
                           const int64_t* arg, T* grad_x);
  // The gradient of the weights, over the CSR by target: grad_weight[e * heads + h] =
  // sum over head h's features of grad_out[i] * x[j] (divided by row i's edge count for
  // mean; only where arg is e for max and min).
  bool (*weight_backward)(const Csr& g, const FeatureShape& f, Reduce reduce, const T* grad_out, const T* x,
                          const int64_t* arg, T* grad_weight);
  // out[edge[p] * heads + h] = dot of head h's features of a[col[p]] and b[r].
  bool (*sddmm)(const Csr& g, const FeatureShape& f, const T* a, const T* b, T* out);
  // Softmax over each row's edges of scores (edges, heads), per head, in the caller's order:
  // exp(s - max) / (sum + 1e-16).
  bool (*edge_softmax)(const Csr& g, int64_t heads, const T* scores, T* out);
  // grad_scores = out * (grad_out - sum over the row of grad_out * out).
  bool (*edge_softmax_backward)(const Csr& g, int64_t heads, const T* grad_out, const T* out, T* grad_scores);
};

const GraphKernels<float>& graph_kernels_f32();
const GraphKernels<double>& graph_kernels_f64();
const CsrBuild<int32_t>& csr_build_i32();
const CsrBuild<int64_t>& csr_build_i64();

}  // namespace opzoo

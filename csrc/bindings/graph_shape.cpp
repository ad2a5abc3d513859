#include "graph_shape.h"

namespace opzoo::bindings {

namespace {

void check_index_dtype(const ArrayArg& a) {
  if (a.dtype != DType::int64)
    throw py::type_error(std::string(a.name) + ": expected dtype int64, got " + dtype_name(a.dtype));
}

int64_t product(const std::vector<int64_t>& shape, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t d = from; d < to; ++d) n *= shape[d];
  return n;
}

}  // namespace

Reduce parse_reduce(const std::string& reduce) {
  for (int i = 0; i < kNumReduces; ++i)
    if (reduce == kReduceNames[i]) return Reduce(i);
  throw py::value_error("reduce: expected 'sum', 'mean', 'max' or 'min', got '" + reduce + "'");
}

Csr make_csr(const ArrayArg& rowptr, const ArrayArg& col, const ArrayArg& edge) {
  for (const ArrayArg* a : {&rowptr, &col, &edge}) {
    check_index_dtype(*a);
    check_ndim(a->shape, a->name, 1, "(n,)");
  }
  if (rowptr.shape[0] < 1) throw py::value_error("rowptr: expected shape (nodes + 1,), got (0,)");
  check_shape(edge, col.shape);
  Csr g;
  g.rows = g.cols = rowptr.shape[0] - 1;
  g.edges = col.shape[0];
  g.rowptr = rowptr.as<const int64_t>();
  g.col = col.as<const int64_t>();
  g.edge = edge.as<const int64_t>();
  return g;
}

namespace {

// x (N, ...) with N = g.rows and at least one axis; weight (optional, x's dtype and device)
// (E,) or (E, H) with x of shape (N, H, ...): the features split into heads.
FeatureShape check_node_features(const Csr& g, const ArrayArg& x, const ArrayArg* weight) {
  if (x.shape.empty() || x.shape[0] != g.rows)
    throw py::value_error(std::string(x.name) + ": expected shape (" + std::to_string(g.rows) +
                          ", ...) (a row per node), got " + shape_str(x.shape));
  FeatureShape f;
  f.per_head = product(x.shape, 1, x.shape.size());
  if (!weight) return f;
  check_same_kind(*weight, x);
  if (weight->shape.size() == 1 && weight->shape[0] == g.edges) return f;
  if (weight->shape.size() == 2 && weight->shape[0] == g.edges && x.shape.size() >= 2 &&
      x.shape[1] == weight->shape[1]) {
    f.heads = weight->shape[1];
    f.per_head = product(x.shape, 2, x.shape.size());
    return f;
  }
  throw py::value_error(std::string(weight->name) + ": expected shape (" + std::to_string(g.edges) + ",) or (" +
                        std::to_string(g.edges) + ", heads) with " + x.name + " of shape (nodes, heads, ...), got " +
                        shape_str(weight->shape) + " with " + x.name + " of shape " + shape_str(x.shape));
}

// a (N, ..., F) with at least two axes and N = g.rows: heads the product of the middle
// axes, per_head F.
FeatureShape check_dot_features(const Csr& g, const ArrayArg& a) {
  if (a.shape.size() < 2 || a.shape[0] != g.rows)
    throw py::value_error(std::string(a.name) + ": expected shape (" + std::to_string(g.rows) +
                          ", ..., features) (a row per node), got " + shape_str(a.shape));
  FeatureShape f;
  f.heads = product(a.shape, 1, a.shape.size() - 1);
  f.per_head = a.shape.back();
  return f;
}

// scores (E, ...): the number of values per edge (heads).
int64_t check_edge_values(const Csr& g, const ArrayArg& scores) {
  if (scores.shape.empty() || scores.shape[0] != g.edges)
    throw py::value_error(std::string(scores.name) + ": expected shape (" + std::to_string(g.edges) +
                          ", ...) (a row per edge), got " + shape_str(scores.shape));
  return product(scores.shape, 1, scores.shape.size());
}

// `a` of `first`'s dtype and device, of shape `shape`.
void check_like(const ArrayArg& a, const ArrayArg& first, const std::vector<int64_t>& shape) {
  check_same_kind(a, first);
  check_shape(a, shape);
}

// An int64 array of `shape` on first's device.
void check_index_like(const ArrayArg& a, const ArrayArg& first, const std::vector<int64_t>& shape) {
  check_index_dtype(a);
  check_shape(a, shape);
  if (a.device != first.device)
    throw py::value_error(std::string(a.name) + ": on device " + std::to_string(a.device) + ", " + first.name +
                          " on device " + std::to_string(first.device));
}

}  // namespace

FeatureShape check_graph_aggregate(const Csr& g, const ArrayArg& x, const ArrayArg* weight,
                                   const ArrayArg* col_rowptr, const ArrayArg& out, const ArrayArg* arg,
                                   Reduce reduce) {
  const FeatureShape f = check_node_features(g, x, weight);
  if (col_rowptr) {
    if (reduce != Reduce::sum) throw py::value_error("col_rowptr: for reduce 'sum' only");
    check_index_like(*col_rowptr, x, {g.cols + 1});
  }
  check_like(out, x, x.shape);
  if (arg) {
    if (reduce != Reduce::max && reduce != Reduce::min)
      throw py::value_error(std::string("arg: recorded for reduce 'max' and 'min' only, got '") +
                            kReduceNames[int(reduce)] + "'");
    check_index_like(*arg, x, x.shape);
    check_no_overlap(*arg, {&x, weight, &out, col_rowptr});
  }
  check_no_overlap(out, {&x, weight, col_rowptr});
  return f;
}

FeatureShape check_graph_extreme_backward(const Csr& by_source, const ArrayArg& grad_out, const ArrayArg* weight,
                                          const ArrayArg& arg, const ArrayArg& grad_x) {
  const FeatureShape f = check_node_features(by_source, grad_out, weight);
  check_index_like(arg, grad_out, grad_out.shape);
  check_like(grad_x, grad_out, grad_out.shape);
  check_no_overlap(grad_x, {&grad_out, weight, &arg});
  return f;
}

FeatureShape check_graph_weight_backward(const Csr& g, const ArrayArg& grad_out, const ArrayArg& x,
                                         const ArrayArg* arg, const ArrayArg& grad_weight, Reduce reduce) {
  const FeatureShape f = check_node_features(g, grad_out, &grad_weight);
  check_like(x, grad_out, grad_out.shape);
  const bool extreme = reduce == Reduce::max || reduce == Reduce::min;
  if (extreme != bool(arg))
    throw py::value_error(std::string("arg: expected ") + (extreme ? "an array" : "None") + " for reduce '" +
                          kReduceNames[int(reduce)] + "'");
  if (arg) check_index_like(*arg, grad_out, grad_out.shape);
  check_no_overlap(grad_weight, {&grad_out, &x, arg});
  return f;
}

FeatureShape check_graph_sddmm(const Csr& g, const ArrayArg& a, const ArrayArg& b, const ArrayArg& out) {
  const FeatureShape f = check_dot_features(g, a);
  check_like(b, a, a.shape);
  std::vector<int64_t> shape(a.shape.begin(), a.shape.end() - 1);
  shape[0] = g.edges;
  check_like(out, a, shape);
  check_no_overlap(out, {&a, &b});
  return f;
}

int64_t check_graph_softmax(const Csr& g, const ArrayArg& scores, const ArrayArg& out) {
  const int64_t heads = check_edge_values(g, scores);
  check_like(out, scores, scores.shape);
  check_no_overlap(out, {&scores});
  return heads;
}

int64_t check_graph_softmax_backward(const Csr& g, const ArrayArg& grad_out, const ArrayArg& softmax_out,
                                     const ArrayArg& grad_scores) {
  const int64_t heads = check_edge_values(g, grad_out);
  check_like(softmax_out, grad_out, grad_out.shape);
  check_like(grad_scores, grad_out, grad_out.shape);
  check_no_overlap(grad_scores, {&grad_out, &softmax_out});
  return heads;
}

void check_csr_read(bool ok) {
  if (!ok)
    throw py::value_error(
        "graph: the CSR arrays are inconsistent (rowptr not rising from 0 to the edge count, or a node or edge "
        "index out of range); build them with opzoo.Graph");
}

}  // namespace opzoo::bindings

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

FeatureShape check_dot_features(const Csr& g, const ArrayArg& a) {
  if (a.shape.size() < 2 || a.shape[0] != g.rows)
    throw py::value_error(std::string(a.name) + ": expected shape (" + std::to_string(g.rows) +
                          ", ..., features) (a row per node), got " + shape_str(a.shape));
  FeatureShape f;
  f.heads = product(a.shape, 1, a.shape.size() - 1);
  f.per_head = a.shape.back();
  return f;
}

int64_t check_edge_values(const Csr& g, const ArrayArg& scores) {
  if (scores.shape.empty() || scores.shape[0] != g.edges)
    throw py::value_error(std::string(scores.name) + ": expected shape (" + std::to_string(g.edges) +
                          ", ...) (a row per edge), got " + shape_str(scores.shape));
  return product(scores.shape, 1, scores.shape.size());
}

void check_like(const ArrayArg& a, const ArrayArg& first, const std::vector<int64_t>& shape) {
  check_same_kind(a, first);
  check_shape(a, shape);
}

void check_col_rowptr(const Csr& g, const ArrayArg& col_rowptr, Reduce reduce) {
  if (reduce != Reduce::sum) throw py::value_error("col_rowptr: for reduce 'sum' only");
  check_index_dtype(col_rowptr);
  check_shape(col_rowptr, {g.cols + 1});
}

void check_index_shape(const ArrayArg& a, const std::vector<int64_t>& shape) {
  check_index_dtype(a);
  check_shape(a, shape);
}

}  // namespace opzoo::bindings

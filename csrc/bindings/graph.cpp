// opzoo._cpu graph_csr, graph_aggregate and the other graph kernels: the shared array
// rules, then the kernels without the GIL; a CSR the kernels find inconsistent is a
// ValueError (they read nothing out of its bounds on the way).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "graph_shape.h"
#include "host_array.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

template <class T>
const GraphKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return graph_kernels_f32();
  else return graph_kernels_f64();
}

template <class T>
const T* data_or_null(const std::optional<ArrayArg>& a) {
  return a ? a->as<const T>() : nullptr;
}

const CsrBuild<int32_t>& csr_build(int32_t) { return csr_build_i32(); }
const CsrBuild<int64_t>& csr_build(int64_t) { return csr_build_i64(); }

template <class I>
py::tuple build(const ArrayArg& ei, int64_t nodes, bool by_source) {
  const CsrBuild<I>& b = csr_build(I{});
  const I* index = ei.as<const I>();
  const int64_t edges = ei.shape[1];
  int64_t bad;
  {
    py::gil_scoped_release release;
    bad = b.first_invalid(index, edges, nodes);
  }
  if (bad >= 0)
    throw py::value_error("edge_index: expected node indices in [0, " + std::to_string(nodes) + "), got " +
                          std::to_string(int64_t(index[bad])) + " at edge_index[" + std::to_string(bad / edges) +
                          ", " + std::to_string(bad % edges) + "]");
  // Allocated once the indices are known good: a num_nodes too large for memory is a
  // MemoryError, never an allocation for a call that fails.
  py::array_t<int64_t> rowptr(nodes + 1), col(edges), edge(edges);
  {
    py::gil_scoped_release release;
    b.build(index, edges, nodes, by_source, rowptr.mutable_data(), col.mutable_data(), edge.mutable_data());
  }
  return py::make_tuple(rowptr, col, edge);
}

py::tuple csr(const py::array& edge_index_in, int64_t nodes, bool by_source) {
  const ArrayArg ei = host_index_array(edge_index_in, "edge_index", false, true);
  if (ei.shape.size() != 2 || ei.shape[0] != 2)
    throw py::value_error("edge_index: expected shape (2, edges), got " + shape_str(ei.shape));
  if (nodes < 0) throw py::value_error("num_nodes: expected a count >= 0, got " + std::to_string(nodes));
  if (ei.dtype == DType::int32) return build<int32_t>(ei, nodes, by_source);
  return build<int64_t>(ei, nodes, by_source);
}

void aggregate(const py::array& rowptr_in, const py::array& col_in, const py::array& edge_in, const py::array& x_in,
               const std::optional<py::array>& weight_in, const std::optional<py::array>& col_rowptr_in,
               const py::array& out_in, const std::optional<py::array>& arg_in, const std::string& reduce_name) {
  const Csr g = make_csr(host_index_array(rowptr_in, "rowptr"), host_index_array(col_in, "col"),
                         host_index_array(edge_in, "edge"));
  const ArrayArg x = host_array(x_in, "x"), out = host_array(out_in, "out", true);
  const std::optional<ArrayArg> weight = host_array(weight_in, "edge_weight"),
                                col_rowptr = host_index_array(col_rowptr_in, "col_rowptr"),
                                arg = host_index_array(arg_in, "arg", true);
  const Reduce reduce = parse_reduce(reduce_name);
  const FeatureShape f = check_graph_aggregate(g, x, weight ? &*weight : nullptr, col_rowptr ? &*col_rowptr : nullptr,
                                               out, arg ? &*arg : nullptr, reduce);
  bool ok;
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    ok = kernels<T>().aggregate(g, f, reduce, x.as<const T>(), data_or_null<T>(weight),
                                col_rowptr ? col_rowptr->as<const int64_t>() : nullptr, out.as<T>(),
                                arg ? arg->as<int64_t>() : nullptr);
  });
  check_csr_read(ok);
}

void extreme_backward(const py::array& rowptr_in, const py::array& col_in, const py::array& edge_in,
                      const py::array& grad_out_in, const std::optional<py::array>& weight_in,
                      const py::array& arg_in, const py::array& grad_x_in) {
  const Csr t = make_csr(host_index_array(rowptr_in, "rowptr"), host_index_array(col_in, "col"),
                         host_index_array(edge_in, "edge"));
  const ArrayArg go = host_array(grad_out_in, "grad_out"), gx = host_array(grad_x_in, "grad_x", true);
  const ArrayArg arg = host_index_array(arg_in, "arg");
  const std::optional<ArrayArg> weight = host_array(weight_in, "edge_weight");
  const FeatureShape f = check_graph_extreme_backward(t, go, weight ? &*weight : nullptr, arg, gx);
  bool ok;
  with_host_type(go.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    ok = kernels<T>().extreme_backward(t, f, go.as<const T>(), data_or_null<T>(weight), arg.as<const int64_t>(),
                                       gx.as<T>());
  });
  check_csr_read(ok);
}

void weight_backward(const py::array& rowptr_in, const py::array& col_in, const py::array& edge_in,
                     const py::array& grad_out_in, const py::array& x_in, const std::optional<py::array>& arg_in,
                     const py::array& grad_weight_in, const std::string& reduce_name) {
  const Csr g = make_csr(host_index_array(rowptr_in, "rowptr"), host_index_array(col_in, "col"),
                         host_index_array(edge_in, "edge"));
  const ArrayArg go = host_array(grad_out_in, "grad_out"), x = host_array(x_in, "x");
  const ArrayArg gw = host_array(grad_weight_in, "grad_edge_weight", true);
  const std::optional<ArrayArg> arg = host_index_array(arg_in, "arg");
  const Reduce reduce = parse_reduce(reduce_name);
  const FeatureShape f = check_graph_weight_backward(g, go, x, arg ? &*arg : nullptr, gw, reduce);
  bool ok;
  with_host_type(go.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    ok = kernels<T>().weight_backward(g, f, reduce, go.as<const T>(), x.as<const T>(),
                                      arg ? arg->as<const int64_t>() : nullptr, gw.as<T>());
  });
  check_csr_read(ok);
}

void sddmm(const py::array& rowptr_in, const py::array& col_in, const py::array& edge_in, const py::array& a_in,
           const py::array& b_in, const py::array& out_in) {
  const Csr g = make_csr(host_index_array(rowptr_in, "rowptr"), host_index_array(col_in, "col"),
                         host_index_array(edge_in, "edge"));
  const ArrayArg a = host_array(a_in, "a"), b = host_array(b_in, "b"), out = host_array(out_in, "out", true);
  const FeatureShape f = check_graph_sddmm(g, a, b, out);
  bool ok;
  with_host_type(a.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    ok = kernels<T>().sddmm(g, f, a.as<const T>(), b.as<const T>(), out.as<T>());
  });
  check_csr_read(ok);
}

void edge_softmax(const py::array& rowptr_in, const py::array& col_in, const py::array& edge_in,
                  const py::array& scores_in, const py::array& out_in) {
  const Csr g = make_csr(host_index_array(rowptr_in, "rowptr"), host_index_array(col_in, "col"),
                         host_index_array(edge_in, "edge"));
  const ArrayArg s = host_array(scores_in, "scores"), out = host_array(out_in, "out", true);
  const int64_t heads = check_graph_softmax(g, s, out);
  bool ok;
  with_host_type(s.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    ok = kernels<T>().edge_softmax(g, heads, s.as<const T>(), out.as<T>());
  });
  check_csr_read(ok);
}

void edge_softmax_backward(const py::array& rowptr_in, const py::array& col_in, const py::array& edge_in,
                           const py::array& grad_out_in, const py::array& out_in, const py::array& grad_in) {
  const Csr g = make_csr(host_index_array(rowptr_in, "rowptr"), host_index_array(col_in, "col"),
                         host_index_array(edge_in, "edge"));
  const ArrayArg go = host_array(grad_out_in, "grad_out"), y = host_array(out_in, "softmax_out");
  const ArrayArg gs = host_array(grad_in, "grad_scores", true);
  const int64_t heads = check_graph_softmax_backward(g, go, y, gs);
  bool ok;
  with_host_type(go.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    ok = kernels<T>().edge_softmax_backward(g, heads, go.as<const T>(), y.as<const T>(), gs.as<T>());
  });
  check_csr_read(ok);
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(graph) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("graph_reduces", []() { return std::vector<std::string>(opzoo::kReduceNames, opzoo::kReduceNames + opzoo::kNumReduces); },
        "The reductions graph_aggregate takes.");
  m.def("graph_csr", &b::csr, py::arg("edge_index").noconvert(), py::arg("num_nodes"), py::arg("by_source"),
        "The CSR of edge_index (2, E) by target (or by source): rowptr, the other end of each edge, and its "
        "index in edge_index; ValueError naming the first index out of range.");
  m.def("graph_aggregate", &b::aggregate, py::arg("rowptr").noconvert(), py::arg("col").noconvert(),
        py::arg("edge").noconvert(), py::arg("x").noconvert(), py::arg("edge_weight").noconvert().none(true),
        py::arg("col_rowptr").noconvert().none(true), py::arg("out").noconvert(),
        py::arg("arg").noconvert().none(true), py::arg("reduce"),
        "out[r] = reduce over CSR row r of edge_weight * x[col] (each term divided by col's count in col_rowptr "
        "when given); for max and min, arg the extreme's edge.");
  m.def("graph_extreme_backward", &b::extreme_backward, py::arg("rowptr").noconvert(), py::arg("col").noconvert(),
        py::arg("edge").noconvert(), py::arg("grad_out").noconvert(), py::arg("edge_weight").noconvert().none(true),
        py::arg("arg").noconvert(), py::arg("grad_x").noconvert(),
        "grad_x of max or min aggregation, over the CSR by source.");
  m.def("graph_weight_backward", &b::weight_backward, py::arg("rowptr").noconvert(), py::arg("col").noconvert(),
        py::arg("edge").noconvert(), py::arg("grad_out").noconvert(), py::arg("x").noconvert(),
        py::arg("arg").noconvert().none(true), py::arg("grad_edge_weight").noconvert(), py::arg("reduce"),
        "The gradient of aggregation's edge weights.");
  m.def("graph_sddmm", &b::sddmm, py::arg("rowptr").noconvert(), py::arg("col").noconvert(),
        py::arg("edge").noconvert(), py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("out").noconvert(),
        "out[edge] = dot(a[source], b[target]) over the last axis.");
  m.def("graph_edge_softmax", &b::edge_softmax, py::arg("rowptr").noconvert(), py::arg("col").noconvert(),
        py::arg("edge").noconvert(), py::arg("scores").noconvert(), py::arg("out").noconvert(),
        "Softmax of scores over the edges of each CSR row.");
  m.def("graph_edge_softmax_backward", &b::edge_softmax_backward, py::arg("rowptr").noconvert(),
        py::arg("col").noconvert(), py::arg("edge").noconvert(), py::arg("grad_out").noconvert(),
        py::arg("softmax_out").noconvert(), py::arg("grad_scores").noconvert(), "grad_scores of graph_edge_softmax.");
}

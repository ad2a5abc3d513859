// opzoo._cuda graph kernels: the arrays checked against each other (graph_shape.h, as
// the CPU binding checks them), then the kernels launched on the caller's device and
// stream without the GIL; a CSR the kernels find inconsistent is a ValueError.
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "device_array.h"
#include "graph_cuda.h"
#include "graph_shape.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

Csr device_csr(const py::handle& rowptr, const py::handle& col, const py::handle& edge, int device) {
  const ArrayArg r = device_index_array(rowptr, "rowptr"), c = device_index_array(col, "col"),
                 e = device_index_array(edge, "edge");
  for (const ArrayArg* a : {&r, &c, &e})
    if (a->device != device)
      throw py::value_error(std::string(a->name) + ": on device " + std::to_string(a->device) + ", the features on " +
                            std::to_string(device));
  return make_csr(r, c, e);
}

const void* data_or_null(const std::optional<ArrayArg>& a) { return a ? a->data : nullptr; }

void aggregate(const py::handle& rowptr, const py::handle& col, const py::handle& edge, const py::handle& x_d,
               const py::handle& weight_d, const py::handle& col_rowptr_d, const py::handle& out_d,
               const py::handle& arg_d, const std::string& reduce_name, uintptr_t stream) {
  const ArrayArg x = device_array(x_d, "x"), out = device_array(out_d, "out");
  const Csr g = device_csr(rowptr, col, edge, x.device);
  const std::optional<ArrayArg> weight = optional_device_array(weight_d, "edge_weight"),
                                col_rowptr = optional_device_index_array(col_rowptr_d, "col_rowptr"),
                                arg = optional_device_index_array(arg_d, "arg");
  const Reduce reduce = parse_reduce(reduce_name);
  const FeatureShape f = check_graph_aggregate(g, x, weight ? &*weight : nullptr, col_rowptr ? &*col_rowptr : nullptr,
                                               out, arg ? &*arg : nullptr, reduce);
  bool ok = true;
  {
    py::gil_scoped_release release;
    on_device(x.device, [&] {
      ok = cuda::graph_aggregate(g, f, reduce, x.dtype, x.data, data_or_null(weight),
                                 col_rowptr ? col_rowptr->as<const int64_t>() : nullptr, out.data,
                                 arg ? arg->as<int64_t>() : nullptr, as_stream(stream));
    });
  }
  check_csr_read(ok);
}

void extreme_backward(const py::handle& rowptr, const py::handle& col, const py::handle& edge,
                      const py::handle& grad_out_d, const py::handle& weight_d, const py::handle& arg_d,
                      const py::handle& grad_x_d, uintptr_t stream) {
  const ArrayArg go = device_array(grad_out_d, "grad_out"), gx = device_array(grad_x_d, "grad_x");
  const ArrayArg arg = device_index_array(arg_d, "arg");
  const Csr t = device_csr(rowptr, col, edge, go.device);
  const std::optional<ArrayArg> weight = optional_device_array(weight_d, "edge_weight");
  const FeatureShape f = check_graph_extreme_backward(t, go, weight ? &*weight : nullptr, arg, gx);
  bool ok = true;
  {
    py::gil_scoped_release release;
    on_device(go.device, [&] {
      ok = cuda::graph_extreme_backward(t, f, go.dtype, go.data, data_or_null(weight), arg.as<const int64_t>(),
                                        gx.data, as_stream(stream));
    });
  }
  check_csr_read(ok);
}

void weight_backward(const py::handle& rowptr, const py::handle& col, const py::handle& edge,
                     const py::handle& grad_out_d, const py::handle& x_d, const py::handle& arg_d,
                     const py::handle& grad_weight_d, const std::string& reduce_name, uintptr_t stream) {
  const ArrayArg go = device_array(grad_out_d, "grad_out"), x = device_array(x_d, "x");
  const ArrayArg gw = device_array(grad_weight_d, "grad_edge_weight");
  const Csr g = device_csr(rowptr, col, edge, go.device);
  const std::optional<ArrayArg> arg = optional_device_index_array(arg_d, "arg");
  const Reduce reduce = parse_reduce(reduce_name);
  const FeatureShape f = check_graph_weight_backward(g, go, x, arg ? &*arg : nullptr, gw, reduce);
  bool ok = true;
  {
    py::gil_scoped_release release;
    on_device(go.device, [&] {
      ok = cuda::graph_weight_backward(g, f, reduce, go.dtype, go.data, x.data,
                                       arg ? arg->as<const int64_t>() : nullptr, gw.data, as_stream(stream));
    });
  }
  check_csr_read(ok);
}

void sddmm(const py::handle& rowptr, const py::handle& col, const py::handle& edge, const py::handle& a_d,
           const py::handle& b_d, const py::handle& out_d, uintptr_t stream) {
  const ArrayArg a = device_array(a_d, "a"), b = device_array(b_d, "b"), out = device_array(out_d, "out");
  const Csr g = device_csr(rowptr, col, edge, a.device);
  const FeatureShape f = check_graph_sddmm(g, a, b, out);
  bool ok = true;
  {
    py::gil_scoped_release release;
    on_device(a.device, [&] { ok = cuda::graph_sddmm(g, f, a.dtype, a.data, b.data, out.data, as_stream(stream)); });
  }
  check_csr_read(ok);
}

void edge_softmax(const py::handle& rowptr, const py::handle& col, const py::handle& edge, const py::handle& scores_d,
                  const py::handle& out_d, uintptr_t stream) {
  const ArrayArg s = device_array(scores_d, "scores"), out = device_array(out_d, "out");
  const Csr g = device_csr(rowptr, col, edge, s.device);
  const int64_t heads = check_graph_softmax(g, s, out);
  bool ok = true;
  {
    py::gil_scoped_release release;
    on_device(s.device, [&] { ok = cuda::graph_edge_softmax(g, heads, s.dtype, s.data, out.data, as_stream(stream)); });
  }
  check_csr_read(ok);
}

void edge_softmax_backward(const py::handle& rowptr, const py::handle& col, const py::handle& edge,
                           const py::handle& grad_out_d, const py::handle& out_d, const py::handle& grad_d,
                           uintptr_t stream) {
  const ArrayArg go = device_array(grad_out_d, "grad_out"), y = device_array(out_d, "softmax_out");
  const ArrayArg gs = device_array(grad_d, "grad_scores");
  const Csr g = device_csr(rowptr, col, edge, go.device);
  const int64_t heads = check_graph_softmax_backward(g, go, y, gs);
  bool ok = true;
  {
    py::gil_scoped_release release;
    on_device(go.device, [&] {
      ok = cuda::graph_edge_softmax_backward(g, heads, go.dtype, go.data, y.data, gs.data, as_stream(stream));
    });
  }
  check_csr_read(ok);
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(graph) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("graph_aggregate", &b::aggregate, py::arg("rowptr"), py::arg("col"), py::arg("edge"), py::arg("x"),
        py::arg("edge_weight").none(true), py::arg("col_rowptr").none(true), py::arg("out"),
        py::arg("arg").none(true), py::arg("reduce"), py::arg("stream"),
        "out[r] = reduce over CSR row r of edge_weight * x[col] (divided by col's count in col_rowptr when given); "
        "for max and min, arg the edge.");
  m.def("graph_extreme_backward", &b::extreme_backward, py::arg("rowptr"), py::arg("col"), py::arg("edge"),
        py::arg("grad_out"), py::arg("edge_weight").none(true), py::arg("arg"), py::arg("grad_x"), py::arg("stream"),
        "grad_x of max or min aggregation, over the CSR by source.");
  m.def("graph_weight_backward", &b::weight_backward, py::arg("rowptr"), py::arg("col"), py::arg("edge"),
        py::arg("grad_out"), py::arg("x"), py::arg("arg").none(true), py::arg("grad_edge_weight"), py::arg("reduce"),
        py::arg("stream"), "The gradient of aggregation's edge weights.");
  m.def("graph_sddmm", &b::sddmm, py::arg("rowptr"), py::arg("col"), py::arg("edge"), py::arg("a"), py::arg("b"),
        py::arg("out"), py::arg("stream"), "out[edge] = dot(a[source], b[target]) over the last axis.");
  m.def("graph_edge_softmax", &b::edge_softmax, py::arg("rowptr"), py::arg("col"), py::arg("edge"),
        py::arg("scores"), py::arg("out"), py::arg("stream"), "Softmax of scores over the edges of each CSR row.");
  m.def("graph_edge_softmax_backward", &b::edge_softmax_backward, py::arg("rowptr"), py::arg("col"), py::arg("edge"),
        py::arg("grad_out"), py::arg("softmax_out"), py::arg("grad_scores"), py::arg("stream"),
        "grad_scores of graph_edge_softmax.");
}

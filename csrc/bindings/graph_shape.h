// The graph ops' arrays checked against each other, for the CPU binding, the CUDA
// binding and the Python API: a CSR's three arrays, node features against the graph,
// edge-aligned arrays against its edge count, and the feature split into heads.
#pragma once

#include <string>

#include "arrays.h"
#include "opzoo/graph.h"

namespace opzoo::bindings {

// reduce one of kReduceNames; ValueError naming the accepted ones otherwise.
Reduce parse_reduce(const std::string& reduce);

// rowptr (rows + 1,), col and edge (E,), all int64: a Csr over them (its cols = rows: one
// node set), for the kernels to validate as they read it.
Csr make_csr(const ArrayArg& rowptr, const ArrayArg& col, const ArrayArg& edge);

// The arguments of each kernel (opzoo/graph.h), checked against each other and g: the
// feature split or the values per edge the kernel takes. Index arrays (col_rowptr, arg)
// are int64 on the features' device; col_rowptr (g.cols + 1,) for reduce sum only; arg
// x's shape, for max and min only (and then required by weight_backward).
FeatureShape check_graph_aggregate(const Csr& g, const ArrayArg& x, const ArrayArg* weight,
                                   const ArrayArg* col_rowptr, const ArrayArg& out, const ArrayArg* arg, Reduce reduce);
FeatureShape check_graph_extreme_backward(const Csr& by_source, const ArrayArg& grad_out, const ArrayArg* weight,
                                          const ArrayArg& arg, const ArrayArg& grad_x);
FeatureShape check_graph_weight_backward(const Csr& g, const ArrayArg& grad_out, const ArrayArg& x,
                                         const ArrayArg* arg, const ArrayArg& grad_weight, Reduce reduce);
FeatureShape check_graph_sddmm(const Csr& g, const ArrayArg& a, const ArrayArg& b, const ArrayArg& out);
int64_t check_graph_softmax(const Csr& g, const ArrayArg& scores, const ArrayArg& out);
int64_t check_graph_softmax_backward(const Csr& g, const ArrayArg& grad_out, const ArrayArg& softmax_out,
                                     const ArrayArg& grad_scores);

// ValueError unless the kernels found the CSR consistent (`ok`).
void check_csr_read(bool ok);

}  // namespace opzoo::bindings

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

// x (N, ...) with N = g.rows and at least one axis; weight (optional, x's dtype and device)
// (E,) or (E, H) with x of shape (N, H, ...): the features split into heads.
FeatureShape check_node_features(const Csr& g, const ArrayArg& x, const ArrayArg* weight);
// a (N, ..., F) with at least two axes and N = g.rows: heads the product of the middle
// axes, per_head F.
FeatureShape check_dot_features(const Csr& g, const ArrayArg& a);
// scores (E, ...): the number of values per edge (heads).
int64_t check_edge_values(const Csr& g, const ArrayArg& scores);

// `a` of `first`'s dtype and device, of shape `shape` (ValueError / TypeError otherwise).
void check_like(const ArrayArg& a, const ArrayArg& first, const std::vector<int64_t>& shape);
// col_rowptr, the gathered nodes' CSR rowptr whose counts divide each term (mean's
// transpose): int64 (g.cols + 1,), for reduce sum only.
void check_col_rowptr(const Csr& g, const ArrayArg& col_rowptr, Reduce reduce);
// An int64 array of `shape` (the max/min arg-extremes, x's shape).
void check_index_shape(const ArrayArg& a, const std::vector<int64_t>& shape);

}  // namespace opzoo::bindings

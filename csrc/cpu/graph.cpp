// Run-time choice among the graph kernel variants, and the CSR build, which has no
// arithmetic to vectorise: a validated, stable counting sort of the edges by target (or
// by source), split over the threads by contiguous runs of edges.
#include <vector>

#include "graph_variants.h"
#include "kernel_common.h"

namespace opzoo {

const GraphKernels<float>& graph_kernels_f32() { return cpu::pick_variant(cpu::graph_variants(), simd_level()); }

const GraphKernels<double>& graph_kernels_f64() { return cpu::graph_f64; }

namespace {

using cpu::ceil_div;
using cpu::min64;
using cpu::parallel_for;

int build_threads(int64_t edges, int64_t nodes) {
  return edges >= (int64_t(1) << 16) && nodes <= edges ? cpu::threads_for(edges >> 15) : 1;
}

template <class I>
int64_t first_out_of_range(const I* edge_index, int64_t edges, int64_t nodes) {
  const int threads = build_threads(edges, nodes);
  const int64_t n = 2 * edges, chunk = ceil_div(n, threads);
  std::vector<int64_t> first(size_t(threads), -1);
  parallel_for(threads, threads, [&](int64_t t, int) {
    for (int64_t p = t * chunk; p < min64(n, (t + 1) * chunk); ++p)
      if (edge_index[p] < 0 || int64_t(edge_index[p]) >= nodes) {
        first[size_t(t)] = p;
        return;
      }
  });
  for (const int64_t p : first)
    if (p >= 0) return p;
  return -1;
}

template <class I>
void build_csr(const I* edge_index, int64_t edges, int64_t nodes, bool by_source, int64_t* rowptr, int64_t* col,
               int64_t* edge) {
  const int threads = build_threads(edges, nodes);
  const I* key = by_source ? edge_index : edge_index + edges;
  const I* other = by_source ? edge_index + edges : edge_index;
  const int64_t chunk = ceil_div(edges, threads);
  // next[t * nodes + k]: where thread t's next edge of row k goes.
  std::vector<int64_t> next(size_t(threads) * size_t(nodes), 0);
  parallel_for(threads, threads, [&](int64_t t, int) {
    int64_t* count = next.data() + t * nodes;
    for (int64_t e = t * chunk; e < min64(edges, (t + 1) * chunk); ++e) ++count[key[e]];
  });
  int64_t start = 0;
  for (int64_t k = 0; k < nodes; ++k) {
    rowptr[k] = start;
    for (int t = 0; t < threads; ++t) {
      const int64_t c = next[size_t(t) * size_t(nodes) + size_t(k)];
      next[size_t(t) * size_t(nodes) + size_t(k)] = start;
      start += c;
    }
  }
  rowptr[nodes] = start;
  parallel_for(threads, threads, [&](int64_t t, int) {
    int64_t* cursor = next.data() + t * nodes;
    for (int64_t e = t * chunk; e < min64(edges, (t + 1) * chunk); ++e) {
      const int64_t p = cursor[key[e]]++;
      col[p] = other[e];
      edge[p] = e;
    }
  });
}

const CsrBuild<int32_t> csr_i32{first_out_of_range<int32_t>, build_csr<int32_t>};
const CsrBuild<int64_t> csr_i64{first_out_of_range<int64_t>, build_csr<int64_t>};

}  // namespace

const CsrBuild<int32_t>& csr_build_i32() { return csr_i32; }
const CsrBuild<int64_t>& csr_build_i64() { return csr_i64; }

}  // namespace opzoo

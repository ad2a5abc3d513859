// The graph CUDA kernels (cuda/graph.cu, compiled into this test over the CUDA emulation
// layer) against the portable CPU kernels in float32 on random graphs with hub and
// isolated nodes, per-edge and per-head weights, NaN among the features: max and min the
// same values and edges exactly, sums and dot products to rounding; and a CSR with an
// index out of range refused, not read.
#include "../../cuda/graph.cu"

#include <cmath>
#include <cstdio>
#include <vector>

#include "graph_variants.h"
#include "variant_test.h"

namespace {

using opzoo::Csr;
using opzoo::FeatureShape;
using opzoo::Reduce;

struct Lists {
  std::vector<int64_t> rowptr, col, edge;
  Csr csr(int64_t nodes, int64_t edges) const { return {nodes, nodes, edges, rowptr.data(), col.data(), edge.data()}; }
};

int compare(const char* what, const std::vector<float>& got, const std::vector<float>& want, double tolerance) {
  const double err = opzoo::test::relative_error(got, want);
  if (err <= tolerance) return 0;
  std::printf("cuda: %s differs from the portable kernels (relative error %g)\n", what, err);
  return 1;
}

}  // namespace

int main() {
  opzoo::set_num_threads(1);  // the reference on one thread: ThreadSanitizer does not see libgomp's synchronisation
#if defined(__SANITIZE_THREAD__)
  const int64_t nodes = 23, edges = 120;
#else
  const int64_t nodes = 97, edges = 1500;
#endif
  const auto& cpu = *opzoo::cpu::graph_variants().front().table;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int64_t> any(0, nodes - 4), hub(0, nodes / 8);
  std::vector<int64_t> index(size_t(2 * edges));
  for (int64_t e = 0; e < edges; ++e) {
    index[size_t(e)] = any(rng);
    index[size_t(edges + e)] = e % 3 == 0 ? hub(rng) : any(rng);
  }
  Lists t, s;
  for (Lists* l : {&t, &s}) {
    l->rowptr.resize(size_t(nodes + 1));
    l->col.resize(size_t(edges));
    l->edge.resize(size_t(edges));
  }
  opzoo::csr_build_i64().build(index.data(), edges, nodes, false, t.rowptr.data(), t.col.data(), t.edge.data());
  opzoo::csr_build_i64().build(index.data(), edges, nodes, true, s.rowptr.data(), s.col.data(), s.edge.data());
  const Csr g = t.csr(nodes, edges), by_source = s.csr(nodes, edges);
  int failures = 0, checked = 0;
  for (const int64_t features : {1, 33, 64}) {
    for (const int64_t heads : {1, 3}) {
      const FeatureShape f{heads, features};
      const int64_t n = nodes * f.features();
      std::vector<float> x = opzoo::test::random_vector(rng, n), go = opzoo::test::random_vector(rng, n);
      x[5] = NAN;
      const std::vector<float> w = opzoo::test::random_vector(rng, edges * heads);
      for (int r = 0; r < opzoo::kNumReduces; ++r) {
        const Reduce reduce = Reduce(r);
        const bool extreme = reduce == Reduce::max || reduce == Reduce::min;
        const float* wp = w.data();
        std::vector<float> out(static_cast<size_t>(n)), want(out.size());
        std::vector<int64_t> arg(out.size()), want_arg(out.size());
        int64_t* a = extreme ? arg.data() : nullptr;
        failures += !opzoo::cuda::graph_aggregate(g, f, reduce, opzoo::DType::float32, x.data(), wp, nullptr,
                                                  out.data(), a, nullptr);
        cpu.aggregate(g, f, reduce, x.data(), wp, nullptr, want.data(), extreme ? want_arg.data() : nullptr);
        failures += compare("aggregate", out, want, extreme ? 0.0 : 1e-5);
        if (extreme && arg != want_arg) {
          std::printf("cuda: aggregate's arg-extremes differ from the portable kernels\n");
          ++failures;
        }
        if (extreme) {
          std::vector<float> gx(out.size()), want_gx(out.size());
          opzoo::cuda::graph_extreme_backward(by_source, f, opzoo::DType::float32, go.data(), wp, want_arg.data(),
                                              gx.data(), nullptr);
          cpu.extreme_backward(by_source, f, go.data(), wp, want_arg.data(), want_gx.data());
          failures += compare("extreme_backward", gx, want_gx, 1e-5);
        }
        std::vector<float> gw(w.size()), want_gw(w.size());
        const int64_t* extremes = extreme ? want_arg.data() : nullptr;
        opzoo::cuda::graph_weight_backward(g, f, reduce, opzoo::DType::float32, go.data(), x.data(), extremes,
                                           gw.data(), nullptr);
        cpu.weight_backward(g, f, reduce, go.data(), x.data(), extremes, want_gw.data());
        failures += compare("weight_backward", gw, want_gw, 1e-5);
        if (reduce == Reduce::sum) {  // mean's transpose: each term over its gathered node's edge count
          std::vector<float> gt(out.size()), want_gt(out.size());
          opzoo::cuda::graph_aggregate(by_source, f, reduce, opzoo::DType::float32, go.data(), wp, t.rowptr.data(),
                                       gt.data(), nullptr, nullptr);
          cpu.aggregate(by_source, f, reduce, go.data(), wp, t.rowptr.data(), want_gt.data(), nullptr);
          failures += compare("aggregate over col counts", gt, want_gt, 1e-5);
        }
        ++checked;
      }
      std::vector<float> dots(w.size()), want_dots(w.size()), y(w.size()), want_y(w.size()), gs(w.size()),
          want_gs(w.size());
      opzoo::cuda::graph_sddmm(g, f, opzoo::DType::float32, go.data(), x.data(), dots.data(), nullptr);
      cpu.sddmm(g, f, go.data(), x.data(), want_dots.data());
      failures += compare("sddmm", dots, want_dots, 1e-5);
      opzoo::cuda::graph_edge_softmax(g, heads, opzoo::DType::float32, w.data(), y.data(), nullptr);
      cpu.edge_softmax(g, heads, w.data(), want_y.data());
      failures += compare("edge_softmax", y, want_y, 1e-6);
      const std::vector<float> gy = opzoo::test::random_vector(rng, edges * heads);
      opzoo::cuda::graph_edge_softmax_backward(g, heads, opzoo::DType::float32, gy.data(), want_y.data(), gs.data(),
                                               nullptr);
      cpu.edge_softmax_backward(g, heads, gy.data(), want_y.data(), want_gs.data());
      failures += compare("edge_softmax_backward", gs, want_gs, 1e-5);
      ++checked;
    }
  }
  // An index out of range: refused by every kernel, nothing read past the arrays.
  Lists bad = t;
  bad.col[size_t(edges / 2)] = nodes + 5;
  std::vector<float> x(static_cast<size_t>(nodes)), out(x.size()), scores(static_cast<size_t>(edges));
  if (opzoo::cuda::graph_aggregate(bad.csr(nodes, edges), FeatureShape{1, 1}, Reduce::sum, opzoo::DType::float32,
                                   x.data(), nullptr, nullptr, out.data(), nullptr, nullptr)) {
    std::printf("cuda: an out-of-range index was not refused\n");
    ++failures;
  }
  bad = t;
  bad.edge[3] = -1;
  if (opzoo::cuda::graph_edge_softmax(bad.csr(nodes, edges), 1, opzoo::DType::float32, scores.data(), scores.data(),
                                      nullptr)) {
    std::printf("cuda: a negative edge index was not refused\n");
    ++failures;
  }
  std::printf("cuda (emulated): %d graph cases against the portable kernels: %s\n", checked,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

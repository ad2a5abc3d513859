// Every SIMD variant of the graph kernels this build has against the portable ones, on
// random graphs with hub nodes, isolated nodes and feature counts around the vector
// widths: aggregation (each reduce, without weights, per edge and per head, with the
// arg-extremes), its backward kernels, SDDMM and the edge softmax. Max and min must give
// the same values and edges exactly (no rounding is involved); sums agree to rounding.
// Exits non-zero on a disagreement.
#include <cstdio>
#include <vector>

#include "graph_variants.h"
#include "variant_test.h"

namespace {

using opzoo::Csr;
using opzoo::FeatureShape;
using opzoo::GraphKernels;
using opzoo::Reduce;

struct TestGraph {
  int64_t nodes = 0, edges = 0;
  std::vector<int64_t> index, rowptr, col, edge, rowptr_t, col_t, edge_t;
  Csr by_target() const { return {nodes, nodes, edges, rowptr.data(), col.data(), edge.data()}; }
  Csr by_source() const { return {nodes, nodes, edges, rowptr_t.data(), col_t.data(), edge_t.data()}; }
};

TestGraph random_graph(std::mt19937_64& rng, int64_t nodes, int64_t edges) {
  TestGraph g;
  g.nodes = nodes;
  g.edges = edges;
  g.index.resize(size_t(2 * edges));
  std::uniform_int_distribution<int64_t> any(0, nodes - 1), hub(0, nodes / 8);
  for (int64_t e = 0; e < edges; ++e) {
    g.index[size_t(e)] = any(rng);
    g.index[size_t(edges + e)] = e % 3 == 0 ? hub(rng) : any(rng);  // a few targets take many edges
  }
  for (auto* v : {&g.rowptr, &g.rowptr_t}) v->resize(size_t(nodes + 1));
  for (auto* v : {&g.col, &g.edge, &g.col_t, &g.edge_t}) v->resize(size_t(edges));
  opzoo::csr_build_i64().build(g.index.data(), edges, nodes, false, g.rowptr.data(), g.col.data(), g.edge.data());
  opzoo::csr_build_i64().build(g.index.data(), edges, nodes, true, g.rowptr_t.data(), g.col_t.data(), g.edge_t.data());
  return g;
}

int compare(const char* isa, const char* what, const std::vector<float>& got, const std::vector<float>& want,
            double tolerance) {
  const double err = opzoo::test::relative_error(got, want);
  if (err <= tolerance) return 0;
  std::printf("%s: %s differs from the portable kernels (relative error %g)\n", isa, what, err);
  return 1;
}

int check(const char* isa, const GraphKernels<float>& k, const GraphKernels<float>& ref, int& checked) {
  std::mt19937_64 rng(7);
  int failures = 0;
  for (const int64_t features : {1, 7, 16, 33, 64, 100}) {
    for (const int64_t heads : {1, 3}) {
      const TestGraph g = random_graph(rng, 97, 1500);
      const FeatureShape f{heads, features};
      const int64_t F = f.features(), n = g.nodes * F;
      const std::vector<float> x = opzoo::test::random_vector(rng, n), go = opzoo::test::random_vector(rng, n);
      const std::vector<float> w = opzoo::test::random_vector(rng, g.edges * heads);
      for (int r = 0; r < opzoo::kNumReduces; ++r) {
        const Reduce reduce = Reduce(r);
        const bool extreme = reduce == Reduce::max || reduce == Reduce::min;
        for (const bool weighted : {false, true}) {
          if (heads > 1 && !weighted) continue;
          const float* wp = weighted ? w.data() : nullptr;
          std::vector<float> out(static_cast<size_t>(n)), want(static_cast<size_t>(n));
          std::vector<int64_t> arg(static_cast<size_t>(n)), want_arg(static_cast<size_t>(n));
          k.aggregate(g.by_target(), f, reduce, x.data(), wp, nullptr, out.data(), extreme ? arg.data() : nullptr);
          ref.aggregate(g.by_target(), f, reduce, x.data(), wp, nullptr, want.data(),
                        extreme ? want_arg.data() : nullptr);
          failures += compare(isa, "aggregate", out, want, extreme ? 0.0 : 1e-5);
          if (extreme && arg != want_arg) {
            std::printf("%s: aggregate's arg-extremes differ from the portable kernels\n", isa);
            ++failures;
          }
          if (extreme) {
            std::vector<float> gx(static_cast<size_t>(n)), want_gx(static_cast<size_t>(n));
            k.extreme_backward(g.by_source(), f, go.data(), wp, want_arg.data(), gx.data());
            ref.extreme_backward(g.by_source(), f, go.data(), wp, want_arg.data(), want_gx.data());
            failures += compare(isa, "extreme_backward", gx, want_gx, 1e-5);
          }
          if (reduce == Reduce::sum) {  // mean's transpose over the CSR by source
            std::vector<float> gt(static_cast<size_t>(n)), want_gt(static_cast<size_t>(n));
            k.aggregate(g.by_source(), f, reduce, go.data(), wp, g.rowptr.data(), gt.data(), nullptr);
            ref.aggregate(g.by_source(), f, reduce, go.data(), wp, g.rowptr.data(), want_gt.data(), nullptr);
            failures += compare(isa, "aggregate over col counts", gt, want_gt, 1e-5);
          }
          if (weighted) {
            std::vector<float> gw(static_cast<size_t>(g.edges * heads)), want_gw(gw.size());
            const int64_t* a = extreme ? want_arg.data() : nullptr;
            k.weight_backward(g.by_target(), f, reduce, go.data(), x.data(), a, gw.data());
            ref.weight_backward(g.by_target(), f, reduce, go.data(), x.data(), a, want_gw.data());
            failures += compare(isa, "weight_backward", gw, want_gw, 1e-5);
          }
          checked += 1;
        }
      }
      std::vector<float> dots(static_cast<size_t>(g.edges * heads)), want_dots(dots.size());
      k.sddmm(g.by_target(), f, x.data(), go.data(), dots.data());
      ref.sddmm(g.by_target(), f, x.data(), go.data(), want_dots.data());
      failures += compare(isa, "sddmm", dots, want_dots, 1e-5);
      std::vector<float> y(dots.size()), want_y(dots.size()), gs(dots.size()), want_gs(dots.size());
      k.edge_softmax(g.by_target(), heads, w.data(), y.data());
      ref.edge_softmax(g.by_target(), heads, w.data(), want_y.data());
      failures += compare(isa, "edge_softmax", y, want_y, 1e-6);
      k.edge_softmax_backward(g.by_target(), heads, dots.data(), want_y.data(), gs.data());
      ref.edge_softmax_backward(g.by_target(), heads, dots.data(), want_y.data(), want_gs.data());
      failures += compare(isa, "edge_softmax_backward", gs, want_gs, 1e-5);
      checked += 1;
    }
  }
  return failures;
}

}  // namespace

int main() {
  const auto& all = opzoo::cpu::graph_variants();
  const auto variants = opzoo::test::simd_variants(all);
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  int failures = 0, checked = 0;
  for (const auto& v : variants) {
    failures += check(opzoo::simd_level_name(v.level), *v.table, *all.front().table, checked);
    std::printf("%s: ", opzoo::simd_level_name(v.level));
  }
  std::printf("%d graph cases against the portable kernels: %s\n", checked, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

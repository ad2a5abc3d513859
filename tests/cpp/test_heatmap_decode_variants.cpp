// Every SIMD variant of the heatmap decoding kernel this build has against the portable
// one, on the shared cases (heatmap_decode_test.h). The boxes must agree bit for bit:
// the kernels compute them with the same scalar arithmetic. Exits non-zero on a
// disagreement.
#include <cstdio>
#include <vector>

#include "heatmap_decode_test.h"
#include "heatmap_decode_variants.h"
#include "variant_test.h"

namespace {

using opzoo::HeatmapDecodeShape;
using Variant = opzoo::cpu::Variant<opzoo::HeatmapDecodeKernels<float>>;

}  // namespace

int main() {
  const std::vector<Variant> variants = opzoo::test::simd_variants(opzoo::cpu::heatmap_decode_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  int failures = 0, checked = 0;
  // Plus an image of 20480 scores: several rows of vectors and tasks per thread.
  auto shapes = opzoo::test::kDecodeShapes;
  shapes.push_back({1, 20, 32, 32});
  opzoo::test::for_each_decode_case(shapes, [&](const HeatmapDecodeShape& s, const std::vector<float>& heat,
                                        const std::vector<float>& wh, const float* reg) {
    std::vector<float> want(size_t(s.N * s.K * 6)), got(want.size());
    opzoo::cpu::heatmap_decode_scalar.decode(s, heat.data(), wh.data(), reg, want.data());
    for (const Variant& v : variants) {
      v.table->decode(s, heat.data(), wh.data(), reg, got.data());
      ++checked;
      if (!opzoo::test::same_boxes(got, want)) {
        std::printf("FAIL %s N=%lld C=%lld H=%lld W=%lld K=%lld %s reg %d\n", opzoo::simd_level_name(v.level),
                    (long long)s.N, (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.K,
                    opzoo::test::layout_name(s.layout), reg != nullptr);
        ++failures;
      }
    }
  });
  for (const Variant& v : variants) std::printf("%s: ", opzoo::simd_level_name(v.level));
  std::printf("%d heatmap-decode cases against the portable kernel: %s\n", checked, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

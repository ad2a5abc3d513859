// Every SIMD variant of the corner/center pooling kernels this build has against the
// portable ones: each direction alone, both corner pairs, center pooling and the
// backward passes, in both layouts, on shapes with whole and partial tiles, one row,
// one column, ties (values rounded to halves) and NaN. The pools must agree bit for bit
// (maxima are exact), their gradients up to the rounding of sums. Exits non-zero on a
// disagreement.
#include <cstdio>
#include <vector>

#include "corner_pool_variants.h"
#include "corner_pool_test.h"
#include "variant_test.h"

namespace {

using opzoo::CornerPoolShape;
using opzoo::Layout;
using opzoo::test::relative_error;
using opzoo::test::run_all;
using Variant = opzoo::cpu::Variant<opzoo::CornerPoolKernels<float>>;

}  // namespace

int main() {
  const std::vector<Variant> variants = opzoo::test::simd_variants(opzoo::cpu::corner_pool_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  int failures = 0, checked = 0;
  opzoo::test::for_each_pool_case([&](const CornerPoolShape& s, int ties, const std::vector<float>& a,
                                      const std::vector<float>& b, const std::vector<float>& g) {
    const std::vector<float> want = run_all(opzoo::cpu::corner_pool_scalar, s, a, b, g);
    for (const Variant& v : variants) {
      const double err = relative_error(run_all(*v.table, s, a, b, g), want);
      ++checked;
      if (!(err <= 1e-6)) {
        std::printf("FAIL %s N=%lld C=%lld H=%lld W=%lld %s ties %d: relative error %.3g\n",
                    opzoo::simd_level_name(v.level), (long long)s.N, (long long)s.C, (long long)s.H, (long long)s.W,
                    s.layout == Layout::NCHW ? "NCHW" : "NHWC", ties, err);
        ++failures;
      }
    }
  });
  for (const Variant& v : variants) std::printf("%s: ", opzoo::simd_level_name(v.level));
  std::printf("%d corner-pool cases against the portable kernels: %s\n", checked, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

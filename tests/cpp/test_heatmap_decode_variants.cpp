// Every SIMD variant of the heatmap decoding kernel this build has against the portable
// one: both layouts, with and without offsets, plateaus (ties broken by index), widths
// that leave partial vectors, K from 0 to every score, and a NaN score. The boxes must
// agree bit for bit: the kernels compute them with the same scalar arithmetic. Exits
// non-zero on a disagreement.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "heatmap_decode_variants.h"
#include "variant_test.h"

namespace {

using opzoo::HeatmapDecodeShape;
using opzoo::Layout;
using Variant = opzoo::cpu::Variant<opzoo::HeatmapDecodeKernels<float>>;

}  // namespace

int main() {
  const std::vector<Variant> variants = opzoo::test::simd_variants(opzoo::cpu::heatmap_decode_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  std::mt19937_64 rng(20261203);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  int failures = 0, checked = 0;
  const int64_t shapes[][4] = {{2, 3, 17, 19}, {1, 20, 32, 32}, {1, 2, 1, 1}, {2, 5, 9, 40}};
  for (const auto& e : shapes)
    for (Layout layout : {Layout::NCHW, Layout::NHWC})
      for (int64_t K : {int64_t(0), std::min(int64_t(7), e[1] * e[2] * e[3]), e[1] * e[2] * e[3]})
        for (int with_reg = 0; with_reg < 2; ++with_reg) {
          const HeatmapDecodeShape s{e[0], e[1], e[2], e[3], K, layout};
          const int64_t n = s.N * s.C * s.H * s.W, maps = s.N * 2 * s.H * s.W;
          std::vector<float> heat(static_cast<size_t>(n)), wh(static_cast<size_t>(maps)), reg(static_cast<size_t>(maps));
          for (float& v : heat) v = std::fmax(uniform(rng), 0.4f);  // plateaus at 0.4
          if (n > 10) heat[size_t(n / 2)] = NAN;
          for (float& v : wh) v = 20 * uniform(rng);
          for (float& v : reg) v = uniform(rng);
          const float* r = with_reg ? reg.data() : nullptr;
          std::vector<float> want(size_t(s.N * K * 6)), got(want.size());
          opzoo::cpu::heatmap_decode_scalar.decode(s, heat.data(), wh.data(), r, want.data());
          for (const Variant& v : variants) {
            v.table->decode(s, heat.data(), wh.data(), r, got.data());
            ++checked;
            bool same = true;
            for (size_t i = 0; i < got.size(); ++i)
              same &= got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i]));
            if (!same) {
              std::printf("FAIL %s N=%lld C=%lld H=%lld W=%lld K=%lld %s reg %d\n", opzoo::simd_level_name(v.level),
                          (long long)s.N, (long long)s.C, (long long)s.H, (long long)s.W, (long long)K,
                          layout == Layout::NCHW ? "NCHW" : "NHWC", with_reg);
              ++failures;
            }
          }
        }
  for (const Variant& v : variants) std::printf("%s: ", opzoo::simd_level_name(v.level));
  std::printf("%d heatmap-decode cases against the portable kernel: %s\n", checked, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

// Every SIMD variant of the corner/center pooling kernels this build has against the
// portable ones: each direction alone, both corner pairs, center pooling and the
// backward passes, in both layouts, on shapes with whole and partial tiles, one row,
// one column, ties (values rounded to halves) and NaN. The pools must agree bit for bit
// (maxima are exact), their gradients up to the rounding of sums. Exits non-zero on a
// disagreement.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "corner_pool_variants.h"
#include "variant_test.h"

namespace {

using opzoo::CornerPoolShape;
using opzoo::Layout;
using opzoo::PoolDirection;
using opzoo::test::random_vector;
using opzoo::test::relative_error;
using Kernels = opzoo::CornerPoolKernels<float>;
using Variant = opzoo::cpu::Variant<Kernels>;

// Every output of every kernel, one after the other.
std::vector<float> run_all(const Kernels& k, const CornerPoolShape& s, const std::vector<float>& a,
                           const std::vector<float>& b, const std::vector<float>& g) {
  const size_t n = a.size();
  std::vector<float> all, out(n);
  auto append = [&] { all.insert(all.end(), out.begin(), out.end()); };
  const PoolDirection dirs[] = {PoolDirection::top, PoolDirection::bottom, PoolDirection::left, PoolDirection::right};
  for (PoolDirection d : dirs) {
    const bool v = opzoo::is_vertical(d);
    k.corner(s, v ? a.data() : nullptr, d, v ? nullptr : a.data(), d, out.data());
    append();
    k.corner_backward(s, g.data(), a.data(), d, out.data());
    append();
  }
  k.corner(s, a.data(), PoolDirection::top, b.data(), PoolDirection::left, out.data());
  append();
  k.corner(s, a.data(), PoolDirection::bottom, b.data(), PoolDirection::right, out.data());
  append();
  k.center(s, a.data(), b.data(), out.data());
  append();
  k.extent_backward(s, g.data(), a.data(), true, out.data());
  append();
  k.extent_backward(s, g.data(), b.data(), false, out.data());
  append();
  return all;
}

}  // namespace

int main() {
  const std::vector<Variant> variants = opzoo::test::simd_variants(opzoo::cpu::corner_pool_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  std::mt19937_64 rng(20261202);
  int failures = 0, checked = 0;
  const int64_t shapes[][4] = {{2, 3, 16, 32}, {1, 17, 19, 35}, {2, 5, 1, 23}, {1, 4, 21, 1}, {1, 1, 1, 1}, {1, 33, 9, 8}};
  for (const auto& e : shapes)
    for (Layout layout : {Layout::NCHW, Layout::NHWC})
      for (int ties = 0; ties < 2; ++ties) {
        const CornerPoolShape s{e[0], e[1], e[2], e[3], layout};
        const int64_t n = s.N * s.C * s.H * s.W;
        std::vector<float> a = random_vector(rng, n), b = random_vector(rng, n);
        const std::vector<float> g = random_vector(rng, n);
        if (ties)
          for (size_t i = 0; i < a.size(); ++i) {
            a[i] = std::round(a[i] * 2) / 2;
            b[i] = std::round(b[i] * 2) / 2;
          }
        if (n > 7) a[size_t(n / 3)] = NAN;
        const std::vector<float> want = run_all(opzoo::cpu::corner_pool_scalar, s, a, b, g);
        for (const Variant& v : variants) {
          const double err = relative_error(run_all(*v.table, s, a, b, g), want);
          ++checked;
          if (!(err <= 1e-6)) {
            std::printf("FAIL %s N=%lld C=%lld H=%lld W=%lld %s ties %d: relative error %.3g\n",
                        opzoo::simd_level_name(v.level), (long long)s.N, (long long)s.C, (long long)s.H,
                        (long long)s.W, layout == Layout::NCHW ? "NCHW" : "NHWC", ties, err);
            ++failures;
          }
        }
      }
  for (const Variant& v : variants) std::printf("%s: ", opzoo::simd_level_name(v.level));
  std::printf("%d corner-pool cases against the portable kernels: %s\n", checked, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

// What the C++ variant tests of every family share: the SIMD variants of a family's
// list that this CPU runs (the list the dispatcher picks from), random data, and the
// error measure variants are compared with against the portable kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "opzoo/runtime.h"
#include "variants.h"

namespace opzoo::test {

// The variants besides the portable one (first in the list) that this build and CPU run.
template <class Table>
std::vector<cpu::Variant<Table>> simd_variants(const std::vector<cpu::Variant<Table>>& variants) {
  std::vector<cpu::Variant<Table>> runnable;
  for (size_t i = 1; i < variants.size(); ++i)
    if (simd_level_runs(variants[i].level)) runnable.push_back(variants[i]);
  return runnable;
}

inline std::vector<float> random_vector(std::mt19937_64& rng, int64_t n, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(size_t(n > 0 ? n : 0));
  for (float& e : v) e = normal(rng);
  return v;
}

// Largest |a - b| relative to the larger of max|b| and 1: the variants fuse
// multiply-adds where the portable kernels round twice, so only rounding may differ.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, scale = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {  // NaN where b has NaN, infinities equal
      if (std::isnan(a[i]) != std::isnan(b[i]) || (!std::isnan(b[i]) && a[i] != b[i])) return INFINITY;
      continue;
    }
    err = std::fmax(err, std::fabs(double(a[i]) - double(b[i])));
    scale = std::fmax(scale, std::fabs(double(b[i])));
  }
  return err / scale;
}

}  // namespace opzoo::test

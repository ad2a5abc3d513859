// What the heatmap-decode C++ tests share: the cases (both layouts, with and without
// offsets, plateaus at 0.4 so that ties are broken by index, widths that leave partial
// vectors, K from 0 to every score, a NaN score, and images with more scores than a
// byte of index holds) and the comparison of boxes, bit for bit.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "opzoo/heatmap_decode.h"

namespace opzoo::test {

// (N, C, H, W) of the cases: widths that leave partial vectors, one pixel, 300 scores
// (two bytes of index) and 2250 (more than a shared-memory sort holds, at K = every score).
inline const std::vector<std::array<int64_t, 4>> kDecodeShapes = {
    {2, 3, 17, 19}, {1, 3, 30, 25}, {1, 2, 1, 1}, {2, 5, 9, 40}, {1, 1, 1, 300}};

// f(shape, heat, wh, reg) with reg null or not, for every case on `shapes`.
template <class F>
void for_each_decode_case(const std::vector<std::array<int64_t, 4>>& shapes, F&& f) {
  std::mt19937_64 rng(20261203);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const auto& e : shapes)
    for (Layout layout : {Layout::NCHW, Layout::NHWC})
      for (int64_t K : {int64_t(0), std::min(int64_t(7), e[1] * e[2] * e[3]), e[1] * e[2] * e[3]})
        for (int with_reg = 0; with_reg < 2; ++with_reg) {
          const HeatmapDecodeShape s{e[0], e[1], e[2], e[3], K, layout};
          const int64_t n = s.N * s.C * s.H * s.W, maps = s.N * 2 * s.H * s.W;
          std::vector<float> heat(static_cast<size_t>(n)), wh(static_cast<size_t>(maps)), reg(static_cast<size_t>(maps));
          for (float& v : heat) v = std::fmax(uniform(rng), 0.4f);
          if (n > 10) heat[size_t(n / 2)] = NAN;
          for (float& v : wh) v = 20 * uniform(rng);
          for (float& v : reg) v = uniform(rng);
          f(s, heat, wh, with_reg ? reg.data() : nullptr);
        }
}

inline bool same_boxes(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i])))) return false;
  return true;
}

inline const char* layout_name(Layout layout) { return layout == Layout::NCHW ? "NCHW" : "NHWC"; }

}  // namespace opzoo::test

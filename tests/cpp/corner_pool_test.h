// What the corner-pool C++ tests share: every kernel of a CornerPoolKernels<float> table
// run on one input (run_all), and the cases they run (shapes with whole and partial
// tiles, one row, one column, one pixel; both layouts; ties from values rounded to
// halves; a NaN).
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "opzoo/corner_pool.h"
#include "variant_test.h"

namespace opzoo::test {

using Kernels = CornerPoolKernels<float>;

// Every output of every kernel, one after the other.
inline std::vector<float> run_all(const Kernels& k, const CornerPoolShape& s, const std::vector<float>& a,
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


// Calls f(shape, ties, a, b, grad) for each case, with fresh random data.
template <class F>
void for_each_pool_case(F&& f) {
  std::mt19937_64 rng(20261202);
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
        f(s, ties, a, b, g);
      }
}

}  // namespace opzoo::test

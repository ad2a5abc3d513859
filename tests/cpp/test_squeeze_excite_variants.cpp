// Every SIMD variant of the squeeze-excite kernels this build has against the portable
// ones: forward and backward in both layouts, with and without biases, pixel counts
// that split into several chunks and channel counts with partial vectors. Exits
// non-zero on a disagreement.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "squeeze_excite_variants.h"
#include "variant_test.h"

namespace {

using opzoo::Activation;
using opzoo::Layout;
using opzoo::SqueezeExciteShape;
using opzoo::test::random_vector;
using opzoo::test::relative_error;
using Variant = opzoo::cpu::Variant<opzoo::SqueezeExciteKernels<float>>;

struct Grads {
  std::vector<float> x, wr, br, we, be;
};

Grads run(const opzoo::SqueezeExciteKernels<float>& k, const SqueezeExciteShape& s, const std::vector<float>& x,
          const std::vector<float>& gy, const std::vector<float>& wr, const float* br, const std::vector<float>& we,
          const float* be, std::vector<float>& y) {
  Grads g{std::vector<float>(x.size(), NAN), std::vector<float>(wr.size(), NAN), std::vector<float>(size_t(s.R), NAN),
          std::vector<float>(we.size(), NAN), std::vector<float>(size_t(s.C), NAN)};
  k.forward(s, x.data(), wr.data(), br, we.data(), be, Activation::silu, y.data());
  k.backward(s, gy.data(), x.data(), wr.data(), br, we.data(), be, Activation::silu, g.x.data(), g.wr.data(),
             g.br.data(), g.we.data(), g.be.data());
  return g;
}

}  // namespace

int main() {
  const std::vector<Variant> variants = opzoo::test::simd_variants(opzoo::cpu::squeeze_excite_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  std::mt19937_64 rng(20261201);
  int failures = 0, checked = 0;
  // (N, C, H, W, R): chunked pixels, partial vectors, one pixel, one channel.
  const int64_t shapes[][5] = {{2, 37, 23, 29, 9}, {3, 40, 7, 7, 10}, {1, 5, 1, 1, 2}, {2, 1, 9, 11, 1}};
  for (const auto& e : shapes)
    for (Layout layout : {Layout::NCHW, Layout::NHWC})
      for (int biased = 0; biased < 2; ++biased) {
        const SqueezeExciteShape s{e[0], e[1], e[2], e[3], e[4], layout};
        const int64_t n = s.N * s.C * s.H * s.W;
        const std::vector<float> x = random_vector(rng, n), gy = random_vector(rng, n);
        const std::vector<float> wr = random_vector(rng, s.R * s.C), we = random_vector(rng, s.C * s.R);
        const std::vector<float> br = random_vector(rng, s.R), be = random_vector(rng, s.C);
        std::vector<float> y_ref(size_t(n), NAN), y(size_t(n), NAN);
        const float* brp = biased ? br.data() : nullptr;
        const float* bep = biased ? be.data() : nullptr;
        const Grads want = run(opzoo::cpu::squeeze_excite_scalar, s, x, gy, wr, brp, we, bep, y_ref);
        for (const Variant& v : variants) {
          const Grads got = run(*v.table, s, x, gy, wr, brp, we, bep, y);
          const double err = std::max({relative_error(y, y_ref), relative_error(got.x, want.x),
                                       relative_error(got.wr, want.wr), relative_error(got.br, want.br),
                                       relative_error(got.we, want.we), relative_error(got.be, want.be)});
          ++checked;
          if (!(err <= 1e-5)) {  // sums over the pixels in lanes: rounding of long sums
            std::printf("FAIL %s N=%lld C=%lld H=%lld W=%lld R=%lld %s bias %d: relative error %.3g\n",
                        opzoo::simd_level_name(v.level), (long long)s.N, (long long)s.C, (long long)s.H,
                        (long long)s.W, (long long)s.R, layout == Layout::NCHW ? "NCHW" : "NHWC", biased, err);
            ++failures;
          }
        }
      }
  for (const Variant& v : variants) std::printf("%s: ", opzoo::simd_level_name(v.level));
  std::printf("%d squeeze-excite cases against the portable kernels: %s\n", checked, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

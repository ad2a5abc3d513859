// Every SIMD variant of the activation kernels this build has against the portable
// ones: the backward step of each activation on random data with values at and around
// its kinks, odd lengths (partial vectors), NaN and infinities; the bias-activation
// forward and backward on channels-last rows and on planes, with and without bias and
// residual. Exits non-zero on a disagreement.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "activation_variants.h"
#include "variant_test.h"

namespace {

using opzoo::Activation;
using Variant = opzoo::cpu::Variant<opzoo::ActivationKernels<float>>;

// Random pre-activations over the activations' interesting range, with their kinks,
// saturation points, NaN and infinities mixed in.
std::vector<float> pre_activations(std::mt19937_64& rng, int64_t n) {
  std::vector<float> z = opzoo::test::random_vector(rng, n, 4.0f);
  const float special[] = {0.0f, 6.0f, -3.0f, 3.0f, -100.0f, 100.0f, NAN, INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; i += 5) z[size_t(i)] = special[size_t(i / 5) % 9];
  return z;
}

}  // namespace

int main() {
  const std::vector<Variant> variants = opzoo::test::simd_variants(opzoo::cpu::activation_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  std::mt19937_64 rng(20261201);
  int failures = 0, checked = 0;
  for (int64_t n : {1, 7, 17, 64, 1000, 40001}) {
    const std::vector<float> z = pre_activations(rng, n), grad = opzoo::test::random_vector(rng, n);
    for (int act = 0; act < opzoo::kNumActivations; ++act) {
      std::vector<float> want(size_t(n), -1.0f);
      opzoo::cpu::activation_scalar.backward(n, z.data(), grad.data(), Activation(act), want.data());
      for (const Variant& v : variants) {
        std::vector<float> got(size_t(n), -1.0f);
        v.table->backward(n, z.data(), grad.data(), Activation(act), got.data());
        const double err = opzoo::test::relative_error(got, want);
        ++checked;
        if (!(err <= 1e-6)) {
          std::printf("FAIL %s activation %d, n=%lld: relative error %.3g\n", opzoo::simd_level_name(v.level), act,
                      (long long)n, err);
          ++failures;
        }
      }
    }
  }
  // (outer, channels, inner): rows of partial vectors, many row blocks, planes.
  const opzoo::BiasActivationShape shapes[] = {{7, 19, 1}, {3000, 40, 1}, {1, 5, 1}, {3, 11, 37}, {2, 4, 1000}};
  for (const opzoo::BiasActivationShape& s : shapes) {
    const int64_t n = s.outer * s.channels * s.inner;
    const std::vector<float> x = pre_activations(rng, n), r = opzoo::test::random_vector(rng, n);
    const std::vector<float> g = opzoo::test::random_vector(rng, n), b = opzoo::test::random_vector(rng, s.channels);
    for (int act = 0; act < opzoo::kNumActivations; ++act)
      for (int with = 0; with < 4; ++with) {
        const float* bias = with & 1 ? b.data() : nullptr;
        const float* residual = with & 2 ? r.data() : nullptr;
        std::vector<float> want(size_t(n), -1.0f), want_gx(size_t(n), -1.0f), want_gb(size_t(s.channels), -1.0f);
        const auto& scalar = opzoo::cpu::activation_scalar;
        scalar.bias_forward(s, x.data(), bias, Activation(act), residual, want.data());
        scalar.bias_backward(s, g.data(), x.data(), bias, Activation(act), want_gx.data(), want_gb.data());
        for (const Variant& v : variants) {
          std::vector<float> got(size_t(n), -1.0f), gx(size_t(n), -1.0f), gb(size_t(s.channels), -1.0f);
          v.table->bias_forward(s, x.data(), bias, Activation(act), residual, got.data());
          v.table->bias_backward(s, g.data(), x.data(), bias, Activation(act), gx.data(), gb.data());
          // Plane sums run in vector lanes, added at the end: another order than the
          // portable kernel's, so their bound is 1e-4.
          const double err = std::max({opzoo::test::relative_error(got, want), opzoo::test::relative_error(gx, want_gx),
                                       opzoo::test::relative_error(gb, want_gb) * 1e-2});
          ++checked;
          if (!(err <= 1e-6)) {
            std::printf("FAIL %s bias activation %d (outer %lld, channels %lld, inner %lld, bias %d, residual %d): "
                        "relative error %.3g\n", opzoo::simd_level_name(v.level), act, (long long)s.outer,
                        (long long)s.channels, (long long)s.inner, with & 1, with >> 1, err);
            ++failures;
          }
        }
      }
  }
  for (const Variant& v : variants) std::printf("%s: ", opzoo::simd_level_name(v.level));
  std::printf("%d activation and bias-activation cases against the portable kernels: %s\n", checked,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

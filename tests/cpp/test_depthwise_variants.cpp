// Every SIMD variant of the depthwise kernels this build has (NEON on AArch64, AVX2 and
// AVX-512 on x86-64 where the CPU runs them) against the portable kernels, on random
// shapes and data: forward with each activation, grad_x, grad_weight and grad_bias; and
// the fused activations on NaN and infinities.
// Exits non-zero on the first disagreement, printing the case to replay it.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "depthwise_variants.h"
#include "opzoo/runtime.h"
#include "variant_test.h"

namespace {

using opzoo::Activation;
using opzoo::DepthwiseKernels;
using opzoo::DepthwiseShape;
using opzoo::Layout;
using opzoo::test::random_vector;
using opzoo::test::relative_error;
using Variant = opzoo::cpu::Variant<DepthwiseKernels<float>>;

std::string describe(const DepthwiseShape& s, int act) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%s N=%lld C=%lld M=%lld H=%lld W=%lld k=%lldx%lld stride=%lldx%lld dilation=%lldx%lld "
                "pad=%lld,%lld out=%lldx%lld act=%d",
                s.layout == Layout::NCHW ? "NCHW" : "NHWC", (long long)s.N, (long long)s.C, (long long)s.M,
                (long long)s.H, (long long)s.W, (long long)s.kh, (long long)s.kw, (long long)s.stride_h,
                (long long)s.stride_w, (long long)s.dilation_h, (long long)s.dilation_w, (long long)s.pad_top,
                (long long)s.pad_left, (long long)s.Ho, (long long)s.Wo, act);
  return buf;
}

// A random case; fast-path shapes (3x3 and 5x5 at stride 1 and 2, no dilation) half
// of the time, anything else the generic path takes the other half. One case in six is
// a wide layer (NHWC's 4-vector blocks, read in place at stride 2), kept small in H, W;
// one in eight spreads out, as the direct kernels take.
DepthwiseShape random_shape(std::mt19937_64& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  DepthwiseShape s{};
  s.layout = pick(0, 1) ? Layout::NHWC : Layout::NCHW;
  s.N = pick(1, 3);
  const int64_t channel_class = pick(0, 5);
  const bool wide = channel_class == 5;
  s.C = channel_class < 2 ? pick(1, 9) : wide ? pick(250, 300) : pick(10, 70);
  s.M = pick(0, 4) == 0 ? pick(2, 3) : 1;
  const bool fast = pick(0, 1) == 1;
  s.kh = s.kw = fast ? (pick(0, 1) ? 3 : 5) : pick(1, 6);
  if (!fast && pick(0, 2) == 0) s.kw = pick(1, 6);
  s.stride_h = s.stride_w = fast ? pick(1, 2) : pick(1, 3);
  s.dilation_h = s.dilation_w = fast ? 1 : pick(1, 2);
  s.H = pick(1, 3) == 1 ? pick(1, 8) : pick(9, wide ? 16 : 40);
  s.W = pick(1, 3) == 1 ? pick(1, 8) : pick(9, wide ? 16 : 70);
  s.pad_top = pick(0, s.kh);
  s.pad_left = pick(0, s.kw);
  int64_t pad_bottom = pick(0, s.kh), pad_right = pick(0, s.kw);
  if (pick(0, 7) == 0) {  // spread out (the direct kernels): padding or dilation far beyond the input
    const int64_t most = pick(0, 1) ? 150 : s.kh;
    s.pad_top = pick(0, most);
    s.pad_left = pick(0, most);
    pad_bottom = pick(0, most);
    pad_right = pick(0, most);
    s.dilation_h = pick(1, 40);
    s.dilation_w = pick(1, 40);
  }
  s.Ho = opzoo::conv_output_extent(s.H, s.pad_top, pad_bottom, s.kh, s.stride_h, s.dilation_h);
  s.Wo = opzoo::conv_output_extent(s.W, s.pad_left, pad_right, s.kw, s.stride_w, s.dilation_w);
  return s;
}

int check_case(const DepthwiseShape& s, int act, const Variant& variant, std::mt19937_64& rng) {
  const auto& portable = opzoo::cpu::depthwise_scalar;
  const int64_t CM = s.C * s.M;
  const std::vector<float> x = random_vector(rng, s.N * s.C * s.H * s.W);
  const std::vector<float> w = random_vector(rng, CM * s.kh * s.kw);
  const std::vector<float> b = random_vector(rng, CM);
  const std::vector<float> gy = random_vector(rng, s.N * CM * s.Ho * s.Wo);
  const size_t y_size = size_t(s.N * CM * s.Ho * s.Wo);

  // NaN-filled outputs: a kernel that skips an element cannot pass.
  std::vector<float> y_ref(y_size, NAN), y(y_size, NAN);
  portable.forward(s, x.data(), w.data(), b.data(), Activation(act), y_ref.data());
  variant.table->forward(s, x.data(), w.data(), b.data(), Activation(act), y.data());
  // Backward: both gradients in one pass, and each alone (the other's arrays null).
  std::vector<float> gx_ref(x.size(), NAN), gx(x.size(), NAN), gx_alone(x.size(), NAN);
  std::vector<float> gw_ref(w.size(), NAN), gw(w.size(), NAN), gw_alone(w.size(), NAN);
  std::vector<float> gb_ref(b.size(), NAN), gb(b.size(), NAN), gb_alone(b.size(), NAN);
  portable.backward(s, gy.data(), x.data(), w.data(), gx_ref.data(), gw_ref.data(), gb_ref.data());
  variant.table->backward(s, gy.data(), x.data(), w.data(), gx.data(), gw.data(), gb.data());
  variant.table->backward(s, gy.data(), nullptr, w.data(), gx_alone.data(), nullptr, nullptr);
  variant.table->backward(s, gy.data(), x.data(), nullptr, nullptr, gw_alone.data(), gb_alone.data());

  // Weight gradients are reductions over N*Ho*Wo terms: rounding grows with their count.
  const double reduction_tol = 1e-6 * std::sqrt(double(s.N * s.Ho * s.Wo) + 1.0) * 4;
  const struct {
    const char* what;
    double err, tol;
  } checks[] = {{"forward", relative_error(y, y_ref), 1e-5},
                {"grad_x", relative_error(gx, gx_ref), 1e-5},
                {"grad_weight", relative_error(gw, gw_ref), reduction_tol},
                {"grad_bias", relative_error(gb, gb_ref), reduction_tol},
                {"grad_x alone", relative_error(gx_alone, gx_ref), 1e-5},
                {"grad_weight alone", relative_error(gw_alone, gw_ref), reduction_tol},
                {"grad_bias alone", relative_error(gb_alone, gb_ref), reduction_tol}};
  for (const auto& c : checks)
    if (!(c.err <= c.tol)) {
      std::printf("FAIL %s %s: relative error %.3g > %.3g\n  %s\n", opzoo::simd_level_name(variant.level), c.what, c.err, c.tol,
                  describe(s, act).c_str());
      return 1;
    }
  return 0;
}

// The fused activations on NaN, infinities and values past their saturation points: a
// 1x1 kernel of weight 1 passes x through unchanged, so every special value reaches the
// activation of each variant as it reaches the portable one.
int check_special_values(const Variant& variant) {
  const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 6.0f, -3.0f, 3.0f, 100.0f, -100.0f, 88.8f, -88.8f};
  DepthwiseShape s{};
  s.N = 1, s.C = 37, s.M = 1, s.H = 3, s.W = 5, s.kh = s.kw = 1;
  s.stride_h = s.stride_w = s.dilation_h = s.dilation_w = 1;
  s.Ho = s.H, s.Wo = s.W;
  std::vector<float> x(size_t(s.C * s.H * s.W));
  for (size_t i = 0; i < x.size(); ++i) x[i] = special[i % (sizeof special / sizeof *special)];
  const std::vector<float> w(size_t(s.C), 1.0f), b(size_t(s.C), 0.0f);
  for (Layout layout : {Layout::NCHW, Layout::NHWC})
    for (int act = 0; act < opzoo::kNumActivations; ++act) {
      s.layout = layout;
      std::vector<float> want(x.size(), -1.0f), got(x.size(), -1.0f);
      opzoo::cpu::depthwise_scalar.forward(s, x.data(), w.data(), b.data(), Activation(act), want.data());
      variant.table->forward(s, x.data(), w.data(), b.data(), Activation(act), got.data());
      const double err = relative_error(got, want);
      if (!(err <= 1e-6)) {
        std::printf("FAIL %s special values: relative error %.3g\n  %s\n", opzoo::simd_level_name(variant.level), err,
                    describe(s, act).c_str());
        return 1;
      }
    }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? std::atoi(argv[1]) : 300;
  const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20261128;
  const std::vector<Variant> variants = opzoo::test::simd_variants(opzoo::cpu::depthwise_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  std::mt19937_64 rng(seed);
  int checked = 0, failures = 0;
  for (const Variant& v : variants) failures += check_special_values(v);
  for (int i = 0; i < cases; ++i) {
    const DepthwiseShape s = random_shape(rng);
    if (s.Ho <= 0 || s.Wo <= 0) continue;  // kernel larger than the padded input
    const int act = int(rng() % opzoo::kNumActivations);
    // The NHWC forward takes other paths tuned for Intel than for AMD: half the cases each.
    opzoo::set_cpu_vendor(i % 2 ? opzoo::CpuVendor::intel : opzoo::CpuVendor::amd);
    for (const Variant& v : variants) failures += check_case(s, act, v, rng);
    ++checked;
    if (failures) break;
  }
  for (const Variant& v : variants) std::printf("%s: ", opzoo::simd_level_name(v.level));
  std::printf("%d random cases (seed %llu) against the portable kernels: %s\n", checked,
              (unsigned long long)seed, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

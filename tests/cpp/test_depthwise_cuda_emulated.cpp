// The depthwise CUDA kernels (cuda/depthwise.cu, compiled into this test over the CUDA
// emulation layer) against the portable CPU kernels, in float32: every launch path
// (NCHW shared-memory tiles and NHWC pixel blocks for 3x3 and 5x5 at stride 1 and 2, the
// direct kernel for the rest), grad_x, and the shared-memory block reductions of
// grad_weight and grad_bias. Small shapes, so the ThreadSanitizer build of CI, which
// sees each CUDA thread as a fiber, checks every barrier of those kernels in seconds.
// Exits non-zero on a disagreement or a failed launch.
#include "../../cuda/depthwise.cu"

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "depthwise_variants.h"
#include "variant_test.h"

namespace {

using opzoo::Activation;
using opzoo::DepthwiseShape;
using opzoo::Layout;
using opzoo::test::random_vector;
using opzoo::test::relative_error;

DepthwiseShape shape(Layout layout, int64_t C, int64_t M, int64_t H, int64_t W, int64_t k, int64_t stride,
                     int64_t dilation, int64_t pad) {
  DepthwiseShape s{};
  s.layout = layout;
  s.N = 2, s.C = C, s.M = M, s.H = H, s.W = W, s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.dilation_h = s.dilation_w = dilation;
  s.pad_top = s.pad_left = pad;
  s.Ho = opzoo::conv_output_extent(H, pad, pad, k, stride, dilation);
  s.Wo = opzoo::conv_output_extent(W, pad, pad, k, stride, dilation);
  return s;
}

std::string describe(const DepthwiseShape& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s C=%lld M=%lld H=%lld W=%lld k=%lld stride=%lld dilation=%lld",
                s.layout == Layout::NCHW ? "NCHW" : "NHWC", (long long)s.C, (long long)s.M, (long long)s.H,
                (long long)s.W, (long long)s.kh, (long long)s.stride_h, (long long)s.dilation_h);
  return buf;
}

int check(const DepthwiseShape& s, std::mt19937_64& rng) {
  const auto& cpu = opzoo::cpu::depthwise_scalar;
  const int64_t CM = s.C * s.M;
  const std::vector<float> x = random_vector(rng, s.N * s.C * s.H * s.W), w = random_vector(rng, CM * s.kh * s.kw);
  const std::vector<float> b = random_vector(rng, CM), gy = random_vector(rng, s.N * CM * s.Ho * s.Wo);
  std::vector<float> y_ref(gy.size(), NAN), y(gy.size(), NAN);
  cpu.forward(s, x.data(), w.data(), b.data(), Activation::silu, y_ref.data());
  std::vector<float> gx_ref(x.size(), NAN), gx(x.size(), NAN);
  std::vector<float> gw_ref(w.size(), NAN), gw(w.size(), NAN), gb_ref(b.size(), NAN), gb(b.size(), NAN);
  cpu.backward(s, gy.data(), x.data(), w.data(), gx_ref.data(), gw_ref.data(), gb_ref.data());
  try {
    opzoo::cuda::depthwise_forward(s, opzoo::DType::float32, x.data(), w.data(), b.data(), Activation::silu, y.data(),
                                   nullptr);
    opzoo::cuda::depthwise_backward_input(s, opzoo::DType::float32, gy.data(), w.data(), gx.data(), nullptr);
    opzoo::cuda::depthwise_backward_weight(s, opzoo::DType::float32, gy.data(), x.data(), gw.data(), gb.data(),
                                           nullptr);
  } catch (const std::exception& e) {
    std::printf("FAIL launch: %s\n  %s\n", e.what(), describe(s).c_str());
    return 1;
  }
  const struct {
    const char* what;
    double err;
  } checks[] = {{"forward", relative_error(y, y_ref)},
                {"grad_x", relative_error(gx, gx_ref)},
                {"grad_weight", relative_error(gw, gw_ref)},
                {"grad_bias", relative_error(gb, gb_ref)}};
  for (const auto& c : checks)
    if (!(c.err <= 1e-5)) {
      std::printf("FAIL %s: relative error %.3g\n  %s\n", c.what, c.err, describe(s).c_str());
      return 1;
    }
  return 0;
}

}  // namespace

int main() {
  // The reference on one thread: ThreadSanitizer does not see libgomp's synchronisation.
  opzoo::set_num_threads(1);
  std::mt19937_64 rng(20261201);
  int failures = 0, cases = 0;
  for (Layout layout : {Layout::NCHW, Layout::NHWC})
    for (int64_t k : {3, 5})
      for (int64_t stride : {1, 2}) {
        failures += check(shape(layout, 5, 1, 19, 37, k, stride, 1, k / 2), rng);  // the fast paths
        ++cases;
      }
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {  // the direct kernel
    failures += check(shape(layout, 3, 2, 11, 13, 3, 1, 1, 1), rng);
    failures += check(shape(layout, 4, 1, 12, 9, 4, 3, 2, 2), rng);
    cases += 2;
  }
  std::printf("%d depthwise CUDA cases under emulation against the portable kernels: %s\n", cases,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

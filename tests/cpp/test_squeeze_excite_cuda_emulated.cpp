// The squeeze-excite CUDA kernels (cuda/squeeze_excite.cu, compiled into this test over
// the CUDA emulation layer) against the portable CPU kernels, in float32: forward (into
// a fresh array and in place) and backward, both layouts, with and without biases.
// Small shapes, so the ThreadSanitizer build of CI checks the block reductions'
// barriers in seconds. Exits non-zero on a disagreement or a failed launch.
#include "../../cuda/squeeze_excite.cu"

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "squeeze_excite_variants.h"
#include "variant_test.h"

namespace {

using opzoo::Activation;
using opzoo::DType;
using opzoo::Layout;
using opzoo::SqueezeExciteShape;
using opzoo::test::random_vector;
using opzoo::test::relative_error;

int check(const SqueezeExciteShape& s, bool biased, std::mt19937_64& rng) {
  const auto& cpu = opzoo::cpu::squeeze_excite_scalar;
  const int64_t n = s.N * s.C * s.H * s.W;
  const std::vector<float> x = random_vector(rng, n), gy = random_vector(rng, n);
  const std::vector<float> wr = random_vector(rng, s.R * s.C), we = random_vector(rng, s.C * s.R);
  const std::vector<float> br = random_vector(rng, s.R), be = random_vector(rng, s.C);
  const float* brp = biased ? br.data() : nullptr;
  const float* bep = biased ? be.data() : nullptr;
  std::vector<std::vector<float>> want(6), got(6);
  for (auto* v : {&want, &got}) {
    (*v)[0].assign(size_t(n), NAN);
    (*v)[1].assign(size_t(n), NAN);
    (*v)[2].assign(wr.size(), NAN);
    (*v)[3].assign(size_t(s.R), NAN);
    (*v)[4].assign(we.size(), NAN);
    (*v)[5].assign(size_t(s.C), NAN);
  }
  cpu.forward(s, x.data(), wr.data(), brp, we.data(), bep, Activation::relu, want[0].data());
  cpu.backward(s, gy.data(), x.data(), wr.data(), brp, we.data(), bep, Activation::relu, want[1].data(),
               want[2].data(), want[3].data(), want[4].data(), want[5].data());
  std::vector<float> in_place = x;
  try {
    opzoo::cuda::squeeze_excite_forward(s, DType::float32, x.data(), wr.data(), brp, we.data(), bep,
                                        Activation::relu, got[0].data(), nullptr);
    opzoo::cuda::squeeze_excite_forward(s, DType::float32, in_place.data(), wr.data(), brp, we.data(), bep,
                                        Activation::relu, in_place.data(), nullptr);
    opzoo::cuda::squeeze_excite_backward(s, DType::float32, gy.data(), x.data(), wr.data(), brp, we.data(), bep,
                                         Activation::relu, got[1].data(), got[2].data(), got[3].data(),
                                         got[4].data(), got[5].data(), nullptr);
  } catch (const std::exception& e) {
    std::printf("FAIL launch: %s\n", e.what());
    return 1;
  }
  double err = relative_error(in_place, want[0]);
  for (int i = 0; i < 6; ++i) err = std::max(err, relative_error(got[size_t(i)], want[size_t(i)]));
  if (err <= 1e-5) return 0;
  std::printf("FAIL N=%lld C=%lld H=%lld W=%lld R=%lld %s bias %d: relative error %.3g\n", (long long)s.N,
              (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.R,
              s.layout == Layout::NCHW ? "NCHW" : "NHWC", int(biased), err);
  return 1;
}

}  // namespace

int main() {
  opzoo::set_num_threads(1);  // the reference on one thread: ThreadSanitizer does not see libgomp's synchronisation
  std::mt19937_64 rng(20261201);
  int failures = 0, cases = 0;
  for (Layout layout : {Layout::NCHW, Layout::NHWC})
    for (bool biased : {false, true}) {
      failures += check({2, 5, 9, 7, 3, layout}, biased, rng);
      failures += check({1, 3, 1, 2, 1, layout}, biased, rng);
      cases += 2;
    }
  std::printf("%d squeeze-excite CUDA cases under emulation against the portable kernels: %s\n", cases,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

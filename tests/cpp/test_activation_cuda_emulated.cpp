// The activation CUDA kernels (cuda/activation.cu, compiled into this test over the CUDA
// emulation layer) against the portable CPU kernels, in float32: the backward step of
// each activation, the bias-activation forward (into a fresh array and in place) and its
// backward, whose bias sums are one block reduction per channel. Small shapes, so the
// ThreadSanitizer build of CI checks the reduction's barriers in seconds. Exits non-zero
// on a disagreement or a failed launch.
#include "../../cuda/activation.cu"

#include <cstdio>
#include <random>
#include <vector>

#include "activation_variants.h"
#include "variant_test.h"

namespace {

using opzoo::Activation;
using opzoo::BiasActivationShape;
using opzoo::DType;
using opzoo::test::random_vector;
using opzoo::test::relative_error;

int report(const char* what, double err, const BiasActivationShape& s, int act) {
  if (err <= 1e-5) return 0;
  std::printf("FAIL %s, activation %d (outer %lld, channels %lld, inner %lld): relative error %.3g\n", what, act,
              (long long)s.outer, (long long)s.channels, (long long)s.inner, err);
  return 1;
}

int check(const BiasActivationShape& s, Activation act, std::mt19937_64& rng) {
  const auto& cpu = opzoo::cpu::activation_scalar;
  const int64_t n = s.outer * s.channels * s.inner;
  const std::vector<float> x = random_vector(rng, n, 3.0f), b = random_vector(rng, s.channels);
  const std::vector<float> r = random_vector(rng, n), g = random_vector(rng, n);
  std::vector<float> y_ref(size_t(n), NAN), gx_ref(size_t(n), NAN), gb_ref(size_t(s.channels), NAN), z_ref(size_t(n), NAN);
  cpu.bias_forward(s, x.data(), b.data(), act, r.data(), y_ref.data());
  cpu.bias_backward(s, g.data(), x.data(), b.data(), act, gx_ref.data(), gb_ref.data());
  cpu.backward(n, x.data(), g.data(), act, z_ref.data());
  std::vector<float> y(size_t(n), NAN), in_place = x, gx(size_t(n), NAN), gb(size_t(s.channels), NAN), z(size_t(n), NAN);
  try {
    opzoo::cuda::bias_activation_forward(DType::float32, s, x.data(), b.data(), act, r.data(), y.data(), nullptr);
    opzoo::cuda::bias_activation_forward(DType::float32, s, in_place.data(), b.data(), act, r.data(),
                                         in_place.data(), nullptr);
    opzoo::cuda::bias_activation_backward(DType::float32, s, g.data(), x.data(), b.data(), act, gx.data(),
                                          gb.data(), nullptr);
    opzoo::cuda::activation_backward(DType::float32, n, x.data(), g.data(), act, z.data(), nullptr);
  } catch (const std::exception& e) {
    std::printf("FAIL launch: %s\n", e.what());
    return 1;
  }
  return report("bias activation", relative_error(y, y_ref), s, int(act)) +
         report("bias activation in place", relative_error(in_place, y_ref), s, int(act)) +
         report("bias activation grad_x", relative_error(gx, gx_ref), s, int(act)) +
         report("bias activation grad_bias", relative_error(gb, gb_ref), s, int(act)) +
         report("activation backward", relative_error(z, z_ref), s, int(act));
}

}  // namespace

int main() {
  opzoo::set_num_threads(1);  // the reference on one thread: ThreadSanitizer does not see libgomp's synchronisation
  std::mt19937_64 rng(20261201);
  int failures = 0, cases = 0;
  const BiasActivationShape shapes[] = {{5, 7, 1}, {3, 4, 19}, {1, 3, 300}};
  for (const BiasActivationShape& s : shapes)
    for (int act = 0; act < opzoo::kNumActivations; ++act, ++cases) failures += check(s, Activation(act), rng);
  std::printf("%d activation CUDA cases under emulation against the portable kernels: %s\n", cases,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

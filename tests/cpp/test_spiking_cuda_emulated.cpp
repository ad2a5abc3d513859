// The spiking CUDA kernels (cuda/spiking.cu, compiled into this test over the CUDA
// emulation layer) against the portable CPU kernels in float32, on the variant test's
// cases (tests/cpp/spiking_test.h; a subset under ThreadSanitizer, where each launch is
// slow): the same spikes, H and potentials bit for bit, gradients to 1e-5.
#include "../../cuda/spiking.cu"

#include <cstdio>

#include "spiking_test.h"

int main() {
  opzoo::set_num_threads(1);  // the reference on one thread: ThreadSanitizer does not see libgomp's synchronisation
#if defined(__SANITIZE_THREAD__)
  const bool small = true;
#else
  const bool small = false;
#endif
  int checked = 0;
  const int failures = opzoo::test::check_spiking(
      "cuda",
      [](const opzoo::SpikingShape& s, const opzoo::NeuronParams& p, const float* x, const float* v0, float* spikes,
         float* h, float* v) { opzoo::cuda::spiking_forward(s, p, opzoo::DType::float32, x, v0, spikes, h, v, nullptr); },
      [](const opzoo::SpikingShape& s, const opzoo::NeuronParams& p, const opzoo::SurrogateParams& g, const float* gs,
         const float* gv, const float* h, float* gx, float* gv0) {
        opzoo::cuda::spiking_backward(s, p, g, opzoo::DType::float32, gs, gv, h, gx, gv0, nullptr);
      },
      checked, small);
  std::printf("cuda (emulated): %d spiking cases against the portable kernels: %s\n", checked,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}

// The spiking cases the C++ tests share (the SIMD variant test and the emulated CUDA
// test): every neuron model, reset, surrogate and detach option on odd neuron counts,
// with and without v_init and grad_v_final, checked against the portable kernels.
// Spikes, H and the final potentials must be the same bits; gradients agree to 1e-5
// (the sigmoid surrogate's exp rounds differently from ISA to ISA).
#pragma once

#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "opzoo/spiking.h"
#include "spiking_variants.h"
#include "variant_test.h"

namespace opzoo::test {

struct SpikingCase {
  SpikingShape shape;
  NeuronParams neuron;
  SurrogateParams surrogate;
  bool with_v_init, with_grad_v_final;
};

inline std::vector<SpikingCase> spiking_cases(bool small = false) {
  std::vector<SpikingCase> cases;
  const std::vector<SpikingShape> shapes =
      small ? std::vector<SpikingShape>{{3, 37}, {1, 5}} : std::vector<SpikingShape>{{1, 1}, {5, 17}, {9, 2049}, {4, 5001}, {0, 8}};
  int k = 0;
  for (const SpikingShape& s : shapes)
    for (int charge = 0; charge < 3; ++charge)
      for (int reset = 0; reset < 3; ++reset)
        for (int surrogate = 0; surrogate < kNumSurrogates; ++surrogate)
          for (int detach = 0; detach < 2; ++detach, ++k) {
            if (small && (k % 5) != 0) continue;
            SpikingCase c;
            c.shape = s;
            c.neuron.charge = Charge(charge);
            c.neuron.tau = charge == 2 ? 1.0 : (k % 2 ? 2.0 : 3.0);
            c.neuron.v_threshold = 1.0;
            c.neuron.hard_reset = reset != 1;
            c.neuron.v_reset = reset == 2 ? -0.4 : 0.0;
            c.surrogate.kind = Surrogate(surrogate);
            c.surrogate.alpha = surrogate == 0 ? 4.0 : 2.0;
            c.surrogate.detach_reset = detach != 0;
            c.with_v_init = k % 3 == 0;
            c.with_grad_v_final = k % 4 == 1;
            cases.push_back(c);
          }
  return cases;
}

struct SpikingResult {
  std::vector<float> spikes, h_seq, v_final, grad_x, grad_v_init;
};

// forward(shape, params, x, v_init, spikes, h_seq, v_final) and backward(...) with the
// signatures of SpikingKernels<float>.
using SpikingForward = std::function<void(const SpikingShape&, const NeuronParams&, const float*, const float*, float*,
                                          float*, float*)>;
using SpikingBackward = std::function<void(const SpikingShape&, const NeuronParams&, const SurrogateParams&,
                                           const float*, const float*, const float*, float*, float*)>;

inline SpikingResult run_spiking(const SpikingCase& c, const std::vector<float>& x, const std::vector<float>& v0,
                                 const std::vector<float>& g, const std::vector<float>& gv, const SpikingForward& fwd,
                                 const SpikingBackward& bwd) {
  const size_t n = size_t(c.shape.steps * c.shape.neurons), m = size_t(c.shape.neurons);
  SpikingResult r{std::vector<float>(n, -1), std::vector<float>(n, -1), std::vector<float>(m, -1),
                  std::vector<float>(n, -1), std::vector<float>(m, -1)};
  fwd(c.shape, c.neuron, x.data(), c.with_v_init ? v0.data() : nullptr, r.spikes.data(), r.h_seq.data(),
      r.v_final.data());
  bwd(c.shape, c.neuron, c.surrogate, g.data(), c.with_grad_v_final ? gv.data() : nullptr, r.h_seq.data(),
      r.grad_x.data(), r.grad_v_init.data());
  return r;
}

// Runs every case through `fwd`/`bwd` and the portable kernels; prints each
// disagreement under `name`; returns the number of failures (counting cases in checked).
inline int check_spiking(const char* name, const SpikingForward& fwd, const SpikingBackward& bwd, int& checked,
                         bool small = false) {
  std::mt19937_64 rng(20261203);
  int failures = 0;
  for (const SpikingCase& c : spiking_cases(small)) {
    const int64_t n = c.shape.steps * c.shape.neurons;
    std::vector<float> x = random_vector(rng, n);
    for (float& e : x) e += 0.8f;
    const std::vector<float> v0 = random_vector(rng, c.shape.neurons, 0.5f), g = random_vector(rng, n),
                             gv = random_vector(rng, c.shape.neurons);
    const auto& portable = cpu::spiking_scalar;
    const SpikingResult want = run_spiking(c, x, v0, g, gv, portable.forward, portable.backward);
    const SpikingResult got = run_spiking(c, x, v0, g, gv, fwd, bwd);
    ++checked;
    const bool same = got.spikes == want.spikes && got.h_seq == want.h_seq && got.v_final == want.v_final;
    const double err = std::fmax(relative_error(got.grad_x, want.grad_x), relative_error(got.grad_v_init, want.grad_v_init));
    if (!same || !(err <= 1e-5)) {
      std::printf("FAIL %s: T=%lld neurons=%lld charge %d hard %d v_reset %g surrogate %d detach %d: forward %s, "
                  "gradient error %.3g\n", name, (long long)c.shape.steps, (long long)c.shape.neurons,
                  int(c.neuron.charge), int(c.neuron.hard_reset), c.neuron.v_reset, int(c.surrogate.kind),
                  int(c.surrogate.detach_reset), same ? "same" : "DIFFERS", err);
      ++failures;
    }
  }
  return failures;
}

}  // namespace opzoo::test

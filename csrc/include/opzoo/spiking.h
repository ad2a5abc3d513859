// Spiking-neuron integration over time: SpikingJelly's multi-step LIF and IF neurons
// (activation_based LIFNode / IFNode, step_mode="m"), all T steps in one call with each
// neuron's membrane potential carried through the time loop, and their backward through
// time with a surrogate gradient for the spike.
//
// One step of a neuron, in SpikingJelly's order of operations (so float32 gives its bits):
//   H = V + (X - (V - V_reset)) / tau      LIF, decay_input
//   H = V - (V - V_reset) / tau + X        LIF, no decay_input
//   H = V + X                              IF
//   S = H >= V_threshold ? 1 : 0
//   V = S * V_reset + (1 - S) * H          hard reset
//   V = H - S * V_threshold                soft reset (V_reset taken as 0 in the charge)
#pragma once

#include <cstdint>

namespace opzoo {

enum class Charge : int { decay_input = 0, no_decay_input = 1, integrate = 2 };
enum class Surrogate : int { sigmoid = 0, atan = 1 };

constexpr int kNumSurrogates = 2;
constexpr const char* kSurrogateNames[kNumSurrogates] = {"sigmoid", "atan"};

// x of shape (steps, neurons...), as (steps, neurons), dense.
struct SpikingShape {
  int64_t steps = 0, neurons = 0;
};

// One neuron model's constants, checked (spiking_shape.h): tau > 1 and finite (LIF),
// v_reset < v_threshold, all finite.
struct NeuronParams {
  Charge charge = Charge::decay_input;
  double tau = 2.0;
  double v_threshold = 1.0;
  bool hard_reset = true;
  double v_reset = 0.0;  // hard reset only; the charge uses 0 under a soft reset
};

// The backward's spike derivative: sigmoid a*s(ax)(1 - s(ax)) or atan
// (a/2) / (1 + (pi/2 a x)^2) at x = H - V_threshold; detach_reset drops the gradient
// that flows through S into the reset.
struct SurrogateParams {
  Surrogate kind = Surrogate::sigmoid;
  double alpha = 4.0;
  bool detach_reset = false;
};

// One back end's spiking kernels for one dtype (x, spikes and gradients of type T;
// the membrane potentials and H of type T too on the CPU).
template <class T>
struct SpikingKernels {
  // spikes[t] for every step; h_seq[t] (H before the reset, what the backward needs)
  // when h_seq is not nullptr; v_final the potential after the last step. v_init
  // nullptr starts every neuron at V_reset (0 under a soft reset).
  void (*forward)(const SpikingShape& s, const NeuronParams& p, const T* x, const T* v_init, T* spikes, T* h_seq,
                  T* v_final);
  // Back through time from t = steps - 1: grad_x[t] from grad_spikes[t], h_seq[t] and the
  // gradient carried in V; grad_v_final (nullptr: zero) is the gradient of v_final, and
  // grad_v_init (when not nullptr) receives the gradient of v_init.
  void (*backward)(const SpikingShape& s, const NeuronParams& p, const SurrogateParams& g, const T* grad_spikes,
                   const T* grad_v_final, const T* h_seq, T* grad_x, T* grad_v_init);
};

// The kernels for the current simd_level() (float) or the portable ones (double).
const SpikingKernels<float>& spiking_kernels_f32();
const SpikingKernels<double>& spiking_kernels_f64();

}  // namespace opzoo

// The spiking ops' parameters and arrays checked against each other, for the CPU
// binding, the CUDA binding and the Python API (opzoo._cpu.spiking_check_neuron and
// spiking_check_surrogate).
#pragma once

#include <optional>
#include <string>

#include "arrays.h"
#include "opzoo/spiking.h"

namespace opzoo::bindings {

// neuron "lif" or "if"; tau finite and > 1 (LIF only); v_threshold finite; v_reset None
// (soft reset) or finite and < v_threshold. ValueError naming the first that is not.
NeuronParams make_neuron_params(const std::string& neuron, double tau, double v_threshold,
                                const std::optional<double>& v_reset, bool decay_input);
// surrogate one of kSurrogateNames; alpha finite and > 0.
SurrogateParams make_surrogate_params(const std::string& surrogate, double alpha, bool detach_reset);

// The dtype of the membrane potentials and H for inputs of `dtype`: float64 for float64,
// float32 otherwise (float16 and bfloat16 inputs integrate in float32).
DType spiking_state_dtype(DType dtype);

// x (T, ...) with at least one axis; v_init (optional) and v_final x.shape[1:], h_seq
// (optional) x's shape, the three of the state dtype; spikes of x's shape and dtype;
// outputs sharing no memory with the inputs or each other.
SpikingShape check_spiking_forward(const ArrayArg& x, const ArrayArg* v_init, const ArrayArg& spikes,
                                   const ArrayArg* h_seq, const ArrayArg& v_final);
// h_seq (T, ...) of the state dtype of grad_spikes (its shape, the inputs' dtype);
// grad_v_final (optional) and grad_v_init (optional) h_seq.shape[1:] of the state dtype;
// grad_x of grad_spikes' shape and dtype; outputs sharing no memory with the inputs.
SpikingShape check_spiking_backward(const ArrayArg& grad_spikes, const ArrayArg* grad_v_final, const ArrayArg& h_seq,
                                    const ArrayArg& grad_x, const ArrayArg* grad_v_init);

}  // namespace opzoo::bindings

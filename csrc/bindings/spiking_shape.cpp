#include "spiking_shape.h"

#include <cmath>
#include <sstream>

namespace opzoo::bindings {

namespace {

std::string number(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

void check_finite(double v, const char* name) {
  if (!std::isfinite(v)) throw py::value_error(std::string(name) + ": expected a finite number, got " + number(v));
}

void check_dtype(const ArrayArg& a, DType expected, const char* why) {
  if (a.dtype != expected)
    throw py::type_error(std::string(a.name) + ": expected dtype " + dtype_name(expected) + " (" + why + "), got " +
                         dtype_name(a.dtype));
}

// a is on first's device with the state dtype of first's dtype, of shape `shape`.
void check_state(const ArrayArg& a, const ArrayArg& first, const std::vector<int64_t>& shape) {
  check_dtype(a, spiking_state_dtype(first.dtype), "the membrane potential's dtype for these inputs");
  if (a.device != first.device)
    throw py::value_error(std::string(a.name) + ": on device " + std::to_string(a.device) + ", " + first.name +
                          " on device " + std::to_string(first.device));
  if (a.shape != shape)
    throw py::value_error(std::string(a.name) + ": expected shape " + shape_str(shape) + " (" + first.name +
                          (shape.size() == first.shape.size() ? "'s shape" : ".shape[1:]") + "), got " +
                          shape_str(a.shape));
}

SpikingShape sequence_shape(const ArrayArg& a) {
  if (a.shape.empty())
    throw py::value_error(std::string(a.name) + ": expected shape (T, ...) with a time axis first, got shape ()");
  SpikingShape s;
  s.steps = a.shape[0];
  s.neurons = 1;
  for (size_t d = 1; d < a.shape.size(); ++d) s.neurons *= a.shape[d];
  return s;
}

}  // namespace

NeuronParams make_neuron_params(const std::string& neuron, double tau, double v_threshold,
                                const std::optional<double>& v_reset, bool decay_input) {
  NeuronParams p;
  if (neuron == "lif") {
    check_finite(tau, "tau");
    if (!(tau > 1)) throw py::value_error("tau: expected a number > 1 (the LIF membrane time constant), got " + number(tau));
    p.charge = decay_input ? Charge::decay_input : Charge::no_decay_input;
    p.tau = tau;
  } else if (neuron == "if") {
    p.charge = Charge::integrate;
    p.tau = 1;
  } else {
    throw py::value_error("neuron: expected 'lif' or 'if', got '" + neuron + "'");
  }
  check_finite(v_threshold, "v_threshold");
  p.v_threshold = v_threshold;
  p.hard_reset = v_reset.has_value();
  if (v_reset) {
    check_finite(*v_reset, "v_reset");
    if (!(*v_reset < v_threshold))
      throw py::value_error("v_reset: expected a value below v_threshold (" + number(v_threshold) + "), got " +
                            number(*v_reset));
    p.v_reset = *v_reset;
  } else {
    p.v_reset = 0;
  }
  return p;
}

SurrogateParams make_surrogate_params(const std::string& surrogate, double alpha, bool detach_reset) {
  SurrogateParams g;
  int kind = -1;
  for (int i = 0; i < kNumSurrogates; ++i)
    if (surrogate == kSurrogateNames[i]) kind = i;
  if (kind < 0) throw py::value_error("surrogate: expected 'sigmoid' or 'atan', got '" + surrogate + "'");
  g.kind = Surrogate(kind);
  check_finite(alpha, "alpha");
  if (!(alpha > 0)) throw py::value_error("alpha: expected a number > 0, got " + number(alpha));
  g.alpha = alpha;
  g.detach_reset = detach_reset;
  return g;
}

DType spiking_state_dtype(DType dtype) { return dtype == DType::float64 ? DType::float64 : DType::float32; }

SpikingShape check_spiking_forward(const ArrayArg& x, const ArrayArg* v_init, const ArrayArg& spikes,
                                   const ArrayArg* h_seq, const ArrayArg& v_final) {
  const SpikingShape s = sequence_shape(x);
  const std::vector<int64_t> step(x.shape.begin() + 1, x.shape.end());
  if (v_init) check_state(*v_init, x, step);
  check_same_kind(spikes, x);
  check_shape(spikes, x.shape);  // opzoo's own output
  if (h_seq) check_state(*h_seq, x, x.shape);
  check_state(v_final, x, step);
  check_no_overlap(spikes, {&x, v_init, h_seq, &v_final});
  if (h_seq) check_no_overlap(*h_seq, {&x, v_init, &v_final});
  check_no_overlap(v_final, {&x, v_init});
  return s;
}

SpikingShape check_spiking_backward(const ArrayArg& grad_spikes, const ArrayArg* grad_v_final, const ArrayArg& h_seq,
                                    const ArrayArg& grad_x, const ArrayArg* grad_v_init) {
  const SpikingShape s = sequence_shape(grad_spikes);
  const std::vector<int64_t> step(grad_spikes.shape.begin() + 1, grad_spikes.shape.end());
  check_state(h_seq, grad_spikes, grad_spikes.shape);
  if (grad_v_final) check_state(*grad_v_final, grad_spikes, step);
  check_same_kind(grad_x, grad_spikes);
  check_shape(grad_x, grad_spikes.shape);
  if (grad_v_init) check_state(*grad_v_init, grad_spikes, step);
  check_no_overlap(grad_x, {&grad_spikes, grad_v_final, &h_seq, grad_v_init});
  if (grad_v_init) check_no_overlap(*grad_v_init, {&grad_spikes, grad_v_final, &h_seq});
  return s;
}

}  // namespace opzoo::bindings

// opzoo._cpu spiking_forward, spiking_backward and the parameter checks: the shared
// parameter and array rules, then the kernels without the GIL.
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "host_array.h"
#include "opzoo/spiking.h"
#include "registry.h"
#include "spiking_shape.h"

namespace opzoo::bindings {
namespace {

template <class T>
const SpikingKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return spiking_kernels_f32();
  else return spiking_kernels_f64();
}

void forward(const py::array& x_in, const std::optional<py::array>& v_init_in, const py::array& spikes_in,
             const std::optional<py::array>& h_seq_in, const py::array& v_final_in, const std::string& neuron,
             double tau, double v_threshold, const std::optional<double>& v_reset, bool decay_input) {
  const ArrayArg x = host_array(x_in, "x"), spikes = host_array(spikes_in, "spikes", true);
  const ArrayArg v_final = host_array(v_final_in, "v_final", true);
  const std::optional<ArrayArg> v_init = host_array(v_init_in, "v_init"), h_seq = host_array(h_seq_in, "h_seq", true);
  const NeuronParams p = make_neuron_params(neuron, tau, v_threshold, v_reset, decay_input);
  const SpikingShape s = check_spiking_forward(x, v_init ? &*v_init : nullptr, spikes, h_seq ? &*h_seq : nullptr,
                                               v_final);
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().forward(s, p, x.as<const T>(), v_init ? v_init->as<const T>() : nullptr, spikes.as<T>(),
                         h_seq ? h_seq->as<T>() : nullptr, v_final.as<T>());
  });
}

void backward(const py::array& grad_spikes_in, const std::optional<py::array>& grad_v_final_in,
              const py::array& h_seq_in, const py::array& grad_x_in, const std::optional<py::array>& grad_v_init_in,
              const std::string& neuron, double tau, double v_threshold, const std::optional<double>& v_reset,
              bool decay_input, const std::string& surrogate, double alpha, bool detach_reset) {
  const ArrayArg gs = host_array(grad_spikes_in, "grad_spikes"), h_seq = host_array(h_seq_in, "h_seq");
  const ArrayArg gx = host_array(grad_x_in, "grad_x", true);
  const std::optional<ArrayArg> gv_final = host_array(grad_v_final_in, "grad_v_final"),
                                gv_init = host_array(grad_v_init_in, "grad_v_init", true);
  const NeuronParams p = make_neuron_params(neuron, tau, v_threshold, v_reset, decay_input);
  const SurrogateParams g = make_surrogate_params(surrogate, alpha, detach_reset);
  const SpikingShape s = check_spiking_backward(gs, gv_final ? &*gv_final : nullptr, h_seq, gx,
                                                gv_init ? &*gv_init : nullptr);
  with_host_type(gs.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().backward(s, p, g, gs.as<const T>(), gv_final ? gv_final->as<const T>() : nullptr,
                          h_seq.as<const T>(), gx.as<T>(), gv_init ? gv_init->as<T>() : nullptr);
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(spiking) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def(
      "spiking_check_neuron",
      [](const std::string& neuron, double tau, double v_threshold, const std::optional<double>& v_reset,
         bool decay_input) { b::make_neuron_params(neuron, tau, v_threshold, v_reset, decay_input); },
      py::arg("neuron"), py::arg("tau"), py::arg("v_threshold"), py::arg("v_reset").none(true),
      py::arg("decay_input"), "ValueError unless the neuron's parameters are valid.");
  m.def(
      "spiking_check_surrogate",
      [](const std::string& surrogate, double alpha) { b::make_surrogate_params(surrogate, alpha, false); },
      py::arg("surrogate"), py::arg("alpha"), "ValueError unless the surrogate's name and alpha are valid.");
  m.def("spiking_forward", &b::forward, py::arg("x").noconvert(), py::arg("v_init").noconvert().none(true),
        py::arg("spikes").noconvert(), py::arg("h_seq").noconvert().none(true), py::arg("v_final").noconvert(),
        py::arg("neuron"), py::arg("tau"), py::arg("v_threshold"), py::arg("v_reset").none(true),
        py::arg("decay_input"),
        "All T steps of LIF or IF neurons: spikes, H before each reset (when h_seq is given), the final potential.");
  m.def("spiking_backward", &b::backward, py::arg("grad_spikes").noconvert(),
        py::arg("grad_v_final").noconvert().none(true), py::arg("h_seq").noconvert(), py::arg("grad_x").noconvert(),
        py::arg("grad_v_init").noconvert().none(true), py::arg("neuron"), py::arg("tau"), py::arg("v_threshold"),
        py::arg("v_reset").none(true), py::arg("decay_input"), py::arg("surrogate"), py::arg("alpha"),
        py::arg("detach_reset"),
        "Back through time with a surrogate spike derivative: grad_x, and the initial potential's gradient when "
        "grad_v_init is given.");
}

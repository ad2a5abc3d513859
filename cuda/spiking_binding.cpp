// opzoo._cuda spiking neurons: the parameters and arrays checked against each other
// (spiking_shape.h, as the CPU binding checks them), then the kernels launched on the
// caller's device and stream without the GIL.
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "device_array.h"
#include "registry.h"
#include "spiking_cuda.h"
#include "spiking_shape.h"

namespace opzoo::bindings {
namespace {

const float* floats(const std::optional<ArrayArg>& a) { return a ? a->as<const float>() : nullptr; }

void forward(const py::handle& x_d, const py::handle& v_init_d, const py::handle& spikes_d, const py::handle& h_seq_d,
             const py::handle& v_final_d, const std::string& neuron, double tau, double v_threshold,
             const std::optional<double>& v_reset, bool decay_input, uintptr_t stream) {
  const ArrayArg x = device_array(x_d, "x"), spikes = device_array(spikes_d, "spikes");
  const ArrayArg v_final = device_array(v_final_d, "v_final");
  const std::optional<ArrayArg> v_init = optional_device_array(v_init_d, "v_init"),
                                h_seq = optional_device_array(h_seq_d, "h_seq");
  const NeuronParams p = make_neuron_params(neuron, tau, v_threshold, v_reset, decay_input);
  const SpikingShape s = check_spiking_forward(x, v_init ? &*v_init : nullptr, spikes, h_seq ? &*h_seq : nullptr,
                                               v_final);
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::spiking_forward(s, p, x.dtype, x.data, floats(v_init), spikes.data, h_seq ? h_seq->as<float>() : nullptr,
                          v_final.as<float>(), as_stream(stream));
  });
}

void backward(const py::handle& gs_d, const py::handle& gv_final_d, const py::handle& h_seq_d, const py::handle& gx_d,
              const py::handle& gv_init_d, const std::string& neuron, double tau, double v_threshold,
              const std::optional<double>& v_reset, bool decay_input, const std::string& surrogate, double alpha,
              bool detach_reset, uintptr_t stream) {
  const ArrayArg gs = device_array(gs_d, "grad_spikes"), h_seq = device_array(h_seq_d, "h_seq");
  const ArrayArg gx = device_array(gx_d, "grad_x");
  const std::optional<ArrayArg> gv_final = optional_device_array(gv_final_d, "grad_v_final"),
                                gv_init = optional_device_array(gv_init_d, "grad_v_init");
  const NeuronParams p = make_neuron_params(neuron, tau, v_threshold, v_reset, decay_input);
  const SurrogateParams g = make_surrogate_params(surrogate, alpha, detach_reset);
  const SpikingShape s = check_spiking_backward(gs, gv_final ? &*gv_final : nullptr, h_seq, gx,
                                                gv_init ? &*gv_init : nullptr);
  py::gil_scoped_release release;
  on_device(gs.device, [&] {
    cuda::spiking_backward(s, p, g, gs.dtype, gs.data, floats(gv_final), h_seq.as<const float>(), gx.data,
                           gv_init ? gv_init->as<float>() : nullptr, as_stream(stream));
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(spiking) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("spiking_forward", &b::forward, py::arg("x"), py::arg("v_init").none(true), py::arg("spikes"),
        py::arg("h_seq").none(true), py::arg("v_final"), py::arg("neuron"), py::arg("tau"), py::arg("v_threshold"),
        py::arg("v_reset").none(true), py::arg("decay_input"), py::arg("stream"),
        "All T steps of LIF or IF neurons: spikes, H (when h_seq is given), the final potential.");
  m.def("spiking_backward", &b::backward, py::arg("grad_spikes"), py::arg("grad_v_final").none(true),
        py::arg("h_seq"), py::arg("grad_x"), py::arg("grad_v_init").none(true), py::arg("neuron"), py::arg("tau"),
        py::arg("v_threshold"), py::arg("v_reset").none(true), py::arg("decay_input"), py::arg("surrogate"),
        py::arg("alpha"), py::arg("detach_reset"), py::arg("stream"),
        "Back through time with a surrogate spike derivative: grad_x and, when given, grad_v_init.");
}

// opzoo._cpu activation_backward: out = grad * activation'(z), elementwise, without the GIL.
#include <pybind11/stl.h>

#include <string>

#include "activation_shape.h"
#include "host_array.h"
#include "opzoo/activation.h"
#include "params.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

template <class T>
const ActivationKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return activation_kernels_f32();
  else return activation_kernels_f64();
}

void backward(const py::array& z_in, const py::array& grad_in, const py::array& out_in, const py::handle& activation) {
  const ArrayArg z = host_array(z_in, "z"), grad = host_array(grad_in, "grad"), out = host_array(out_in, "out", true);
  check_activation_backward(z, grad, out);
  const Activation act = parse_activation(activation);
  with_host_type(z.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().backward(z.size(), z.as<const T>(), grad.as<const T>(), act, out.as<T>());
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(activation) {
  namespace py = pybind11;
  py::tuple names(opzoo::kNumActivations - 1);
  for (int i = 0; i < opzoo::kNumActivations - 1; ++i) names[i] = py::str(opzoo::kActivationNames[i]);
  m.attr("activations") = names;
  m.def("activation_backward", &opzoo::bindings::backward, py::arg("z").noconvert(), py::arg("grad").noconvert(),
        py::arg("out").noconvert(), py::arg("activation"),
        "out = grad * activation'(z), elementwise over arrays of one shape (PyTorch's values at the kinks).");
}

// opzoo._cuda activation_backward: out = grad * activation'(z), elementwise, on the
// caller's device and stream.
#include "activation_cuda.h"
#include "activation_shape.h"
#include "device_array.h"
#include "params.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

void backward(const py::handle& z_desc, const py::handle& g_desc, const py::handle& out_desc,
              const py::handle& activation, uintptr_t stream) {
  const ArrayArg z = device_array(z_desc, "z"), g = device_array(g_desc, "grad"), out = device_array(out_desc, "out");
  check_activation_backward(z, g, out);
  const Activation act = parse_activation(activation);
  py::gil_scoped_release release;
  on_device(z.device, [&] { cuda::activation_backward(z.dtype, z.size(), z.data, g.data, act, out.data, as_stream(stream)); });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(activation) {
  namespace py = pybind11;
  m.def("activation_backward", &opzoo::bindings::backward, py::arg("z"), py::arg("grad"), py::arg("out"),
        py::arg("activation"), py::arg("stream"),
        "out = grad * activation'(z), elementwise over arrays of one shape (PyTorch's values at the kinks).");
}

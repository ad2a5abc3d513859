// opzoo._cuda squeeze-excite: the descriptors checked against each other
// (squeeze_excite_shape.h, as the CPU binding checks its arrays), then the kernels
// launched on the caller's device and stream without the GIL.
#include <climits>
#include <optional>
#include <string>

#include "device_array.h"
#include "params.h"
#include "registry.h"
#include "squeeze_excite_cuda.h"
#include "squeeze_excite_shape.h"

namespace opzoo::bindings {
namespace {

const ArrayArg* ptr(const std::optional<ArrayArg>& a) { return a ? &*a : nullptr; }
void* data(const std::optional<ArrayArg>& a) { return a ? a->data : nullptr; }

// One thread block per (image, channel) and per image.
void check_grid(const SqueezeExciteShape& s) {
  if (s.N * s.C > INT32_MAX)
    throw py::value_error("x: at most 2**31 - 1 images times channels on a CUDA device, got " +
                          std::to_string(s.N * s.C));
}

void forward(const py::handle& x_desc, const py::handle& wr_desc, const py::handle& br_desc,
             const py::handle& we_desc, const py::handle& be_desc, const py::handle& out_desc,
             const std::string& layout, const py::handle& activation, uintptr_t stream) {
  const ArrayArg x = device_array(x_desc, "x"), wr = device_array(wr_desc, "w_reduce");
  const ArrayArg we = device_array(we_desc, "w_expand"), out = device_array(out_desc, "out");
  const std::optional<ArrayArg> br = optional_device_array(br_desc, "b_reduce");
  const std::optional<ArrayArg> be = optional_device_array(be_desc, "b_expand");
  const SqueezeExciteShape s = check_squeeze_excite_forward(x, wr, ptr(br), we, ptr(be), out, layout);
  check_grid(s);
  const Activation act = parse_activation(activation);
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::squeeze_excite_forward(s, x.dtype, x.data, wr.data, data(br), we.data, data(be), act, out.data,
                                 as_stream(stream));
  });
}

void backward(const py::handle& gy_desc, const py::handle& x_desc, const py::handle& wr_desc,
              const py::handle& br_desc, const py::handle& we_desc, const py::handle& be_desc,
              const py::handle& gx_desc, const py::handle& gwr_desc, const py::handle& gbr_desc,
              const py::handle& gwe_desc, const py::handle& gbe_desc, const std::string& layout,
              const py::handle& activation, uintptr_t stream) {
  const ArrayArg gy = device_array(gy_desc, "grad_out"), x = device_array(x_desc, "x");
  const ArrayArg wr = device_array(wr_desc, "w_reduce"), we = device_array(we_desc, "w_expand");
  const std::optional<ArrayArg> br = optional_device_array(br_desc, "b_reduce");
  const std::optional<ArrayArg> be = optional_device_array(be_desc, "b_expand");
  const std::optional<ArrayArg> gx = optional_device_array(gx_desc, "grad_x");
  const std::optional<ArrayArg> gwr = optional_device_array(gwr_desc, "grad_w_reduce");
  const std::optional<ArrayArg> gbr = optional_device_array(gbr_desc, "grad_b_reduce");
  const std::optional<ArrayArg> gwe = optional_device_array(gwe_desc, "grad_w_expand");
  const std::optional<ArrayArg> gbe = optional_device_array(gbe_desc, "grad_b_expand");
  const SqueezeExciteShape s = check_squeeze_excite_backward(gy, x, wr, ptr(br), we, ptr(be), ptr(gx), ptr(gwr),
                                                             ptr(gbr), ptr(gwe), ptr(gbe), layout);
  check_grid(s);
  const Activation act = parse_activation(activation);
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::squeeze_excite_backward(s, x.dtype, gy.data, x.data, wr.data, data(br), we.data, data(be), act, data(gx),
                                  data(gwr), data(gbr), data(gwe), data(gbe), as_stream(stream));
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(squeeze_excite) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("squeeze_excite_forward", &b::forward, py::arg("x"), py::arg("w_reduce"), py::arg("b_reduce"),
        py::arg("w_expand"), py::arg("b_expand"), py::arg("out"), py::arg("layout"), py::arg("activation"),
        py::arg("stream"), "Squeeze-excite forward into `out` (which may be x itself).");
  m.def("squeeze_excite_backward", &b::backward, py::arg("grad_out"), py::arg("x"), py::arg("w_reduce"),
        py::arg("b_reduce"), py::arg("w_expand"), py::arg("b_expand"), py::arg("grad_x"), py::arg("grad_w_reduce"),
        py::arg("grad_b_reduce"), py::arg("grad_w_expand"), py::arg("grad_b_expand"), py::arg("layout"),
        py::arg("activation"), py::arg("stream"),
        "Squeeze-excite gradients: grad_x and the four parameter gradients, each group when given.");
}

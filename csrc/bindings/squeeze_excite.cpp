// opzoo._cpu squeeze_excite_check, squeeze_excite_forward and squeeze_excite_backward:
// the shared argument rules, then the kernels without the GIL.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "host_array.h"
#include "opzoo/squeeze_excite.h"
#include "params.h"
#include "registry.h"
#include "squeeze_excite_shape.h"

namespace opzoo::bindings {
namespace {

template <class T>
const SqueezeExciteKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return squeeze_excite_kernels_f32();
  else return squeeze_excite_kernels_f64();
}

using OptionalShape = std::optional<std::vector<int64_t>>;

void check(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& w_reduce_shape,
           const OptionalShape& b_reduce_shape, const std::vector<int64_t>& w_expand_shape,
           const OptionalShape& b_expand_shape, const std::string& layout) {
  make_squeeze_excite_shape(x_shape, w_reduce_shape, b_reduce_shape ? &*b_reduce_shape : nullptr, w_expand_shape,
                            b_expand_shape ? &*b_expand_shape : nullptr, layout);
}

const ArrayArg* ptr(const std::optional<ArrayArg>& a) { return a ? &*a : nullptr; }

template <class T>
const T* data(const std::optional<ArrayArg>& a) {
  return a ? a->as<const T>() : nullptr;
}

template <class T>
T* mutable_data(const std::optional<ArrayArg>& a) {
  return a ? a->as<T>() : nullptr;
}

void forward(const py::array& x_in, const py::array& wr_in, const std::optional<py::array>& br_in,
             const py::array& we_in, const std::optional<py::array>& be_in, const py::array& out_in,
             const std::string& layout, const py::handle& activation) {
  const ArrayArg x = host_array(x_in, "x"), wr = host_array(wr_in, "w_reduce"), we = host_array(we_in, "w_expand");
  const std::optional<ArrayArg> br = host_array(br_in, "b_reduce"), be = host_array(be_in, "b_expand");
  const ArrayArg out = host_array(out_in, "out", true);
  const SqueezeExciteShape s = check_squeeze_excite_forward(x, wr, ptr(br), we, ptr(be), out, layout);
  const Activation act = parse_activation(activation);
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().forward(s, x.as<const T>(), wr.as<const T>(), data<T>(br), we.as<const T>(), data<T>(be), act,
                         out.as<T>());
  });
}

void backward(const py::array& gy_in, const py::array& x_in, const py::array& wr_in,
              const std::optional<py::array>& br_in, const py::array& we_in, const std::optional<py::array>& be_in,
              const std::optional<py::array>& gx_in, const std::optional<py::array>& gwr_in,
              const std::optional<py::array>& gbr_in, const std::optional<py::array>& gwe_in,
              const std::optional<py::array>& gbe_in, const std::string& layout, const py::handle& activation) {
  const ArrayArg gy = host_array(gy_in, "grad_out"), x = host_array(x_in, "x");
  const ArrayArg wr = host_array(wr_in, "w_reduce"), we = host_array(we_in, "w_expand");
  const std::optional<ArrayArg> br = host_array(br_in, "b_reduce"), be = host_array(be_in, "b_expand");
  const std::optional<ArrayArg> gx = host_array(gx_in, "grad_x", true), gwr = host_array(gwr_in, "grad_w_reduce", true),
                                gbr = host_array(gbr_in, "grad_b_reduce", true),
                                gwe = host_array(gwe_in, "grad_w_expand", true),
                                gbe = host_array(gbe_in, "grad_b_expand", true);
  const SqueezeExciteShape s = check_squeeze_excite_backward(gy, x, wr, ptr(br), we, ptr(be), ptr(gx), ptr(gwr),
                                                             ptr(gbr), ptr(gwe), ptr(gbe), layout);
  const Activation act = parse_activation(activation);
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().backward(s, gy.as<const T>(), x.as<const T>(), wr.as<const T>(), data<T>(br), we.as<const T>(),
                          data<T>(be), act, mutable_data<T>(gx), mutable_data<T>(gwr), mutable_data<T>(gbr),
                          mutable_data<T>(gwe), mutable_data<T>(gbe));
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(squeeze_excite) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("squeeze_excite_check", &b::check, py::arg("x_shape"), py::arg("w_reduce_shape"),
        py::arg("b_reduce_shape").none(true), py::arg("w_expand_shape"), py::arg("b_expand_shape").none(true),
        py::arg("layout"), "Checks a squeeze-excite call's shapes (ValueError naming the first that does not fit).");
  m.def("squeeze_excite_forward", &b::forward, py::arg("x").noconvert(), py::arg("w_reduce").noconvert(),
        py::arg("b_reduce").noconvert().none(true), py::arg("w_expand").noconvert(),
        py::arg("b_expand").noconvert().none(true), py::arg("out").noconvert(), py::arg("layout"),
        py::arg("activation"), "Squeeze-excite forward into `out` (which may be x itself).");
  m.def("squeeze_excite_backward", &b::backward, py::arg("grad_out").noconvert(), py::arg("x").noconvert(),
        py::arg("w_reduce").noconvert(), py::arg("b_reduce").noconvert().none(true), py::arg("w_expand").noconvert(),
        py::arg("b_expand").noconvert().none(true), py::arg("grad_x").noconvert().none(true),
        py::arg("grad_w_reduce").noconvert().none(true), py::arg("grad_b_reduce").noconvert().none(true),
        py::arg("grad_w_expand").noconvert().none(true), py::arg("grad_b_expand").noconvert().none(true),
        py::arg("layout"), py::arg("activation"),
        "Squeeze-excite gradients: grad_x and the four parameter gradients, each group when given.");
}

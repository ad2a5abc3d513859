// opzoo._cpu heatmap_decode_shape and heatmap_decode: the shared argument rules, then
// the kernel without the GIL.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "heatmap_decode_shape.h"
#include "host_array.h"
#include "opzoo/heatmap_decode.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

template <class T>
const HeatmapDecodeKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return heatmap_decode_kernels_f32();
  else return heatmap_decode_kernels_f64();
}

std::vector<int64_t> boxes_shape(const std::vector<int64_t>& heat_shape, const std::vector<int64_t>& wh_shape,
                                 const std::optional<std::vector<int64_t>>& reg_shape, int64_t K,
                                 const std::string& layout) {
  const HeatmapDecodeShape s = make_heatmap_decode_shape(heat_shape, wh_shape, reg_shape ? &*reg_shape : nullptr, K,
                                                         layout);
  return {s.N, s.K, 6};
}

void decode(const py::array& heat_in, const py::array& wh_in, const std::optional<py::array>& reg_in,
            const py::array& boxes_in, int64_t K, const std::string& layout) {
  const ArrayArg heat = host_array(heat_in, "heat"), wh = host_array(wh_in, "wh");
  const std::optional<ArrayArg> reg = host_array(reg_in, "reg");
  const ArrayArg boxes = host_array(boxes_in, "boxes", true);
  const HeatmapDecodeShape s = check_heatmap_decode(heat, wh, reg ? &*reg : nullptr, boxes, K, layout);
  with_host_type(heat.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    kernels<T>().decode(s, heat.as<const T>(), wh.as<const T>(), reg ? reg->as<const T>() : nullptr, boxes.as<T>());
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(heatmap_decode) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("heatmap_decode_shape", &b::boxes_shape, py::arg("heat_shape"), py::arg("wh_shape"),
        py::arg("reg_shape").none(true), py::arg("K"), py::arg("layout"),
        "The boxes' shape (N, K, 6) of a decode call, after checking its shapes.");
  m.def("heatmap_decode", &b::decode, py::arg("heat").noconvert(), py::arg("wh").noconvert(),
        py::arg("reg").noconvert().none(true), py::arg("boxes").noconvert(), py::arg("K"), py::arg("layout"),
        "CenterNet's ctdet_decode of the heatmap into `boxes`.");
}

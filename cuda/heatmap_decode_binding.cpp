// opzoo._cuda heatmap decoding: the arrays checked against each other
// (heatmap_decode_shape.h, as the CPU binding checks them), then the kernels launched
// on the caller's device and stream without the GIL.
#include <string>

#include "device_array.h"
#include "heatmap_decode_cuda.h"
#include "heatmap_decode_shape.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

void decode(const py::handle& heat_d, const py::handle& wh_d, const py::handle& reg_d, const py::handle& boxes_d,
            int64_t K, const std::string& layout, uintptr_t stream) {
  const ArrayArg heat = device_array(heat_d, "heat"), wh = device_array(wh_d, "wh");
  const std::optional<ArrayArg> reg = optional_device_array(reg_d, "reg");
  const ArrayArg boxes = device_array(boxes_d, "boxes");
  const HeatmapDecodeShape s = check_heatmap_decode(heat, wh, reg ? &*reg : nullptr, boxes, K, layout);
  py::gil_scoped_release release;
  on_device(heat.device, [&] {
    cuda::heatmap_decode(s, heat.dtype, heat.data, wh.data, reg ? reg->data : nullptr, boxes.data, as_stream(stream));
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(heatmap_decode) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("heatmap_decode", &b::decode, py::arg("heat"), py::arg("wh"), py::arg("reg").none(true), py::arg("boxes"),
        py::arg("K"), py::arg("layout"), py::arg("stream"), "CenterNet's ctdet_decode of the heatmap into `boxes`.");
}

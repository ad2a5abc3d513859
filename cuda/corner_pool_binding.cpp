// opzoo._cuda corner and center pooling: the arrays checked against each other
// (corner_pool_shape.h, as the CPU binding checks them), then the kernels launched on
// the caller's device and stream without the GIL.
#include <string>

#include "corner_pool_cuda.h"
#include "corner_pool_shape.h"
#include "device_array.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

// Launches f() on x's device without the GIL.
template <class F>
void run(const ArrayArg& x, F&& f) {
  py::gil_scoped_release release;
  on_device(x.device, f);
}

void pool(const py::handle& x_d, const py::handle& out_d, const std::string& direction, const std::string& layout,
          uintptr_t stream) {
  const ArrayArg x = device_array(x_d, "x"), out = device_array(out_d, "out");
  const CornerPoolShape s = check_corner_pool_arrays({&x}, {&out}, layout);
  const PoolDirection d = parse_direction(direction);
  const bool v = is_vertical(d);
  run(x, [&] {
    cuda::corner_pool_forward(s, x.dtype, v ? x.data : nullptr, d, v ? nullptr : x.data, d, out.data,
                              as_stream(stream));
  });
}

void pair(const py::handle& a_d, const py::handle& b_d, const py::handle& out_d, const std::string& corner,
          const std::string& layout, uintptr_t stream) {
  const ArrayArg a = device_array(a_d, "a"), b = device_array(b_d, "b"), out = device_array(out_d, "out");
  const CornerPoolShape s = check_corner_pool_arrays({&a, &b}, {&out}, layout);
  const auto [vertical, horizontal] = parse_corner(corner);
  run(a, [&] { cuda::corner_pool_forward(s, a.dtype, a.data, vertical, b.data, horizontal, out.data, as_stream(stream)); });
}

void center(const py::handle& a_d, const py::handle& b_d, const py::handle& out_d, const std::string& layout,
            uintptr_t stream) {
  const ArrayArg a = device_array(a_d, "a"), b = device_array(b_d, "b"), out = device_array(out_d, "out");
  const CornerPoolShape s = check_corner_pool_arrays({&a, &b}, {&out}, layout);
  run(a, [&] { cuda::center_pool_forward(s, a.dtype, a.data, b.data, out.data, as_stream(stream)); });
}

void pool_backward(const py::handle& g_d, const py::handle& x_d, const py::handle& gx_d, const std::string& direction,
                   const std::string& layout, uintptr_t stream) {
  const ArrayArg g = device_array(g_d, "grad_out"), x = device_array(x_d, "x"), gx = device_array(gx_d, "grad_x");
  const CornerPoolShape s = check_corner_pool_arrays({&g, &x}, {&gx}, layout);
  const PoolDirection d = parse_direction(direction);
  run(x, [&] { cuda::corner_pool_backward(s, x.dtype, g.data, x.data, d, gx.data, as_stream(stream)); });
}

void pair_backward(const py::handle& g_d, const py::handle& a_d, const py::handle& b_d, const py::handle& ga_d,
                   const py::handle& gb_d, const std::string& corner, const std::string& layout, uintptr_t stream) {
  const ArrayArg g = device_array(g_d, "grad_out"), a = device_array(a_d, "a"), b = device_array(b_d, "b");
  const ArrayArg ga = device_array(ga_d, "grad_a"), gb = device_array(gb_d, "grad_b");
  const CornerPoolShape s = check_corner_pool_arrays({&g, &a, &b}, {&ga, &gb}, layout);
  const auto [vertical, horizontal] = parse_corner(corner);
  run(a, [&] {
    cuda::corner_pool_backward(s, a.dtype, g.data, a.data, vertical, ga.data, as_stream(stream));
    cuda::corner_pool_backward(s, a.dtype, g.data, b.data, horizontal, gb.data, as_stream(stream));
  });
}

void center_backward(const py::handle& g_d, const py::handle& a_d, const py::handle& b_d, const py::handle& ga_d,
                     const py::handle& gb_d, const std::string& layout, uintptr_t stream) {
  const ArrayArg g = device_array(g_d, "grad_out"), a = device_array(a_d, "a"), b = device_array(b_d, "b");
  const ArrayArg ga = device_array(ga_d, "grad_a"), gb = device_array(gb_d, "grad_b");
  const CornerPoolShape s = check_corner_pool_arrays({&g, &a, &b}, {&ga, &gb}, layout);
  run(a, [&] {
    cuda::extent_pool_backward(s, a.dtype, g.data, a.data, true, ga.data, as_stream(stream));
    cuda::extent_pool_backward(s, a.dtype, g.data, b.data, false, gb.data, as_stream(stream));
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(corner_pool) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("corner_pool_forward", &b::pool, py::arg("x"), py::arg("out"), py::arg("direction"), py::arg("layout"),
        py::arg("stream"), "Corner pooling in one direction into `out`.");
  m.def("corner_pool_pair_forward", &b::pair, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("corner"),
        py::arg("layout"), py::arg("stream"), "A corner's two pools summed into `out`.");
  m.def("center_pool_forward", &b::center, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("layout"),
        py::arg("stream"), "Center pooling into `out`.");
  m.def("corner_pool_backward", &b::pool_backward, py::arg("grad_out"), py::arg("x"), py::arg("grad_x"),
        py::arg("direction"), py::arg("layout"), py::arg("stream"), "Corner pooling's grad_x.");
  m.def("corner_pool_pair_backward", &b::pair_backward, py::arg("grad_out"), py::arg("a"), py::arg("b"),
        py::arg("grad_a"), py::arg("grad_b"), py::arg("corner"), py::arg("layout"), py::arg("stream"),
        "A corner pair's grad_a and grad_b.");
  m.def("center_pool_backward", &b::center_backward, py::arg("grad_out"), py::arg("a"), py::arg("b"),
        py::arg("grad_a"), py::arg("grad_b"), py::arg("layout"), py::arg("stream"), "Center pooling's grad_a and grad_b.");
}

// opzoo._cpu corner_pool_check and the corner/center pooling kernels, forward and
// backward: the shared argument rules, then the kernels without the GIL.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "corner_pool_shape.h"
#include "host_array.h"
#include "opzoo/corner_pool.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

template <class T>
const CornerPoolKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) return corner_pool_kernels_f32();
  else return corner_pool_kernels_f64();
}

void check(const std::vector<std::vector<int64_t>>& shapes, const std::vector<std::string>& names,
           const std::string& layout) {
  make_corner_pool_shape(shapes, names, layout);
}

// Runs f(kernels, T{}) for the dtype of `x` without the GIL.
template <class F>
void run(const ArrayArg& x, F&& f) {
  with_host_type(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    py::gil_scoped_release release;
    f(kernels<T>(), zero);
  });
}

void pool(const py::array& x_in, const py::array& out_in, const std::string& direction, const std::string& layout) {
  const ArrayArg x = host_array(x_in, "x"), out = host_array(out_in, "out", true);
  const CornerPoolShape s = check_corner_pool_arrays({&x}, {&out}, layout);
  const PoolDirection d = parse_direction(direction);
  run(x, [&](const auto& k, auto zero) {
    using T = decltype(zero);
    const bool v = is_vertical(d);
    k.corner(s, v ? x.as<const T>() : nullptr, d, v ? nullptr : x.as<const T>(), d, out.as<T>());
  });
}

void pair(const py::array& a_in, const py::array& b_in, const py::array& out_in, const std::string& corner,
          const std::string& layout) {
  const ArrayArg a = host_array(a_in, "a"), b = host_array(b_in, "b"), out = host_array(out_in, "out", true);
  const CornerPoolShape s = check_corner_pool_arrays({&a, &b}, {&out}, layout);
  const auto [vertical, horizontal] = parse_corner(corner);
  run(a, [&](const auto& k, auto zero) {
    using T = decltype(zero);
    k.corner(s, a.as<const T>(), vertical, b.as<const T>(), horizontal, out.as<T>());
  });
}

void center(const py::array& a_in, const py::array& b_in, const py::array& out_in, const std::string& layout) {
  const ArrayArg a = host_array(a_in, "a"), b = host_array(b_in, "b"), out = host_array(out_in, "out", true);
  const CornerPoolShape s = check_corner_pool_arrays({&a, &b}, {&out}, layout);
  run(a, [&](const auto& k, auto zero) {
    using T = decltype(zero);
    k.center(s, a.as<const T>(), b.as<const T>(), out.as<T>());
  });
}

void pool_backward(const py::array& g_in, const py::array& x_in, const py::array& gx_in, const std::string& direction,
                   const std::string& layout) {
  const ArrayArg g = host_array(g_in, "grad_out"), x = host_array(x_in, "x"), gx = host_array(gx_in, "grad_x", true);
  const CornerPoolShape s = check_corner_pool_arrays({&g, &x}, {&gx}, layout);
  const PoolDirection d = parse_direction(direction);
  run(x, [&](const auto& k, auto zero) {
    using T = decltype(zero);
    k.corner_backward(s, g.as<const T>(), x.as<const T>(), d, gx.as<T>());
  });
}

void pair_backward(const py::array& g_in, const py::array& a_in, const py::array& b_in, const py::array& ga_in,
                   const py::array& gb_in, const std::string& corner, const std::string& layout) {
  const ArrayArg g = host_array(g_in, "grad_out"), a = host_array(a_in, "a"), b = host_array(b_in, "b");
  const ArrayArg ga = host_array(ga_in, "grad_a", true), gb = host_array(gb_in, "grad_b", true);
  const CornerPoolShape s = check_corner_pool_arrays({&g, &a, &b}, {&ga, &gb}, layout);
  const auto [vertical, horizontal] = parse_corner(corner);
  run(a, [&](const auto& k, auto zero) {
    using T = decltype(zero);
    k.corner_backward(s, g.as<const T>(), a.as<const T>(), vertical, ga.as<T>());
    k.corner_backward(s, g.as<const T>(), b.as<const T>(), horizontal, gb.as<T>());
  });
}

void center_backward(const py::array& g_in, const py::array& a_in, const py::array& b_in, const py::array& ga_in,
                     const py::array& gb_in, const std::string& layout) {
  const ArrayArg g = host_array(g_in, "grad_out"), a = host_array(a_in, "a"), b = host_array(b_in, "b");
  const ArrayArg ga = host_array(ga_in, "grad_a", true), gb = host_array(gb_in, "grad_b", true);
  const CornerPoolShape s = check_corner_pool_arrays({&g, &a, &b}, {&ga, &gb}, layout);
  run(a, [&](const auto& k, auto zero) {
    using T = decltype(zero);
    k.extent_backward(s, g.as<const T>(), a.as<const T>(), true, ga.as<T>());
    k.extent_backward(s, g.as<const T>(), b.as<const T>(), false, gb.as<T>());
  });
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(corner_pool) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.def("corner_pool_check", &b::check, py::arg("shapes"), py::arg("names"), py::arg("layout"),
        "Checks a pooling call's shapes: the first 4-D in the layout, the others equal to it.");
  m.def("corner_pool_forward", &b::pool, py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("direction"),
        py::arg("layout"), "Corner pooling in one direction into `out`.");
  m.def("corner_pool_pair_forward", &b::pair, py::arg("a").noconvert(), py::arg("b").noconvert(),
        py::arg("out").noconvert(), py::arg("corner"), py::arg("layout"),
        "A corner's two pools summed in one pass into `out`.");
  m.def("center_pool_forward", &b::center, py::arg("a").noconvert(), py::arg("b").noconvert(),
        py::arg("out").noconvert(), py::arg("layout"), "Center pooling into `out`.");
  m.def("corner_pool_backward", &b::pool_backward, py::arg("grad_out").noconvert(), py::arg("x").noconvert(),
        py::arg("grad_x").noconvert(), py::arg("direction"), py::arg("layout"), "Corner pooling's grad_x.");
  m.def("corner_pool_pair_backward", &b::pair_backward, py::arg("grad_out").noconvert(), py::arg("a").noconvert(),
        py::arg("b").noconvert(), py::arg("grad_a").noconvert(), py::arg("grad_b").noconvert(), py::arg("corner"),
        py::arg("layout"), "A corner pair's grad_a and grad_b.");
  m.def("center_pool_backward", &b::center_backward, py::arg("grad_out").noconvert(), py::arg("a").noconvert(),
        py::arg("b").noconvert(), py::arg("grad_a").noconvert(), py::arg("grad_b").noconvert(), py::arg("layout"),
        "Center pooling's grad_a and grad_b.");
}

// opzoo._cpu depthwise conv2d: checks every argument against the others, then runs
// the kernel without the GIL.
#include <pybind11/stl.h>

#include <array>
#include <optional>
#include <string>

#include "checks.h"
#include "depthwise_shape.h"
#include "opzoo/depthwise.h"

namespace opzoo::bindings {
namespace {

template <class T>
const DepthwiseKernels<T>& kernels();
template <>
const DepthwiseKernels<float>& kernels<float>() { return depthwise_kernels_f32(); }
template <>
const DepthwiseKernels<double>& kernels<double>() { return depthwise_kernels_f64(); }

void forward(const py::array& x, const py::array& weight, const std::optional<py::array>& bias,
             py::array out, Pair stride, Quad padding, Pair dilation, const std::string& layout,
             int activation) {
  const py::dtype dt = float_dtype_of(x, "x");
  check_array(x, "x", dt, 4);
  check_array(weight, "weight", dt, 4);
  const DepthwiseShape s = make_depthwise_shape(shape_of(x), shape_of(weight), stride, padding, dilation, layout);
  if (bias) {
    check_array(*bias, "bias", dt, 1);
    check_shape(*bias, "bias", {s.C * s.M});
  }
  check_array(out, "out", dt, 4, true);
  check_shape(out, "out", depthwise_output_shape(s));
  check_no_overlap(out, "out", {&x, &weight, bias ? &*bias : nullptr});
  if (activation < 0 || activation >= kNumActivations)
    throw py::value_error("activation code out of range: " + std::to_string(activation));
  if (depthwise_empty(s)) return;
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const T* xp = static_cast<const T*>(x.data());
    const T* w = static_cast<const T*>(weight.data());
    const T* b = bias ? static_cast<const T*>(bias->data()) : nullptr;
    T* y = static_cast<T*>(out.mutable_data());
    py::gil_scoped_release release;
    kernels<T>().forward(s, xp, w, b, Activation(activation), y);
  };
  if (dt.is(py::dtype::of<float>())) run(0.0f);
  else run(0.0);
}

void backward_input(const py::array& grad_y, const py::array& weight, py::array grad_x, Pair stride,
                    Quad padding, Pair dilation, const std::string& layout) {
  const py::dtype dt = float_dtype_of(grad_y, "grad_out");
  check_array(grad_x, "grad_x", dt, 4, true);
  check_array(weight, "weight", dt, 4);
  const DepthwiseShape s = make_depthwise_shape(shape_of(grad_x), shape_of(weight), stride, padding, dilation, layout);
  check_array(grad_y, "grad_out", dt, 4);
  check_shape(grad_y, "grad_out", depthwise_output_shape(s));
  check_no_overlap(grad_x, "grad_x", {&grad_y, &weight});
  if (grad_x.size() == 0) return;
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const T* gy = static_cast<const T*>(grad_y.data());
    const T* w = static_cast<const T*>(weight.data());
    T* gx = static_cast<T*>(grad_x.mutable_data());
    py::gil_scoped_release release;
    kernels<T>().backward_input(s, gy, w, gx);
  };
  if (dt.is(py::dtype::of<float>())) run(0.0f);
  else run(0.0);
}

void backward_weight(const py::array& grad_y, const py::array& x, py::array grad_weight,
                     std::optional<py::array> grad_bias, Pair stride, Quad padding,
                     Pair dilation, const std::string& layout) {
  const py::dtype dt = float_dtype_of(x, "x");
  check_array(x, "x", dt, 4);
  check_array(grad_weight, "grad_weight", dt, 4, true);
  const DepthwiseShape s = make_depthwise_shape(shape_of(x), shape_of(grad_weight), stride, padding, dilation, layout);
  check_array(grad_y, "grad_out", dt, 4);
  check_shape(grad_y, "grad_out", depthwise_output_shape(s));
  check_no_overlap(grad_weight, "grad_weight", {&grad_y, &x});
  if (grad_bias) {
    check_array(*grad_bias, "grad_bias", dt, 1, true);
    check_shape(*grad_bias, "grad_bias", {s.C * s.M});
    check_no_overlap(*grad_bias, "grad_bias", {&grad_y, &x, &grad_weight});
  }
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const T* gy = static_cast<const T*>(grad_y.data());
    const T* xp = static_cast<const T*>(x.data());
    T* gw = static_cast<T*>(grad_weight.mutable_data());
    T* gb = grad_bias ? static_cast<T*>(grad_bias->mutable_data()) : nullptr;
    const int64_t CM = s.C * s.M, kk = s.kh * s.kw;
    py::gil_scoped_release release;
    if (depthwise_empty(s)) {  // nothing to reduce: the sums are zero
      for (int64_t i = 0; i < CM * kk; ++i) gw[i] = T(0);
      for (int64_t i = 0; gb && i < CM; ++i) gb[i] = T(0);
      return;
    }
    kernels<T>().backward_weight(s, gy, xp, gw, gb);
  };
  if (dt.is(py::dtype::of<float>())) run(0.0f);
  else run(0.0);
}

}  // namespace

void register_depthwise(py::module_& m) {
  m.def("depthwise_forward", &forward, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"), py::arg("activation"),
        "Depthwise conv2d forward into `out`; padding is (top, bottom, left, right).");
  m.def("depthwise_backward_input", &backward_input, py::arg("grad_out"), py::arg("weight"),
        py::arg("grad_x"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"),
        "Gradient of the depthwise conv2d with respect to its input, into `grad_x`.");
  m.def("depthwise_backward_weight", &backward_weight, py::arg("grad_out"), py::arg("x"),
        py::arg("grad_weight"), py::arg("grad_bias"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("layout"),
        "Gradients of the depthwise conv2d with respect to weight and bias, into the given arrays.");
}

}  // namespace opzoo::bindings

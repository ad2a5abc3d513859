// opzoo._cpu depthwise conv2d: checks every argument against the others, then runs
// the kernel without the GIL.
#include <pybind11/stl.h>

#include <array>
#include <optional>
#include <string>

#include "checks.h"
#include "opzoo/depthwise.h"

namespace opzoo::bindings {
namespace {

using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;

Layout parse_layout(const std::string& layout) {
  if (layout == "NCHW") return Layout::NCHW;
  if (layout == "NHWC") return Layout::NHWC;
  throw py::value_error("layout must be 'NCHW' or 'NHWC', got '" + layout + "'");
}

// x_shape: the input's shape in `layout`; weight (C*M, 1, kh, kw).
DepthwiseShape make_shape(const std::vector<int64_t>& x_shape, const py::array& weight, Pair stride,
                          Quad padding, Pair dilation, const std::string& layout_name) {
  DepthwiseShape s{};
  s.layout = parse_layout(layout_name);
  if (x_shape.size() != 4) throw py::value_error("x: expected 4 dimensions, got shape " + shape_str(x_shape));
  const bool nhwc = s.layout == Layout::NHWC;
  s.N = x_shape[0];
  s.C = nhwc ? x_shape[3] : x_shape[1];
  s.H = nhwc ? x_shape[1] : x_shape[2];
  s.W = nhwc ? x_shape[2] : x_shape[3];
  const std::vector<int64_t> ws = shape_of(weight);
  if (ws.size() != 4 || ws[1] != 1)
    throw py::value_error("weight: expected shape (C*M, 1, kh, kw), got " + shape_str(ws));
  const int64_t CM = ws[0];
  s.kh = ws[2];
  s.kw = ws[3];
  if (s.kh < 1 || s.kw < 1) throw py::value_error("weight: kernel extents must be >= 1, got " + shape_str(ws));
  if (s.C == 0 ? CM != 0 : (CM < s.C || CM % s.C != 0))
    throw py::value_error("weight: expected a multiple of the " + std::to_string(s.C) +
                          " input channels in dimension 0, got shape " + shape_str(ws));
  s.M = s.C == 0 ? 1 : CM / s.C;
  for (int64_t v : stride)
    if (v < 1) throw py::value_error("stride must be >= 1, got " + std::to_string(v));
  for (int64_t v : dilation)
    if (v < 1) throw py::value_error("dilation must be >= 1, got " + std::to_string(v));
  for (int64_t v : padding)
    if (v < 0) throw py::value_error("padding must be >= 0, got " + std::to_string(v));
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.dilation_h = dilation[0];
  s.dilation_w = dilation[1];
  s.pad_top = padding[0];
  s.pad_left = padding[2];
  s.Ho = conv_output_extent(s.H, padding[0], padding[1], s.kh, s.stride_h, s.dilation_h);
  s.Wo = conv_output_extent(s.W, padding[2], padding[3], s.kw, s.stride_w, s.dilation_w);
  if (s.Ho < 1 || s.Wo < 1)
    throw py::value_error("kernel (" + std::to_string(s.kh) + ", " + std::to_string(s.kw) +
                          ") with dilation is larger than the padded input (" +
                          std::to_string(s.H + padding[0] + padding[1]) + ", " +
                          std::to_string(s.W + padding[2] + padding[3]) + ")");
  return s;
}

std::vector<int64_t> output_shape(const DepthwiseShape& s) {
  const int64_t CM = s.C * s.M;
  if (s.layout == Layout::NHWC) return {s.N, s.Ho, s.Wo, CM};
  return {s.N, CM, s.Ho, s.Wo};
}

bool empty(const DepthwiseShape& s) { return s.N * s.C * s.Ho * s.Wo == 0; }

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
  const DepthwiseShape s = make_shape(shape_of(x), weight, stride, padding, dilation, layout);
  if (bias) {
    check_array(*bias, "bias", dt, 1);
    check_shape(*bias, "bias", {s.C * s.M});
  }
  check_array(out, "out", dt, 4, true);
  check_shape(out, "out", output_shape(s));
  check_no_overlap(out, "out", {&x, &weight, bias ? &*bias : nullptr});
  if (activation < 0 || activation >= kNumActivations)
    throw py::value_error("activation code out of range: " + std::to_string(activation));
  if (empty(s)) return;
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
  const DepthwiseShape s = make_shape(shape_of(grad_x), weight, stride, padding, dilation, layout);
  check_array(grad_y, "grad_out", dt, 4);
  check_shape(grad_y, "grad_out", output_shape(s));
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
  const DepthwiseShape s = make_shape(shape_of(x), grad_weight, stride, padding, dilation, layout);
  check_array(grad_y, "grad_out", dt, 4);
  check_shape(grad_y, "grad_out", output_shape(s));
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
    if (empty(s)) {  // nothing to reduce: the sums are zero
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

// Parameters bindings take by name or in Python's normalised form, parsed and checked
// once for both modules: activations, layouts, and convolution padding.
#pragma once

#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <string>
#include <variant>

#include "opzoo/activation.h"
#include "opzoo/layout.h"

namespace opzoo::bindings {

namespace py = pybind11;

using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;
// (top, bottom, left, right), or "same" (TensorFlow's SAME) or "valid".
using Padding = std::variant<Quad, std::string>;

// None or one of kActivationNames.
Activation parse_activation(const py::handle& activation);
// "NCHW" or "NHWC".
Layout parse_layout(const std::string& layout);

// The geometry of a 2-D window sliding over an (H, W) image: the explicit pads of
// `padding` (checked >= 0, or resolved as TensorFlow's SAME: output ceil(in / stride),
// the odd pixel at the bottom/right) and the output extent of each axis. Every extent
// the kernels derive from these (padded input, window span) is checked to fit int64:
// ValueError naming stride, padding or dilation otherwise, or when the window spans
// more than the padded input. stride and dilation >= 1 are checked here too.
struct Window2d {
  Quad pads;  // (top, bottom, left, right)
  Pair out;   // (Ho, Wo), each >= 1
};
Window2d conv_window(const Padding& padding, int64_t H, int64_t W, int64_t kh, int64_t kw, Pair stride,
                     Pair dilation);

}  // namespace opzoo::bindings

// The depthwise conv2d geometry of one call, from the shapes and parameters Python
// passes, checked; shared by the CPU and CUDA bindings.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "opzoo/depthwise.h"

namespace opzoo::bindings {

using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;

// x_shape: the input's shape in `layout` ("NCHW" or "NHWC"); w_shape (C*M, 1, kh, kw);
// padding (top, bottom, left, right). Raises ValueError on any inconsistency.
DepthwiseShape make_depthwise_shape(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& w_shape,
                                    Pair stride, Quad padding, Pair dilation, const std::string& layout);

// The output's shape in the call's layout.
std::vector<int64_t> depthwise_output_shape(const DepthwiseShape& s);

// Whether the output has no elements (nothing to compute).
bool depthwise_empty(const DepthwiseShape& s);

}  // namespace opzoo::bindings

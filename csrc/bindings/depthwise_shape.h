// The depthwise conv2d geometry of one call and its arguments checked against each
// other: every rule and message once, for the CPU binding, the CUDA binding and the
// Python API (which asks for output shapes through opzoo._cpu.depthwise_output_shape).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arrays.h"
#include "opzoo/depthwise.h"
#include "params.h"

namespace opzoo::bindings {

// The parameters of a call as Python passes them: stride and dilation (h, w); padding
// (top, bottom, left, right), "same" or "valid"; layout "NCHW" or "NHWC".
struct DepthwiseParams {
  Pair stride;
  Padding padding;
  Pair dilation;
  std::string layout;
};

// x_shape: the input's shape in the layout; w_shape (C*M, 1, kh, kw). ValueError on any
// inconsistency, naming the argument.
DepthwiseShape make_depthwise_shape(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& w_shape,
                                    const DepthwiseParams& params);

// The output's shape in the call's layout.
std::vector<int64_t> depthwise_output_shape(const DepthwiseShape& s);

// Whether the output has no elements (nothing to compute).
bool depthwise_empty(const DepthwiseShape& s);

// The arrays of each kernel checked against each other; bias may be null.
DepthwiseShape check_depthwise_forward(const ArrayArg& x, const ArrayArg& weight, const ArrayArg* bias,
                                       const ArrayArg& out, const DepthwiseParams& params);
// grad_x, grad_weight and grad_bias may each be null (grad_bias only with grad_weight).
DepthwiseShape check_depthwise_backward(const ArrayArg& grad_out, const ArrayArg& x, const ArrayArg& weight,
                                        const ArrayArg* grad_x, const ArrayArg* grad_weight, const ArrayArg* grad_bias,
                                        const DepthwiseParams& params);

}  // namespace opzoo::bindings

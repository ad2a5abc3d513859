#include "depthwise_shape.h"

namespace opzoo::bindings {

DepthwiseShape make_depthwise_shape(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& ws,
                                    const DepthwiseParams& params) {
  DepthwiseShape s{};
  s.layout = parse_layout(params.layout);
  const bool nhwc = s.layout == Layout::NHWC;
  check_ndim(x_shape, "x", 4, nhwc ? "(N, H, W, C)" : "(N, C, H, W)");
  check_ndim(ws, "weight", 4, "(C*M, 1, kh, kw)");
  s.N = x_shape[0];
  s.C = nhwc ? x_shape[3] : x_shape[1];
  s.H = nhwc ? x_shape[1] : x_shape[2];
  s.W = nhwc ? x_shape[2] : x_shape[3];
  const int64_t CM = ws[0];
  s.kh = ws[2];
  s.kw = ws[3];
  if (ws[1] != 1 || s.kh < 1 || s.kw < 1)
    throw py::value_error("weight: expected shape (C*M, 1, kh, kw), got " + shape_str(ws));
  if (s.C == 0 ? CM != 0 : (CM < s.C || CM % s.C != 0))
    throw py::value_error("weight: expected a multiple of the " + std::to_string(s.C) +
                          " input channels in dimension 0, got shape " + shape_str(ws));
  s.M = s.C == 0 ? 1 : CM / s.C;
  const Window2d g = conv_window(params.padding, s.H, s.W, s.kh, s.kw, params.stride, params.dilation);
  s.pad_top = g.pads[0];
  s.pad_left = g.pads[2];
  s.Ho = g.out[0];
  s.Wo = g.out[1];
  // A stride that only one output would step, or a dilation between the taps of a
  // 1-tap kernel, changes nothing: kernels get 1, so none of their index arithmetic
  // (block remainders included) scales with a value the result never depends on.
  s.stride_h = s.Ho == 1 ? 1 : params.stride[0];
  s.stride_w = s.Wo == 1 ? 1 : params.stride[1];
  s.dilation_h = s.kh == 1 ? 1 : params.dilation[0];
  s.dilation_w = s.kw == 1 ? 1 : params.dilation[1];
  // Every output element's byte offset fits int64, whatever its dtype.
  constexpr int64_t kMaxElements = INT64_MAX / 8;
  int64_t elements = s.N;
  for (int64_t e : {CM, s.Ho, s.Wo})
    if (__builtin_mul_overflow(elements, e, &elements) || elements > kMaxElements) {
      const bool padded = g.pads[0] || g.pads[1] || g.pads[2] || g.pads[3];
      throw py::value_error(std::string(padded ? "padding" : "weight") + ": the output would have shape " +
                            shape_str(depthwise_output_shape(s)) + ", more than 2**60 elements");
    }
  return s;
}

std::vector<int64_t> depthwise_output_shape(const DepthwiseShape& s) {
  const int64_t CM = s.C * s.M;
  if (s.layout == Layout::NHWC) return {s.N, s.Ho, s.Wo, CM};
  return {s.N, CM, s.Ho, s.Wo};
}

bool depthwise_empty(const DepthwiseShape& s) { return s.N == 0 || s.C == 0; }

DepthwiseShape check_depthwise_forward(const ArrayArg& x, const ArrayArg& weight, const ArrayArg* bias,
                                       const ArrayArg& out, const DepthwiseParams& params) {
  check_same_kind(weight, x);
  const DepthwiseShape s = make_depthwise_shape(x.shape, weight.shape, params);
  if (bias) {
    check_same_kind(*bias, x);
    check_shape(*bias, {s.C * s.M});
  }
  check_same_kind(out, x);
  check_shape(out, depthwise_output_shape(s));
  check_no_overlap(out, {&x, &weight, bias});
  return s;
}

DepthwiseShape check_depthwise_backward(const ArrayArg& grad_out, const ArrayArg& x, const ArrayArg& weight,
                                        const ArrayArg* grad_x, const ArrayArg* grad_weight, const ArrayArg* grad_bias,
                                        const DepthwiseParams& params) {
  check_same_kind(x, grad_out);
  check_same_kind(weight, grad_out);
  const DepthwiseShape s = make_depthwise_shape(x.shape, weight.shape, params);
  check_shape(grad_out, depthwise_output_shape(s));
  if (grad_x) {
    check_same_kind(*grad_x, grad_out);
    check_shape(*grad_x, x.shape);
    check_no_overlap(*grad_x, {&grad_out, &x, &weight});
  }
  if (grad_bias && !grad_weight) throw py::value_error("grad_bias: given without grad_weight, which it is computed with");
  if (grad_weight) {
    check_same_kind(*grad_weight, grad_out);
    check_shape(*grad_weight, weight.shape);
    check_no_overlap(*grad_weight, {&grad_out, &x, &weight, grad_x});
  }
  if (grad_bias) {
    check_same_kind(*grad_bias, grad_out);
    check_shape(*grad_bias, {s.C * s.M});
    check_no_overlap(*grad_bias, {&grad_out, &x, &weight, grad_x, grad_weight});
  }
  return s;
}

}  // namespace opzoo::bindings

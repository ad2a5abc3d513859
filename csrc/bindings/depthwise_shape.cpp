#include "depthwise_shape.h"

#include "checks.h"

namespace opzoo::bindings {
namespace {

Layout parse_layout(const std::string& layout) {
  if (layout == "NCHW") return Layout::NCHW;
  if (layout == "NHWC") return Layout::NHWC;
  throw py::value_error("layout must be 'NCHW' or 'NHWC', got '" + layout + "'");
}

}  // namespace

DepthwiseShape make_depthwise_shape(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& ws,
                                    Pair stride, Quad padding, Pair dilation, const std::string& layout_name) {
  DepthwiseShape s{};
  s.layout = parse_layout(layout_name);
  if (x_shape.size() != 4) throw py::value_error("x: expected 4 dimensions, got shape " + shape_str(x_shape));
  const bool nhwc = s.layout == Layout::NHWC;
  s.N = x_shape[0];
  s.C = nhwc ? x_shape[3] : x_shape[1];
  s.H = nhwc ? x_shape[1] : x_shape[2];
  s.W = nhwc ? x_shape[2] : x_shape[3];
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

std::vector<int64_t> depthwise_output_shape(const DepthwiseShape& s) {
  const int64_t CM = s.C * s.M;
  if (s.layout == Layout::NHWC) return {s.N, s.Ho, s.Wo, CM};
  return {s.N, CM, s.Ho, s.Wo};
}

bool depthwise_empty(const DepthwiseShape& s) { return s.N * s.C * s.Ho * s.Wo == 0; }

}  // namespace opzoo::bindings

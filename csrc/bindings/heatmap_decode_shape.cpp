#include "heatmap_decode_shape.h"

#include "params.h"

namespace opzoo::bindings {

HeatmapDecodeShape make_heatmap_decode_shape(const std::vector<int64_t>& heat_shape,
                                             const std::vector<int64_t>& wh_shape,
                                             const std::vector<int64_t>* reg_shape, int64_t K,
                                             const std::string& layout) {
  HeatmapDecodeShape s{};
  s.layout = parse_layout(layout);
  const bool nhwc = s.layout == Layout::NHWC;
  check_ndim(heat_shape, "heat", 4, nhwc ? "(N, H, W, C)" : "(N, C, H, W)");
  s.N = heat_shape[0];
  s.C = nhwc ? heat_shape[3] : heat_shape[1];
  s.H = nhwc ? heat_shape[1] : heat_shape[2];
  s.W = nhwc ? heat_shape[2] : heat_shape[3];
  const std::vector<int64_t> maps = nhwc ? std::vector<int64_t>{s.N, s.H, s.W, 2} : std::vector<int64_t>{s.N, 2, s.H, s.W};
  const char* axes = nhwc ? " (N, H, W, 2)" : " (N, 2, H, W)";
  if (wh_shape != maps)
    throw py::value_error("wh: expected shape " + shape_str(maps) + axes + ", got " + shape_str(wh_shape));
  if (reg_shape && *reg_shape != maps)
    throw py::value_error("reg: expected shape " + shape_str(maps) + axes + ", got " + shape_str(*reg_shape));
  int64_t scores = 0, elements = 0;
  if (__builtin_mul_overflow(s.C, s.H, &scores) || __builtin_mul_overflow(scores, s.W, &scores) ||
      __builtin_mul_overflow(scores, s.N, &elements))
    throw py::value_error("heat: shape " + shape_str(heat_shape) + " has more elements than an int64 counts");
  if (K < 0) throw py::value_error("K: expected K >= 0, got " + std::to_string(K));
  if (K > scores)
    throw py::value_error("K: expected K <= C*H*W = " + std::to_string(scores) + " (the scores of one image), got " +
                          std::to_string(K));
  s.K = K;
  return s;
}

HeatmapDecodeShape check_heatmap_decode(const ArrayArg& heat, const ArrayArg& wh, const ArrayArg* reg,
                                        const ArrayArg& boxes, int64_t K, const std::string& layout) {
  check_same_kind(wh, heat);
  if (reg) check_same_kind(*reg, heat);
  const HeatmapDecodeShape s =
      make_heatmap_decode_shape(heat.shape, wh.shape, reg ? &reg->shape : nullptr, K, layout);
  check_same_kind(boxes, heat);
  check_shape(boxes, {s.N, s.K, 6});
  check_no_overlap(boxes, {&heat, &wh, reg});
  return s;
}

}  // namespace opzoo::bindings

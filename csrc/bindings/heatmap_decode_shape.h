// The heatmap decoding geometry of one call and its arguments checked against each
// other, for the CPU binding, the CUDA binding and the Python API (which asks for the
// boxes' shape through opzoo._cpu.heatmap_decode_shape).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arrays.h"
#include "opzoo/heatmap_decode.h"

namespace opzoo::bindings {

// heat (N, C, H, W) in `layout` (or (N, H, W, C)); wh and reg (N, 2, H, W) in it (reg
// optional); 0 <= K <= C * H * W. ValueError naming the first that does not fit.
HeatmapDecodeShape make_heatmap_decode_shape(const std::vector<int64_t>& heat_shape,
                                             const std::vector<int64_t>& wh_shape,
                                             const std::vector<int64_t>* reg_shape, int64_t K,
                                             const std::string& layout);

// boxes (N, K, 6), of heat's kind, sharing memory with no input.
HeatmapDecodeShape check_heatmap_decode(const ArrayArg& heat, const ArrayArg& wh, const ArrayArg* reg,
                                        const ArrayArg& boxes, int64_t K, const std::string& layout);

}  // namespace opzoo::bindings

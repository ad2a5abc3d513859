// The heatmap decoding kernel tables per ISA (csrc/cpu/heatmap_decode_*.cpp, arm/heatmap_decode_neon.cpp) and the
// portable float64 one, for the dispatcher in heatmap_decode.cpp and the C++ tests.
#pragma once

#include "opzoo/heatmap_decode.h"
#include "variants.h"

namespace opzoo::cpu {

OPZOO_DECLARE_VARIANTS(HeatmapDecodeKernels<float>, heatmap_decode)
extern const HeatmapDecodeKernels<double> heatmap_decode_f64;

}  // namespace opzoo::cpu

// Run-time choice among the heatmap decoding kernel variants.
#include "heatmap_decode_variants.h"

namespace opzoo {

const HeatmapDecodeKernels<float>& heatmap_decode_kernels_f32() { return cpu::pick_variant(cpu::heatmap_decode_variants(), simd_level()); }

const HeatmapDecodeKernels<double>& heatmap_decode_kernels_f64() { return cpu::heatmap_decode_f64; }

}  // namespace opzoo

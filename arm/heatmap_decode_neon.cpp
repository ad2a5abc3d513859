// NEON heatmap decoding kernels: csrc/cpu's kernels over the NEON vector type, for AArch64.
#include "simd_neon.h"
#include "heatmap_decode_kernels.h"
#include "heatmap_decode_variants.h"

namespace opzoo::cpu {

const HeatmapDecodeKernels<float> heatmap_decode_neon = heatmap_decode_kernels<NeonF32>();

}  // namespace opzoo::cpu

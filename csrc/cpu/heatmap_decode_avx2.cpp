// AVX2 + FMA heatmap decoding kernels (built with the AVX2 flags of CMakeLists.txt).
#include "simd/avx2.h"
#include "heatmap_decode_kernels.h"
#include "heatmap_decode_variants.h"

namespace opzoo::cpu {

const HeatmapDecodeKernels<float> heatmap_decode_avx2 = heatmap_decode_kernels<Avx2F32>();

}  // namespace opzoo::cpu

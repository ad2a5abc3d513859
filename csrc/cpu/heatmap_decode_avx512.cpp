// AVX-512 heatmap decoding kernels (built with the AVX-512 flags of CMakeLists.txt).
#include "simd/avx512.h"
#include "heatmap_decode_kernels.h"
#include "heatmap_decode_variants.h"

namespace opzoo::cpu {

const HeatmapDecodeKernels<float> heatmap_decode_avx512 = heatmap_decode_kernels<Avx512F32>();

}  // namespace opzoo::cpu

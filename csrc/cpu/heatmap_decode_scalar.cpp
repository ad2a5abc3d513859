// Portable heatmap decoding kernels: the baseline for any CPU, and the float64 path.
#include "heatmap_decode_kernels.h"
#include "heatmap_decode_variants.h"

namespace opzoo::cpu {

const HeatmapDecodeKernels<float> heatmap_decode_scalar = heatmap_decode_kernels<ScalarVec<float>>();
const HeatmapDecodeKernels<double> heatmap_decode_f64 = heatmap_decode_kernels<ScalarVec<double>>();

}  // namespace opzoo::cpu

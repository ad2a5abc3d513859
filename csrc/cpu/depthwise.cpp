// Run-time choice among the depthwise kernel variants.
#include "depthwise_variants.h"

namespace opzoo {

const DepthwiseKernels<float>& depthwise_kernels_f32() { return cpu::pick_variant(cpu::depthwise_variants(), simd_level()); }

const DepthwiseKernels<double>& depthwise_kernels_f64() { return cpu::depthwise_f64; }

}  // namespace opzoo

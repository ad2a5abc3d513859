// NEON depthwise kernels: csrc/cpu's kernels over the NEON vector type, for AArch64.
#include "depthwise_kernels.h"
#include "depthwise_variants.h"
#include "simd_neon.h"

namespace opzoo::cpu {

const DepthwiseKernels<float> depthwise_neon = depthwise_kernels<NeonF32>();

}  // namespace opzoo::cpu

// NEON corner and center pooling kernels: csrc/cpu's kernels over the NEON vector type, for AArch64.
#include "simd_neon.h"
#include "corner_pool_kernels.h"
#include "corner_pool_variants.h"

namespace opzoo::cpu {

const CornerPoolKernels<float> corner_pool_neon = corner_pool_kernels<NeonF32>();

}  // namespace opzoo::cpu

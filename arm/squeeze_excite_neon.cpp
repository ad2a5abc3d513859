// NEON squeeze-excite kernels: csrc/cpu's kernels over the NEON vector type, for AArch64.
#include "simd_neon.h"
#include "squeeze_excite_kernels.h"
#include "squeeze_excite_variants.h"

namespace opzoo::cpu {

const SqueezeExciteKernels<float> squeeze_excite_neon = squeeze_excite_kernels<NeonF32>();

}  // namespace opzoo::cpu

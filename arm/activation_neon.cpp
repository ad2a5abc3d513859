// NEON activation kernels: csrc/cpu's kernels over the NEON vector type, for AArch64.
#include "activation_kernels.h"
#include "activation_variants.h"
#include "simd_neon.h"

namespace opzoo::cpu {

const ActivationKernels<float> activation_neon = activation_kernels<NeonF32>();

}  // namespace opzoo::cpu

// NEON spiking kernels: csrc/cpu's kernels over the NEON vector type, for AArch64.
#include "simd_neon.h"
#include "spiking_kernels.h"
#include "spiking_variants.h"

namespace opzoo::cpu {

const SpikingKernels<float> spiking_neon = spiking_kernels<NeonF32>();

}  // namespace opzoo::cpu

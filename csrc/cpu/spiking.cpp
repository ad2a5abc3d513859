// Run-time choice among the spiking kernel variants.
#include "spiking_variants.h"

namespace opzoo {

const SpikingKernels<float>& spiking_kernels_f32() { return cpu::pick_variant(cpu::spiking_variants(), simd_level()); }

const SpikingKernels<double>& spiking_kernels_f64() { return cpu::spiking_f64; }

}  // namespace opzoo

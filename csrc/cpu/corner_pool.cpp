// Run-time choice among the corner and center pooling kernel variants.
#include "corner_pool_variants.h"

namespace opzoo {

const CornerPoolKernels<float>& corner_pool_kernels_f32() { return cpu::pick_variant(cpu::corner_pool_variants(), simd_level()); }

const CornerPoolKernels<double>& corner_pool_kernels_f64() { return cpu::corner_pool_f64; }

}  // namespace opzoo

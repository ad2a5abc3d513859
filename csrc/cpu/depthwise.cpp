// Run-time choice among the depthwise kernel variants.
#include "depthwise_variants.h"
#include "opzoo/runtime.h"

namespace opzoo {

const DepthwiseKernels<float>& depthwise_kernels_f32() {
  switch (simd_level()) {
#ifdef OPZOO_X86_VARIANTS
    case SimdLevel::avx512:
      return cpu::depthwise_avx512_f32;
    case SimdLevel::avx2:
      return cpu::depthwise_avx2_f32;
#endif
#ifdef OPZOO_ARM_VARIANTS
    case SimdLevel::neon:
      return cpu::depthwise_neon_f32;
#endif
    default:
      return cpu::depthwise_scalar_f32;
  }
}

const DepthwiseKernels<double>& depthwise_kernels_f64() { return cpu::depthwise_scalar_f64; }

}  // namespace opzoo

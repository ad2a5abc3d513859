// Run-time choice among the squeeze-excite kernel variants.
#include "squeeze_excite_variants.h"

namespace opzoo {

const SqueezeExciteKernels<float>& squeeze_excite_kernels_f32() {
  return cpu::pick_variant(cpu::squeeze_excite_variants(), simd_level());
}

const SqueezeExciteKernels<double>& squeeze_excite_kernels_f64() { return cpu::squeeze_excite_f64; }

}  // namespace opzoo

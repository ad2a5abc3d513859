// Run-time choice among the activation kernel variants.
#include "activation_variants.h"

namespace opzoo {

const ActivationKernels<float>& activation_kernels_f32() {
  return cpu::pick_variant(cpu::activation_variants(), simd_level());
}

const ActivationKernels<double>& activation_kernels_f64() { return cpu::activation_f64; }

}  // namespace opzoo

// Portable activation kernels: the baseline for any CPU, and the float64 path.
#include "activation_kernels.h"
#include "activation_variants.h"
#include "simd/scalar.h"

namespace opzoo::cpu {

const ActivationKernels<float> activation_scalar = activation_kernels<ScalarVec<float>>();
const ActivationKernels<double> activation_f64 = activation_kernels<ScalarVec<double>>();

}  // namespace opzoo::cpu

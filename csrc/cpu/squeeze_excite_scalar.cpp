// Portable squeeze-excite kernels: the baseline for any CPU, and the float64 path.
#include "squeeze_excite_kernels.h"
#include "squeeze_excite_variants.h"

namespace opzoo::cpu {

const SqueezeExciteKernels<float> squeeze_excite_scalar = squeeze_excite_kernels<ScalarVec<float>>();
const SqueezeExciteKernels<double> squeeze_excite_f64 = squeeze_excite_kernels<ScalarVec<double>>();

}  // namespace opzoo::cpu

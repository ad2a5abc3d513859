// Portable corner and center pooling kernels: the baseline for any CPU, and the float64 path.
#include "corner_pool_kernels.h"
#include "corner_pool_variants.h"

namespace opzoo::cpu {

const CornerPoolKernels<float> corner_pool_scalar = corner_pool_kernels<ScalarVec<float>>();
const CornerPoolKernels<double> corner_pool_f64 = corner_pool_kernels<ScalarVec<double>>();

}  // namespace opzoo::cpu

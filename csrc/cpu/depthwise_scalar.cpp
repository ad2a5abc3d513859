// Portable depthwise kernels: the baseline for any CPU, and the float64 path.
#include "depthwise_kernels.h"
#include "depthwise_variants.h"

namespace opzoo::cpu {

const DepthwiseKernels<float> depthwise_scalar = depthwise_kernels<ScalarVec<float>>();
const DepthwiseKernels<double> depthwise_f64 = depthwise_kernels<ScalarVec<double>>();

}  // namespace opzoo::cpu

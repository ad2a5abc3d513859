// AVX2 + FMA depthwise kernels (built with the AVX2 flags of CMakeLists.txt).
#include "depthwise_kernels.h"
#include "depthwise_variants.h"
#include "simd/avx2.h"

namespace opzoo::cpu {

const DepthwiseKernels<float> depthwise_avx2 = depthwise_kernels<Avx2F32>();

}  // namespace opzoo::cpu

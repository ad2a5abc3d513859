// AVX-512 depthwise kernels (built with the AVX-512 flags of CMakeLists.txt).
#include "depthwise_kernels.h"
#include "depthwise_variants.h"
#include "simd/avx512.h"

namespace opzoo::cpu {

const DepthwiseKernels<float> depthwise_avx512 = depthwise_kernels<Avx512F32>();

}  // namespace opzoo::cpu

// AVX2 + FMA corner and center pooling kernels (built with the AVX2 flags of CMakeLists.txt).
#include "simd/avx2.h"
#include "corner_pool_kernels.h"
#include "corner_pool_variants.h"

namespace opzoo::cpu {

const CornerPoolKernels<float> corner_pool_avx2 = corner_pool_kernels<Avx2F32>();

}  // namespace opzoo::cpu

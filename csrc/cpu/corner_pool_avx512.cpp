// AVX-512 corner and center pooling kernels (built with the AVX-512 flags of CMakeLists.txt).
#include "simd/avx512.h"
#include "corner_pool_kernels.h"
#include "corner_pool_variants.h"

namespace opzoo::cpu {

const CornerPoolKernels<float> corner_pool_avx512 = corner_pool_kernels<Avx512F32>();

}  // namespace opzoo::cpu

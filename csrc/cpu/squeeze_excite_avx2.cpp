// AVX2 + FMA squeeze-excite kernels (built with the AVX2 flags of CMakeLists.txt).
#include "simd/avx2.h"
#include "squeeze_excite_kernels.h"
#include "squeeze_excite_variants.h"

namespace opzoo::cpu {

const SqueezeExciteKernels<float> squeeze_excite_avx2 = squeeze_excite_kernels<Avx2F32>();

}  // namespace opzoo::cpu

// AVX-512 squeeze-excite kernels (built with the AVX-512 flags of CMakeLists.txt).
#include "simd/avx512.h"
#include "squeeze_excite_kernels.h"
#include "squeeze_excite_variants.h"

namespace opzoo::cpu {

const SqueezeExciteKernels<float> squeeze_excite_avx512 = squeeze_excite_kernels<Avx512F32>();

}  // namespace opzoo::cpu

// AVX-512 activation kernels (built with the AVX-512 flags of CMakeLists.txt).
#include "activation_kernels.h"
#include "activation_variants.h"
#include "simd/avx512.h"

namespace opzoo::cpu {

const ActivationKernels<float> activation_avx512 = activation_kernels<Avx512F32>();

}  // namespace opzoo::cpu

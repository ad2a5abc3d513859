// AVX2 + FMA activation kernels (built with the AVX2 flags of CMakeLists.txt).
#include "activation_kernels.h"
#include "activation_variants.h"
#include "simd/avx2.h"

namespace opzoo::cpu {

const ActivationKernels<float> activation_avx2 = activation_kernels<Avx2F32>();

}  // namespace opzoo::cpu

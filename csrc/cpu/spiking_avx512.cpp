// AVX-512 spiking kernels (built with the AVX-512 flags of CMakeLists.txt).
#include "simd/avx512.h"
#include "spiking_kernels.h"
#include "spiking_variants.h"

namespace opzoo::cpu {

const SpikingKernels<float> spiking_avx512 = spiking_kernels<Avx512F32>();

}  // namespace opzoo::cpu

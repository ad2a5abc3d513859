// AVX2 + FMA spiking kernels (built with the AVX2 flags of CMakeLists.txt).
#include "simd/avx2.h"
#include "spiking_kernels.h"
#include "spiking_variants.h"

namespace opzoo::cpu {

const SpikingKernels<float> spiking_avx2 = spiking_kernels<Avx2F32>();

}  // namespace opzoo::cpu

// AVX2 + FMA graph kernels (built with the AVX2 flags of CMakeLists.txt).
#include "graph_kernels.h"
#include "graph_variants.h"
#include "simd/avx2.h"

namespace opzoo::cpu {

const GraphKernels<float> graph_avx2 = graph_kernels<Avx2F32>();

}  // namespace opzoo::cpu

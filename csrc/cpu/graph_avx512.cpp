// AVX-512 graph kernels (built with the AVX512 flags of CMakeLists.txt).
#include "graph_kernels.h"
#include "graph_variants.h"
#include "simd/avx512.h"

namespace opzoo::cpu {

const GraphKernels<float> graph_avx512 = graph_kernels<Avx512F32>();

}  // namespace opzoo::cpu

// NEON graph kernels: csrc/cpu's kernels over the NEON vector type, for AArch64.
#include "graph_kernels.h"
#include "graph_variants.h"
#include "simd_neon.h"

namespace opzoo::cpu {

const GraphKernels<float> graph_neon = graph_kernels<NeonF32>();

}  // namespace opzoo::cpu

// Portable graph kernels: the baseline for any CPU, and the float64 path.
#include "graph_kernels.h"
#include "graph_variants.h"
#include "simd/scalar.h"

namespace opzoo::cpu {

const GraphKernels<float> graph_scalar = graph_kernels<ScalarVec<float>>();
const GraphKernels<double> graph_f64 = graph_kernels<ScalarVec<double>>();

}  // namespace opzoo::cpu

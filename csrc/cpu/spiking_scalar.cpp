// Portable spiking kernels: the baseline for any CPU, and the float64 path.
#include "simd/scalar.h"
#include "spiking_kernels.h"
#include "spiking_variants.h"

namespace opzoo::cpu {

const SpikingKernels<float> spiking_scalar = spiking_kernels<ScalarVec<float>>();
const SpikingKernels<double> spiking_f64 = spiking_kernels<ScalarVec<double>>();

}  // namespace opzoo::cpu

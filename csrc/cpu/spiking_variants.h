// The spiking kernel tables per ISA (csrc/cpu/spiking_*.cpp, arm/spiking_neon.cpp) and
// the portable float64 one, for the dispatcher in spiking.cpp and the C++ tests.
#pragma once

#include "opzoo/spiking.h"
#include "variants.h"

namespace opzoo::cpu {

OPZOO_DECLARE_VARIANTS(SpikingKernels<float>, spiking)
extern const SpikingKernels<double> spiking_f64;

}  // namespace opzoo::cpu

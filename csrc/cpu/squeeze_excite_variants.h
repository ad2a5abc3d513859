// The squeeze-excite kernel tables per ISA (csrc/cpu/squeeze_excite_*.cpp,
// arm/squeeze_excite_neon.cpp) and the portable float64 one, for the dispatcher in
// squeeze_excite.cpp and the C++ tests.
#pragma once

#include "opzoo/squeeze_excite.h"
#include "variants.h"

namespace opzoo::cpu {

OPZOO_DECLARE_VARIANTS(SqueezeExciteKernels<float>, squeeze_excite)
extern const SqueezeExciteKernels<double> squeeze_excite_f64;

}  // namespace opzoo::cpu

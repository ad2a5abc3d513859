// The corner and center pooling kernel tables per ISA (csrc/cpu/corner_pool_*.cpp, arm/corner_pool_neon.cpp) and the
// portable float64 one, for the dispatcher in corner_pool.cpp and the C++ tests.
#pragma once

#include "opzoo/corner_pool.h"
#include "variants.h"

namespace opzoo::cpu {

OPZOO_DECLARE_VARIANTS(CornerPoolKernels<float>, corner_pool)
extern const CornerPoolKernels<double> corner_pool_f64;

}  // namespace opzoo::cpu

// The activation kernel tables per ISA (csrc/cpu/activation_*.cpp, arm/activation_neon.cpp)
// and the portable float64 one, for the dispatcher in activation.cpp and the C++ tests.
#pragma once

#include "opzoo/activation.h"
#include "variants.h"

namespace opzoo::cpu {

OPZOO_DECLARE_VARIANTS(ActivationKernels<float>, activation)
extern const ActivationKernels<double> activation_f64;

}  // namespace opzoo::cpu

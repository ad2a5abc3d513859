// The depthwise kernel tables per ISA (csrc/cpu/depthwise_*.cpp, arm/depthwise_neon.cpp)
// and the portable float64 one, for the dispatcher in depthwise.cpp and the C++ tests.
#pragma once

#include "opzoo/depthwise.h"
#include "variants.h"

namespace opzoo::cpu {

OPZOO_DECLARE_VARIANTS(DepthwiseKernels<float>, depthwise)
extern const DepthwiseKernels<double> depthwise_f64;

}  // namespace opzoo::cpu

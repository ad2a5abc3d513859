// The per-ISA kernel tables of csrc/cpu/depthwise_*.cpp and arm/depthwise_neon.cpp, for
// the dispatcher in depthwise.cpp.
#pragma once

#include "opzoo/depthwise.h"

namespace opzoo::cpu {

extern const DepthwiseKernels<float> depthwise_scalar_f32;
extern const DepthwiseKernels<double> depthwise_scalar_f64;
#ifdef OPZOO_X86_VARIANTS
extern const DepthwiseKernels<float> depthwise_avx2_f32;
extern const DepthwiseKernels<float> depthwise_avx512_f32;
#endif
#ifdef OPZOO_ARM_VARIANTS
extern const DepthwiseKernels<float> depthwise_neon_f32;
#endif

}  // namespace opzoo::cpu

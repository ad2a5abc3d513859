// The graph kernel tables per ISA (csrc/cpu/graph_*.cpp, arm/graph_neon.cpp) and the
// portable float64 one, for the dispatcher in graph.cpp and the C++ tests.
#pragma once

#include "opzoo/graph.h"
#include "variants.h"

namespace opzoo::cpu {

OPZOO_DECLARE_VARIANTS(GraphKernels<float>, graph)
extern const GraphKernels<double> graph_f64;

}  // namespace opzoo::cpu

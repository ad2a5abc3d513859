// Activations fused into the output pass of kernels. The numbering is part of the
// binding's contract with python/opzoo/_dispatch.py (ACTIVATIONS).
#pragma once

namespace opzoo {

enum class Activation : int { none = 0, relu = 1, relu6 = 2, silu = 3, hardswish = 4, sigmoid = 5 };

constexpr int kNumActivations = 6;

}  // namespace opzoo

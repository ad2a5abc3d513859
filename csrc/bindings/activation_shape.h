// The activation backward step's arguments checked against each other, for the CPU and
// the CUDA binding alike.
#pragma once

#include "arrays.h"

namespace opzoo::bindings {

// z, grad and out of one shape and kind; out shares memory with neither input.
void check_activation_backward(const ArrayArg& z, const ArrayArg& grad, const ArrayArg& out);

}  // namespace opzoo::bindings

// The corner/center pooling geometry of one call and its arguments checked against each
// other: every rule and message once, for the CPU binding, the CUDA binding and the
// Python API (which checks shapes through opzoo._cpu.corner_pool_check).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "opzoo/corner_pool.h"

namespace opzoo::bindings {

// "top", "bottom", "left" or "right"; ValueError naming the accepted ones otherwise.
PoolDirection parse_direction(const std::string& direction);
// "top_left" -> (top, left), "bottom_right" -> (bottom, right).
std::pair<PoolDirection, PoolDirection> parse_corner(const std::string& corner);

// Every input (N, C, H, W) in `layout` (or (N, H, W, C)); the other shapes must equal
// the first's. ValueError naming the first that does not fit.
CornerPoolShape make_corner_pool_shape(const std::vector<std::vector<int64_t>>& shapes,
                                       const std::vector<std::string>& names, const std::string& layout);

// Inputs of one shape and kind, and outputs of that shape and kind sharing memory with
// no input and no other output.
CornerPoolShape check_corner_pool_arrays(std::initializer_list<const ArrayArg*> inputs,
                                         std::initializer_list<const ArrayArg*> outputs, const std::string& layout);

}  // namespace opzoo::bindings

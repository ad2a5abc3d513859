// The squeeze-excite geometry of one call and its arguments checked against each other:
// every rule and message once, for the CPU binding, the CUDA binding and the Python API
// (which checks a call's shapes through opzoo._cpu.squeeze_excite_check).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arrays.h"
#include "opzoo/squeeze_excite.h"

namespace opzoo::bindings {

// x (N, C, H, W) in `layout` ("NCHW" or "NHWC"); w_reduce (R, C), b_reduce (R,),
// w_expand (C, R), b_expand (C,); the biases optional (null). ValueError naming the
// first argument that does not fit.
SqueezeExciteShape make_squeeze_excite_shape(const std::vector<int64_t>& x_shape,
                                             const std::vector<int64_t>& w_reduce_shape,
                                             const std::vector<int64_t>* b_reduce_shape,
                                             const std::vector<int64_t>& w_expand_shape,
                                             const std::vector<int64_t>* b_expand_shape, const std::string& layout);

// out: x's shape, x itself or sharing no memory with it, and none with the parameters.
SqueezeExciteShape check_squeeze_excite_forward(const ArrayArg& x, const ArrayArg& w_reduce, const ArrayArg* b_reduce,
                                                const ArrayArg& w_expand, const ArrayArg* b_expand,
                                                const ArrayArg& out, const std::string& layout);
// grad_y x's shape; grad_x (x's shape) optional; the parameter gradients all four or none,
// each its parameter's shape; no output sharing memory with another array.
SqueezeExciteShape check_squeeze_excite_backward(const ArrayArg& grad_y, const ArrayArg& x, const ArrayArg& w_reduce,
                                                 const ArrayArg* b_reduce, const ArrayArg& w_expand,
                                                 const ArrayArg* b_expand, const ArrayArg* grad_x,
                                                 const ArrayArg* grad_w_reduce, const ArrayArg* grad_b_reduce,
                                                 const ArrayArg* grad_w_expand, const ArrayArg* grad_b_expand,
                                                 const std::string& layout);

}  // namespace opzoo::bindings

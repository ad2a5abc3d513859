// Squeeze-and-excitation (SENet; EfficientNet's and MobileNet's blocks): per image, the
// channel means s = mean_hw(x), a gate g = sigmoid(w_expand @ act(w_reduce @ s + b_reduce)
// + b_expand), and y = x * g, broadcast over the pixels.
#pragma once

#include <cstdint>

#include "opzoo/activation.h"
#include "opzoo/layout.h"

namespace opzoo {

// Every extent of one call: x and y (N, C, H, W) or (N, H, W, C) dense in `layout`;
// w_reduce (R, C), b_reduce (R,), w_expand (C, R), b_expand (C,), as PyTorch's 1x1
// convolutions store them without the 1x1.
struct SqueezeExciteShape {
  int64_t N, C, H, W, R;
  Layout layout;
};

// One back end's kernels for one dtype. Biases may be null (zero). backward computes
// grad_x when it is not null and the four parameter gradients when grad_w_reduce is not
// null (grad_b_reduce, grad_w_expand and grad_b_expand with it). Sums run in an order
// fixed by the shape alone: the same bits for any number of threads.
template <class T>
struct SqueezeExciteKernels {
  void (*forward)(const SqueezeExciteShape&, const T* x, const T* w_reduce, const T* b_reduce, const T* w_expand,
                  const T* b_expand, Activation act, T* y);
  void (*backward)(const SqueezeExciteShape&, const T* grad_y, const T* x, const T* w_reduce, const T* b_reduce,
                   const T* w_expand, const T* b_expand, Activation act, T* grad_x, T* grad_w_reduce,
                   T* grad_b_reduce, T* grad_w_expand, T* grad_b_expand);
};

// The kernels for the current simd_level() (float) or the portable ones (double).
const SqueezeExciteKernels<float>& squeeze_excite_kernels_f32();
const SqueezeExciteKernels<double>& squeeze_excite_kernels_f64();

}  // namespace opzoo

// Depthwise 2-D convolution (PyTorch conv2d with groups = C, channel multiplier M):
// output channel o = c * M + m reads input channel c only.
#pragma once

#include <cstdint>

#include "opzoo/activation.h"
#include "opzoo/layout.h"
#include "opzoo/window.h"

namespace opzoo {

// Every extent of one call. Inputs are dense in `layout`: x (N,C,H,W) or (N,H,W,C),
// weight (C*M, kh, kw), output (N,C*M,Ho,Wo) or (N,Ho,Wo,C*M). Padding below and to
// the right follows from Ho/Wo, so only the top and left pads are stored.
struct DepthwiseShape {
  int64_t N, C, M, H, W;
  int64_t kh, kw;
  int64_t stride_h, stride_w;
  int64_t dilation_h, dilation_w;
  int64_t pad_top, pad_left;
  int64_t Ho, Wo;
  Layout layout;
};

// One back end's kernels for one dtype. Each writes every element of its outputs.
// backward computes grad_x (weight, grad_y -> grad_x) when grad_x is not null, and
// grad_weight and grad_bias (x, grad_y -> sums) when grad_weight is not null, in one
// pass where it can; x may be null without grad_weight, weight without grad_x, and
// grad_bias may be null. All run on num_threads() threads and give the same bits
// whatever that number is.
template <class T>
struct DepthwiseKernels {
  void (*forward)(const DepthwiseShape&, const T* x, const T* weight, const T* bias,
                  Activation act, T* y);
  void (*backward)(const DepthwiseShape&, const T* grad_y, const T* x, const T* weight, T* grad_x,
                   T* grad_weight, T* grad_bias);
};

// The kernels for the current simd_level() (float) or the portable ones (double).
const DepthwiseKernels<float>& depthwise_kernels_f32();
const DepthwiseKernels<double>& depthwise_kernels_f64();

}  // namespace opzoo

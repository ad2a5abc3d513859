// Corner and center pooling (CornerNet, Law & Deng; CenterNet, Duan et al.): running
// maxima along one axis of each (H, W) plane, and the maxima over a whole column or row.
//   top:    out[i, j] = max_{k >= i} x[k, j]      bottom: max_{k <= i} x[k, j]
//   left:   out[i, j] = max_{k >= j} x[i, k]      right:  max_{k <= j} x[i, k]
// NaN is larger than every number and equal to every NaN, as torch.cummax treats it:
// a running maximum that has seen a NaN is NaN.
#pragma once

#include <cstdint>

#include "opzoo/layout.h"

namespace opzoo {

enum class PoolDirection : int { top = 0, bottom = 1, left = 2, right = 3 };

// Internal linkage, as layout.h's dense_offset (csrc/cpu/kernel_common.h says why).
static inline bool is_vertical(PoolDirection d) { return d == PoolDirection::top || d == PoolDirection::bottom; }

// Every extent of one call: each array (N, C, H, W) or (N, H, W, C), dense in `layout`.
struct CornerPoolShape {
  int64_t N, C, H, W;
  Layout layout;
};

// One back end's kernels for one dtype.
//   corner: out = pool(a, vertical) + pool(b, horizontal), where either input may be null
//     (then out is the other pool alone); vertical is top or bottom, horizontal left or right.
//   center: out[i, j] = max_k a[k, j] + max_k b[i, k].
//   corner_backward: grad_x of out = pool(x, direction): each grad_out element added to
//     the arg-max of its window, the nearest one on ties (torch.cummax's index).
//   extent_backward: grad_x of out[i, j] = max_k x[k, j] (vertical) or max_k x[i, k]: the
//     gradient BottomPool(TopPool(x)) (RightPool(LeftPool(x))) has under those tie rules.
//     Output row i's gradient goes to the first arg-max at or after i, or to the last
//     arg-max when none lies at or after i (columns read top to bottom; rows, left to right).
// Sums run in an order fixed by the shape: the same bits for any number of threads.
template <class T>
struct CornerPoolKernels {
  void (*corner)(const CornerPoolShape&, const T* a, PoolDirection vertical, const T* b, PoolDirection horizontal,
                 T* out);
  void (*center)(const CornerPoolShape&, const T* a, const T* b, T* out);
  void (*corner_backward)(const CornerPoolShape&, const T* grad_out, const T* x, PoolDirection direction, T* grad_x);
  void (*extent_backward)(const CornerPoolShape&, const T* grad_out, const T* x, bool vertical, T* grad_x);
};

// The kernels for the current simd_level() (float) or the portable ones (double).
const CornerPoolKernels<float>& corner_pool_kernels_f32();
const CornerPoolKernels<double>& corner_pool_kernels_f64();

}  // namespace opzoo

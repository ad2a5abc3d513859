// Elementwise activation kernels over a vector type V, compiled once per ISA by
// activation_{scalar,avx2,avx512}.cpp (arm/activation_neon.cpp): the backward step an op
// takes through the activation it fused, grad * activation'(z), and the bias-activation
// op's forward and backward. Channels-last arrays (inner == 1) run vectors along the
// channels with the bias in vectors; planes (inner > 1) run vectors along each plane
// with its channel's bias broadcast.
#pragma once

#include <vector>

#include "activations.h"
#include "kernel_common.h"
#include "spans.h"

namespace opzoo::cpu {
namespace {

// Elements per task: enough to amortise a task, few enough to split a layer's output.
constexpr int64_t kActivationChunk = 16384;

template <class V>
void activation_backward(int64_t n, const typename V::value_type* z, const typename V::value_type* grad,
                         Activation act, typename V::value_type* out) {
  const int64_t chunks = ceil_div(n, kActivationChunk);
  parallel_for(chunks, threads_for(chunks), [&](int64_t chunk, int) {
    const int64_t begin = chunk * kActivationChunk, end = min64(n, begin + kActivationChunk);
    int64_t i = begin;
    for (; i + V::width <= end; i += V::width)
      V::store(out + i, V::mul(V::load(grad + i), activation_slope<V>(act, V::load(z + i))));
    if (i < end) {
      const int lanes = int(end - i);
      V::store_n(out + i, V::mul(V::load_n(grad + i, lanes), activation_slope<V>(act, V::load_n(z + i, lanes))), lanes);
    }
  });
}

// y[i] = activation(x[i] + bias) + r[i] over one contiguous span, where the bias is
// bias[i] (VectorBias) or *bias broadcast; no bias (nullptr) adds nothing, so -0 stays -0.
template <class V, bool VectorBias>
void bias_activation_span(const typename V::value_type* x, const typename V::value_type* bias, Activation act,
                          const typename V::value_type* r, typename V::value_type* y, int64_t n) {
  using R = typename V::reg;
  const R vb = bias && !VectorBias ? V::set1(*bias) : V::zero();
  for (int64_t i = 0; i < n; i += V::width) {
    const int64_t lanes = n - i;  // past the width: a whole vector
    const R xv = load_inputs<V>(x + i, lanes);
    R z = xv;
    if (bias) {
      if constexpr (VectorBias) z = V::add(xv, load_inputs<V>(bias + i, lanes));
      else z = V::add(xv, vb);
    }
    R v = activate<V>(act, z);
    if (r) v = V::add(v, load_inputs<V>(r + i, lanes));
    store_outputs<V>(y + i, v, lanes);
  }
}

// Rows (inner == 1) or planes (inner > 1) per task: about kActivationChunk elements.
inline int64_t segments_per_task(int64_t segment) { return max64(1, kActivationChunk / max64(1, segment)); }

template <class V>
void bias_activation_forward(const BiasActivationShape& s, const typename V::value_type* x,
                             const typename V::value_type* bias, Activation act,
                             const typename V::value_type* residual, typename V::value_type* y) {
  using T = typename V::value_type;
  const int64_t segment = s.inner == 1 ? s.channels : s.inner;  // contiguous elements with one bias pattern
  const int64_t segments = s.inner == 1 ? s.outer : s.outer * s.channels;
  if (segment == 0 || segments == 0) return;
  const int64_t per_task = segments_per_task(segment), tasks = ceil_div(segments, per_task);
  parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
    for (int64_t q = task * per_task; q < min64(segments, (task + 1) * per_task); ++q) {
      const int64_t off = q * segment;
      const T* r = residual ? residual + off : nullptr;
      if (s.inner == 1) bias_activation_span<V, true>(x + off, bias, act, r, y + off, segment);
      else bias_activation_span<V, false>(x + off, bias ? bias + q % s.channels : nullptr, act, r, y + off, segment);
    }
  });
}

// Channels-last partial sums: at most this many row blocks, each summed on its own, then
// added in block order. The blocks depend on the shape alone.
constexpr int64_t kMaxBiasBlocks = 256;

// Bias sums over planes run in chunks of this many elements (a multiple of every vector
// width), each summed in floats on its own and added to the channel's total in double, in
// order: a float sum's rounding error grows with the terms it adds in turn. On one
// plane of 33^3 elements, the sum straight through missed the float64 sum of the same
// grad_x by up to 5.2e-4 of its scale at the scalar level (1.1e-4 at AVX2, 6.7e-5 at
// AVX-512), this by 3.3e-5 (6.3e-6, 1.2e-5).
constexpr int64_t kPlaneSumChunk = 256;

template <class V>
void bias_activation_backward(const BiasActivationShape& s, const typename V::value_type* grad,
                              const typename V::value_type* x, const typename V::value_type* bias, Activation act,
                              typename V::value_type* grad_x, typename V::value_type* grad_bias) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const int64_t C = s.channels;
  // grad * activation'(x + bias) for elements [i, i + lanes) with bias vector bv; stored
  // in grad_x when wanted, returned for the bias sums.
  auto slope_times_grad = [&](int64_t i, R bv, int64_t lanes) {
    const R z = V::add(load_inputs<V>(x + i, lanes), bv);
    const R g = V::mul(load_inputs<V>(grad + i, lanes), activation_slope<V>(act, z));
    if (grad_x) store_outputs<V>(grad_x + i, g, lanes);
    return g;
  };
  if (s.outer == 0 || C == 0) {
    if (grad_bias) for (int64_t c = 0; c < C; ++c) grad_bias[c] = T(0);
    return;
  }
  if (s.inner == 1) {
    const int64_t blocks = min64(kMaxBiasBlocks, ceil_div(s.outer * C, kActivationChunk));
    const int64_t rows_per_block = ceil_div(s.outer, blocks);
    const int64_t used_blocks = ceil_div(s.outer, rows_per_block);
    std::vector<T> partial(grad_bias ? size_t(used_blocks * C) : 0);
    parallel_for(used_blocks, threads_for(used_blocks), [&](int64_t blk, int) {
      T* sums = grad_bias ? partial.data() + blk * C : nullptr;
      for (int64_t c0 = 0; c0 < C; c0 += Wd) {
        const int64_t lanes = C - c0;
        const R bv = bias ? load_inputs<V>(bias + c0, lanes) : V::zero();
        R acc = V::zero();
        for (int64_t row = blk * rows_per_block; row < min64(s.outer, (blk + 1) * rows_per_block); ++row)
          acc = V::add(acc, slope_times_grad(row * C + c0, bv, lanes));
        if (sums) store_outputs<V>(sums + c0, acc, lanes);
      }
    });
    if (grad_bias)
      for (int64_t c = 0; c < C; ++c) {
        T total = T(0);
        for (int64_t blk = 0; blk < used_blocks; ++blk) total += partial[size_t(blk * C + c)];
        grad_bias[c] = total;
      }
    return;
  }
  // Planes: one task per channel, its planes summed in image order, kPlaneSumChunk
  // elements at a time with Wd lanes of partial sums, added lane by lane into the total
  // after each chunk.
  const int64_t plane = s.inner;
  parallel_for(C, threads_for(C), [&](int64_t c, int) {
    const R bv = V::set1(bias ? bias[c] : T(0));
    double total = 0;
    for (int64_t n = 0; n < s.outer; ++n) {
      const int64_t off = (n * C + c) * plane;
      for (int64_t i0 = 0; i0 < plane; i0 += kPlaneSumChunk) {
        const int64_t i1 = min64(plane, i0 + kPlaneSumChunk);
        R acc = V::zero();
        for (int64_t i = i0; i < i1; i += Wd) acc = V::add(acc, slope_times_grad(off + i, bv, i1 - i));
        total += double(V::hsum(acc));
      }
    }
    if (grad_bias) grad_bias[c] = T(total);
  });
}

template <class V>
constexpr ActivationKernels<typename V::value_type> activation_kernels() {
  return {activation_backward<V>, bias_activation_forward<V>, bias_activation_backward<V>};
}

}  // namespace
}  // namespace opzoo::cpu

// Elementwise activation kernels over a vector type V, compiled once per ISA by
// activation_{scalar,avx2,avx512}.cpp (arm/activation_neon.cpp): the backward step an op
// takes through the activation it fused, grad * activation'(z).
#pragma once

#include "activations.h"
#include "kernel_common.h"

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

template <class V>
constexpr ActivationKernels<typename V::value_type> activation_kernels() {
  return {activation_backward<V>};
}

}  // namespace
}  // namespace opzoo::cpu

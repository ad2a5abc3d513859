// The activations kernels fuse, and their derivatives, over a vector type V. Internal
// linkage (kernel_common.h says why).
#pragma once

#include "opzoo/activation.h"

namespace opzoo::cpu {
namespace {

template <class V>
typename V::reg activate(Activation act, typename V::reg v) {
  using T = typename V::value_type;
  // Operand order keeps NaN: the x86 min/max return the second operand when either is NaN.
  switch (act) {
    case Activation::relu:
      return V::max(V::zero(), v);
    case Activation::relu6:
      return V::min(V::set1(T(6)), V::max(V::zero(), v));
    case Activation::silu:
      return V::div(v, V::add(V::set1(T(1)), V::exp(V::sub(V::zero(), v))));
    case Activation::hardswish: {
      const auto r6 = V::min(V::set1(T(6)), V::max(V::zero(), V::add(v, V::set1(T(3)))));
      return V::div(V::mul(v, r6), V::set1(T(6)));
    }
    case Activation::sigmoid:
      return V::div(V::set1(T(1)), V::add(V::set1(T(1)), V::exp(V::sub(V::zero(), v))));
    case Activation::none:
      break;
  }
  return v;
}

// activation'(z), with PyTorch's values at the kinks (see opzoo/activation.h).
template <class V>
typename V::reg activation_slope(Activation act, typename V::reg z) {
  using T = typename V::value_type;
  const auto one = V::set1(T(1));
  const auto sigmoid = [&] { return V::div(one, V::add(one, V::exp(V::sub(V::zero(), z)))); };
  switch (act) {
    case Activation::relu:
      return V::select_lt(V::zero(), z, one, V::zero());
    case Activation::relu6:
      return V::select_lt(V::zero(), z, V::select_lt(z, V::set1(T(6)), one, V::zero()), V::zero());
    case Activation::silu: {
      const auto s = sigmoid();
      return V::mul(s, V::add(one, V::mul(z, V::sub(one, s))));
    }
    case Activation::hardswish: {
      // z < -3: 0; z <= 3: (2z + 3) / 6; else (z > 3, or NaN) 1.
      const auto mid = V::div(V::add(V::add(z, z), V::set1(T(3))), V::set1(T(6)));
      return V::select_lt(z, V::set1(T(-3)), V::zero(), V::select_le(z, V::set1(T(3)), mid, one));
    }
    case Activation::sigmoid: {
      const auto s = sigmoid();
      return V::mul(s, V::sub(one, s));
    }
    case Activation::none:
      break;
  }
  return one;
}

}  // namespace
}  // namespace opzoo::cpu

// exp for SIMD registers: Cody-Waite reduction x = n ln2 + r, a degree-6 polynomial for
// e^r (Cephes expf coefficients, relative error ~1 ulp on [-87, 88]), scaled by 2^n.
// Past that range it overflows to inf and underflows to 0, and NaN stays NaN, as
// std::exp (the portable variant) does. V supplies round_nearest and pow2i (2^n for an
// integral float n in [-126, 127]).
#pragma once

namespace opzoo::cpu {
namespace {

template <class V>
typename V::reg exp_poly(typename V::reg x) {
  using R = typename V::reg;
  const R hi = V::set1(88.37626f), lo = V::set1(-87.33654f), input = x;
  // Clamp operands in this order keep NaN: min/max return their second operand on NaN.
  x = V::min(hi, V::max(lo, x));
  const R n = V::round_nearest(V::mul(x, V::set1(1.44269504088896341f)));
  R r = V::fma(n, V::set1(-0.693359375f), x);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  R p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  p = V::fma(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  const R e = V::mul(p, V::pow2i(n));
  return V::select_lt(hi, input, V::set1(__builtin_inff()), V::select_lt(input, lo, V::zero(), e));
}

}  // namespace
}  // namespace opzoo::cpu

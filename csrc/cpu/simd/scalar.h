// Portable one-lane "vector": the reference variant every SIMD variant must agree with
// (up to the rounding of fused multiply-add, which the portable variant does not use).
// Internal linkage throughout: each per-ISA translation unit has its own copy.
#pragma once

#include <cmath>

namespace opzoo::cpu {
namespace {

template <class T>
struct ScalarVec {
  using value_type = T;
  using reg = T;
  static constexpr int width = 1;

  static reg zero() { return T(0); }
  static reg set1(T v) { return v; }
  static reg load(const T* p) { return *p; }
  static void store(T* p, reg v) { *p = v; }
  static constexpr bool streaming_stores = false;  // the store below is a plain one
  static void store_streaming(T* p, reg v) { *p = v; }
  static void streaming_fence() {}
  static reg load_n(const T* p, int n) { return n > 0 ? *p : T(0); }
  static void store_n(T* p, reg v, int n) {
    if (n > 0) *p = v;
  }
  static reg add(reg a, reg b) { return a + b; }
  static reg sub(reg a, reg b) { return a - b; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg div(reg a, reg b) { return a / b; }
  // Not fused: -ffp-contract=off keeps this a rounded multiply then a rounded add.
  static reg fma(reg a, reg b, reg c) { return a * b + c; }
  static reg max(reg a, reg b) { return a > b ? a : b; }
  static reg min(reg a, reg b) { return a < b ? a : b; }
  // a < b ? x : y and a <= b ? x : y per lane (false where a or b is NaN).
  static reg select_lt(reg a, reg b, reg x, reg y) { return a < b ? x : y; }
  static reg select_le(reg a, reg b, reg x, reg y) { return a <= b ? x : y; }
  static reg exp(reg a) { return std::exp(a); }
  static T hsum(reg a) { return a; }
  // Transposes width x width elements held one row per register (1 x 1: nothing to do).
  static void transpose(reg (&)[1]) {}
  // The even-indexed and odd-indexed lanes of the 2*width elements (lo, hi).
  static void deinterleave2(reg lo, reg hi, reg& even, reg& odd) {
    even = lo;
    odd = hi;
  }

};

}  // namespace
}  // namespace opzoo::cpu

// AArch64 Advanced SIMD (NEON) float32 vector, 4 lanes: the same operations as
// csrc/cpu/simd/{scalar,avx2,avx512}.h, so the kernels of csrc/cpu compile over it.
// NEON is part of every AArch64 CPU, so no run-time check is needed.
#pragma once

#if !defined(__aarch64__)
#error "arm/simd_neon.h is for AArch64 builds"
#endif

#include <arm_neon.h>

#include "simd/exp_poly.h"

namespace opzoo::cpu {
namespace {

struct NeonF32 {
  using value_type = float;
  using reg = float32x4_t;
  static constexpr int width = 4;

  static reg zero() { return vdupq_n_f32(0.0f); }
  static reg set1(float v) { return vdupq_n_f32(v); }
  static reg load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, reg v) { vst1q_f32(p, v); }
  static constexpr bool streaming_stores = false;  // the store below is a plain one
  static void store_streaming(float* p, reg v) { vst1q_f32(p, v); }
  static void streaming_fence() {}
  // NEON has no masked loads: partial vectors go through a small stack buffer, so no
  // byte past p[n - 1] is touched.
  static reg load_n(const float* p, int n) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return vld1q_f32(t);
  }
  static void store_n(float* p, reg v, int n) {
    if (n >= 4) return vst1q_f32(p, v);
    float t[4];
    vst1q_f32(t, v);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
  static reg add(reg a, reg b) { return vaddq_f32(a, b); }
  static reg sub(reg a, reg b) { return vsubq_f32(a, b); }
  static reg mul(reg a, reg b) { return vmulq_f32(a, b); }
  static reg div(reg a, reg b) { return vdivq_f32(a, b); }
  static reg fma(reg a, reg b, reg c) { return vfmaq_f32(c, a, b); }
  // a > b ? a : b, as the x86 and portable variants: the second operand when either
  // is NaN or both are zero (vmaxq_f32 would return NaN and +0 instead).
  static reg max(reg a, reg b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
  static reg min(reg a, reg b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
  // a < b ? x : y and a <= b ? x : y per lane (false where a or b is NaN).
  static reg select_lt(reg a, reg b, reg x, reg y) { return vbslq_f32(vcltq_f32(a, b), x, y); }
  static reg select_le(reg a, reg b, reg x, reg y) { return vbslq_f32(vcleq_f32(a, b), x, y); }
  static reg round_nearest(reg a) { return vrndnq_f32(a); }
  static reg pow2i(reg n) {
    const int32x4_t e = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }
  static reg exp(reg a) { return exp_poly<NeonF32>(a); }
  static float hsum(reg a) { return vaddvq_f32(a); }
  // Transposes 4 x 4 elements held one row per register.
  static void transpose(reg (&r)[4]) {
    const reg t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const reg t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    const auto d = [](reg v) { return vreinterpretq_f64_f32(v); };
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(d(t0), d(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(d(t1), d(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(d(t0), d(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(d(t1), d(t3)));
  }
  // The even-indexed and odd-indexed lanes of the 2*width elements (lo, hi).
  static void deinterleave2(reg lo, reg hi, reg& even, reg& odd) {
    even = vuzp1q_f32(lo, hi);
    odd = vuzp2q_f32(lo, hi);
  }
};

}  // namespace
}  // namespace opzoo::cpu

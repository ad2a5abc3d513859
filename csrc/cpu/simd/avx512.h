// AVX-512 (F/BW/DQ/VL) float32 vector, 16 lanes. Only for translation units built with
// the AVX-512 flags of CMakeLists.txt.
#pragma once

#if !defined(__AVX512F__) || !defined(__FMA__)
#error "simd/avx512.h needs -mavx512f -mfma"
#endif

#include <immintrin.h>

#include "exp_poly.h"

namespace opzoo::cpu {
namespace {

struct Avx512F32 {
  using value_type = float;
  using reg = __m512;
  static constexpr int width = 16;

  static __mmask16 mask_n(int n) {
    return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n > 0 ? n : 0)) - 1u);
  }
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float v) { return _mm512_set1_ps(v); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  // A store past the caches (p 64-byte aligned): a whole line, with no read of it first.
  static constexpr bool streaming_stores = true;
  static void store_streaming(float* p, reg v) { _mm512_stream_ps(p, v); }
  static void streaming_fence() { _mm_sfence(); }
  static reg load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask_n(n), p); }
  static void store_n(float* p, reg v, int n) { _mm512_mask_storeu_ps(p, mask_n(n), v); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  // a < b ? x : y and a <= b ? x : y per lane (false where a or b is NaN).
  static reg select_lt(reg a, reg b, reg x, reg y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x);
  }
  static reg select_le(reg a, reg b, reg x, reg y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ), y, x);
  }
  static reg round_nearest(reg a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static reg pow2i(reg n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static reg exp(reg a) { return exp_poly<Avx512F32>(a); }
  static float hsum(reg a) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  // Transposes 16 x 16 elements held one row per register. In-lane unpacks and
  // shuffles first (rows 4 at a time per 128-bit lane), then two rounds of 128-bit lane
  // shuffles: 64 single-cycle-class shuffles instead of 64 two-source permutes.
  static void transpose(reg (&r)[16]) {
    reg t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {  // u[i + j]: column 4q + j of rows i..i+3, lane q
      u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int h = 0; h < 16; h += 8)  // t[h + j]: lanes (0, 2) then (1, 3) of u[h + j], u[h + 4 + j]
      for (int j = 0; j < 4; ++j) {
        t[h + j] = _mm512_shuffle_f32x4(u[h + j], u[h + 4 + j], 0x88);
        t[h + 4 + j] = _mm512_shuffle_f32x4(u[h + j], u[h + 4 + j], 0xDD);
      }
    for (int j = 0; j < 8; ++j) {  // column j from t[j], t[8 + j]; column 8 + j from their odd lanes
      r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
      r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
  }
  // The even-indexed and odd-indexed lanes of the 2*width elements (lo, hi).
  static void deinterleave2(reg lo, reg hi, reg& even, reg& odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    even = _mm512_permutex2var_ps(lo, ie, hi);
    odd = _mm512_permutex2var_ps(lo, io, hi);
  }

};

}  // namespace
}  // namespace opzoo::cpu

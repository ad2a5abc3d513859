// AVX2 + FMA float32 vector, 8 lanes. Only for translation units built with -mavx2 -mfma.
#pragma once

#if !defined(__AVX2__) || !defined(__FMA__)
#error "simd/avx2.h needs -mavx2 -mfma"
#endif

#include <immintrin.h>

#include "exp_poly.h"

namespace opzoo::cpu {
namespace {

struct Avx2F32 {
  using value_type = float;
  using reg = __m256;
  static constexpr int width = 8;

  static __m256i mask_n(int n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
  }
  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float v) { return _mm256_set1_ps(v); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  // A store past the caches (p 32-byte aligned); half a line, so only pairs that fill
  // lines are worth it.
  static constexpr bool streaming_stores = true;
  static void store_streaming(float* p, reg v) { _mm256_stream_ps(p, v); }
  static void streaming_fence() { _mm_sfence(); }
  static reg load_n(const float* p, int n) { return _mm256_maskload_ps(p, mask_n(n)); }
  static void store_n(float* p, reg v, int n) { _mm256_maskstore_ps(p, mask_n(n), v); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  // a < b ? x : y and a <= b ? x : y per lane (false where a or b is NaN).
  static reg select_lt(reg a, reg b, reg x, reg y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static reg select_le(reg a, reg b, reg x, reg y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LE_OQ)); }
  static reg round_nearest(reg a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static reg pow2i(reg n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static reg exp(reg a) { return exp_poly<Avx2F32>(a); }
  static float hsum(reg a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  // Transposes 8 x 8 elements held one row per register: in-lane unpacks and shuffles,
  // then one round of 128-bit lane swaps.
  static void transpose(reg (&r)[8]) {
    reg t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {  // u[i + j]: column 4q + j of rows i..i+3, lane q
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
      r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
      r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
    }
  }
  // The even-indexed and odd-indexed lanes of the 2*width elements (lo, hi).
  static void deinterleave2(reg lo, reg hi, reg& even, reg& odd) {
    const __m256 e = _mm256_shuffle_ps(lo, hi, 0x88), o = _mm256_shuffle_ps(lo, hi, 0xDD);
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
  }

};

}  // namespace
}  // namespace opzoo::cpu

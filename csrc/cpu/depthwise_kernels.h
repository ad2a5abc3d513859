// Depthwise conv2d kernels, written once over a vector type V (simd/*.h) and compiled
// once per ISA by depthwise_{scalar,avx2,avx512}.cpp. Each output element sums its
// taps in (kh, kw) order starting from zero, then adds the bias, so a result depends
// only on V, never on the thread count or on how the work was split.
//
// Forward kernels read a zero-padded copy of the band of input rows they need, so
// border pixels run the same blocked loop as the rest (NHWC layers read in place
// instead where that streams better, their border blocks reading zeros outside: wide
// layers of small inputs at stride 2 and 3x3 ones of narrow pixels at stride 1 on AMD's
// cores, every layer at stride 2 and 3x3 ones on wide rows on Intel's; cpu_vendor()
// decides, and the bits are the same). The copy is made a few rows at a time, each
// computed as soon as its rows are in, with the copy prefetching ahead, so that reading
// the input overlaps the compute; NHWC blocks pull in the output lines that a later
// channel chunk stores to. NCHW splits that copy by column phase (padded column p sits
// in phase p % stride_w at index p / stride_w), so every tap of every stride and
// dilation is one contiguous vector load along a row; NHWC vectorises over channels.
// For 3x3 and 5x5 kernels at stride 1 or 2 a block of outputs walks the input it reads
// and feeds each loaded vector to every output that uses it. NCHW output rows up to 32
// columns and 4 vectors wide are interleaved a vector of channels at a time and run
// through the NHWC kernel, the next group of planes prefetched meanwhile. The backward
// (M == 1, either layout) is one pass over bands of output rows by blocks of channels,
// grad_x and the weight sums from the same copy of grad_y, NCHW transposed in and out
// of the tasks' scratch; M > 1 and infinite weights take scattering or gathering
// kernels that skip the taps in padding. Geometry whose padding or dilation reaches far
// beyond the input, and forward passes with a non-finite weight, run direct kernels
// that visit only the taps inside the input (padding contributes nothing, not even
// inf * 0).
#pragma once

#include <cstring>
#include <type_traits>
#include <vector>

#include "bands.h"
#include "kernel_common.h"
#include "opzoo/depthwise.h"
#include "simd/scalar.h"
#include "spans.h"

namespace opzoo::cpu {
namespace {

// Independent accumulators per block: enough to cover the FMA latency.
constexpr int kBlock = 4;
// Elements of band scratch per thread before a plane is split into row bands.
constexpr int64_t kBandBudget = 16384;

// Where the phase-split copy of one padded input row keeps its elements.
struct PhaseRows {
  int64_t width;      // padded columns the kernel reads: (Wo-1)*sw + (kw-1)*dw + 1
  int64_t phase_len;  // elements per phase; whole column blocks never leave it
  int64_t row_len;    // stride_w * phase_len
};

inline PhaseRows phase_rows(const DepthwiseShape& s, int64_t block_width) {
  PhaseRows g;
  g.width = (s.Wo - 1) * s.stride_w + (s.kw - 1) * s.dilation_w + 1;
  const int64_t q_max = (s.kw - 1) * s.dilation_w / s.stride_w;
  g.phase_len = round_up(s.Wo, block_width) + q_max;
  g.row_len = s.stride_w * g.phase_len;
  return g;
}

inline int64_t padded_rows(const DepthwiseShape& s, int64_t out_rows) {
  return (out_rows - 1) * s.stride_h + (s.kh - 1) * s.dilation_h + 1;
}

// The padded input rows of a band in scratch, copied a piece at a time as the band's
// output rows come to need them: up_to(needed, copy) copies rows [rows, needed) with
// copy(first, count) unless it has them.
struct BandRowsCopied {
  int64_t rows = 0;
  template <class Copy>
  void up_to(int64_t needed, const Copy& copy) {
    if (needed <= rows) return;
    copy(rows, needed - rows);
    rows = needed;
  }
};

// Offset of tap (a, b) from the start of an output row's first padded row.
inline int64_t tap_offset(const DepthwiseShape& s, const PhaseRows& g, int64_t a, int64_t b) {
  const int64_t col = b * s.dilation_w;
  return a * s.dilation_h * g.row_len + (col % s.stride_w) * g.phase_len + col / s.stride_w;
}

// How far ahead of the input it copies a band's copy pulls the input into L1. An NCHW
// plane's rows (the next plane's after them) or an NHWC image's are one stream, read a
// few rows at a time between blocks of compute, which the hardware prefetchers follow
// too late: NCHW C96 H112 stride 2 at batch 8 took 1.94 ms without this and 1.44 with it
// (Zen 5, NHWC then: 1.34).
constexpr int64_t kGatherAheadBytes = 4096;

// Copies padded rows [row0, row0 + rows) of one input plane (H, W) into `dst`, phase
// split; rows outside the input are zeros.
template <class V>
void gather_phase_rows(const DepthwiseShape& s, const PhaseRows& g,
                       const typename V::value_type* plane, int64_t row0, int64_t rows,
                       typename V::value_type* dst) {
  using T = typename V::value_type;
  const int64_t sw = s.stride_w, pl = s.pad_left;
  const int64_t used = min64(s.W, g.width - pl);  // input columns inside the padded width
  for (int64_t r = 0; r < rows; ++r, dst += g.row_len) {
    const int64_t ih = row0 + r - s.pad_top;
    if (ih < 0 || ih >= s.H || used <= 0) {
      zero_span<V>(dst, g.row_len);
      continue;
    }
    const T* src = plane + ih * s.W;
    prefetch_lines<3>(src, s.W * int64_t(sizeof(T)), kGatherAheadBytes);
    if (sw == 1) {
      zero_span<V>(dst, pl);
      copy_span<V>(dst + pl, src, used);
      zero_span<V>(dst + pl + used, g.row_len - pl - used);
    } else if (sw == 2) {
      // Input column 2i+e lands at padded column 2i+e+pl: its phase and index follow pl's parity.
      const int64_t a = pl / 2;
      T* even_dst = (pl % 2 == 0) ? dst + a : dst + g.phase_len + a;
      T* odd_dst = (pl % 2 == 0) ? dst + g.phase_len + a : dst + a + 1;
      // Only the padding around the copied columns is zeroed: the copy writes the rest.
      auto zero_around = [&](int64_t phase, int64_t at, int64_t count) {
        zero_span<V>(dst + phase * g.phase_len, at);
        zero_span<V>(dst + phase * g.phase_len + at + count, g.phase_len - at - count);
      };
      zero_around(pl % 2, a, (used + 1) / 2);
      zero_around(1 - pl % 2, a + pl % 2, used / 2);
      for (int64_t i = 0; 2 * i < used; i += V::width) {
        const int64_t left = used - 2 * i;  // input elements still to place
        typename V::reg lo, hi, e, o;
        if (left >= 2 * V::width) {
          lo = V::load(src + 2 * i);
          hi = V::load(src + 2 * i + V::width);
        } else {
          lo = V::load_n(src + 2 * i, int(min64(left, V::width)));
          hi = V::load_n(src + 2 * i + V::width, int(max64(left - V::width, 0)));
        }
        V::deinterleave2(lo, hi, e, o);
        store_outputs<V>(even_dst + i, e, (left + 1) / 2);
        store_outputs<V>(odd_dst + i, o, left / 2);
      }
    } else {
      zero_span<V>(dst, g.row_len);
      for (int64_t i = 0; i < used; ++i) {
        const int64_t p = i + pl;
        dst[(p % sw) * g.phase_len + p / sw] = src[i];
      }
    }
  }
}


// ---------------------------------------------------------------------------------
// NCHW forward: output rows [oh0, oh1) of one channel from its band of phase rows,
// in blocks of UR rows x UC vectors. The band holds zero rows past its end, so a
// block may compute rows it does not store.
//
// SH > 0 (K x K kernel, stride_h == SH, dilation_h == 1): the block walks the input
// rows it reads and feeds each loaded vector to every output row that uses it, so a
// load serves up to K FMAs. K > 0, SH == 0: taps unrolled, one load per FMA. K == 0:
// any kernel. Every variant sums an output's taps in (kh, kw) order.
template <class V, int K, int SH, int UR, int UC>
void forward_nchw_band(const DepthwiseShape& s, const PhaseRows& g,
                       const typename V::value_type* rows, int64_t oh0, int64_t oh1,
                       const typename V::value_type* w, typename V::value_type bias,
                       Activation act, typename V::value_type* y) {
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const R vbias = V::set1(bias);
  const int64_t row_step = s.stride_h * g.row_len;
  const int64_t kk = s.kh * s.kw;
  constexpr int KK = K * K;
  R wr[K > 0 ? KK : 1];
  int64_t off[K > 0 ? KK : 1];
  if constexpr (K > 0)
    for (int a = 0; a < K; ++a)
      for (int b = 0; b < K; ++b) {
        wr[a * K + b] = V::set1(w[a * K + b]);
        off[a * K + b] = tap_offset(s, g, a, b);  // for SH > 0 only row a = 0 is used: column offsets
      }
  for (int64_t oh = oh0; oh < oh1; oh += UR) {
    const auto* base = rows + (oh - oh0) * row_step;
    for (int64_t j0 = 0; j0 < s.Wo; j0 += UC * Wd) {
      R acc[UR][UC];
      for (int r = 0; r < UR; ++r)
        for (int u = 0; u < UC; ++u) acc[r][u] = V::zero();
      if constexpr (K > 0 && SH > 0) {
        constexpr int IR = (UR - 1) * SH + K;  // input rows the block reads
#pragma GCC unroll 16
        for (int i = 0; i < IR; ++i) {
          const auto* src = base + i * g.row_len + j0;
#pragma GCC unroll 8
          for (int b = 0; b < K; ++b) {
            R xv[UC];
            for (int u = 0; u < UC; ++u) xv[u] = V::load(src + off[b] + u * Wd);
#pragma GCC unroll 8
            for (int r = 0; r < UR; ++r) {
              const int a = i - r * SH;
              if (a >= 0 && a < K)
                for (int u = 0; u < UC; ++u) acc[r][u] = V::fma(wr[a * K + b], xv[u], acc[r][u]);
            }
          }
        }
      } else {
        auto tap = [&](R wv, const typename V::value_type* src) {
          for (int r = 0; r < UR; ++r)
            for (int u = 0; u < UC; ++u) acc[r][u] = V::fma(wv, V::load(src + r * row_step + u * Wd), acc[r][u]);
        };
        if constexpr (K > 0) {
          for (int t = 0; t < KK; ++t) tap(wr[t], base + off[t] + j0);
        } else {
          for (int64_t t = 0; t < kk; ++t) tap(V::set1(w[t]), base + tap_offset(s, g, t / s.kw, t % s.kw) + j0);
        }
      }
      for (int r = 0; r < UR && oh + r < oh1; ++r)
        for (int u = 0; u < UC; ++u)
          store_outputs<V>(y + (oh + r) * s.Wo + j0 + u * Wd, V::add(acc[r][u], vbias), s.Wo - j0 - u * Wd);
    }
    for (int r = 0; r < UR && oh + r < oh1; ++r) activate_span<V>(act, y + (oh + r) * s.Wo, s.Wo);
  }
}

template <class T>
using NchwBandFn = void (*)(const DepthwiseShape&, const PhaseRows&, const T*, int64_t, int64_t, const T*, T,
                            Activation, T*);

// The band kernel for this shape and its block (rows, vectors).
template <class V>
NchwBandFn<typename V::value_type> pick_nchw_band(const DepthwiseShape& s, int& block_rows, int& block_cols) {
  const int64_t vectors = ceil_div(s.Wo, V::width);
  const int K = (s.kh == s.kw && (s.kh == 3 || s.kh == 5)) ? int(s.kh) : 0;
  if (K && s.dilation_h == 1 && (s.stride_h == 1 || s.stride_h == 2)) {
    // 8 sums: 4 rows x 2 vectors, or 8 rows x 1 vector when a row fits one vector.
    const bool wide = vectors >= 2, s1 = s.stride_h == 1;
    block_rows = wide ? 4 : 8;
    block_cols = wide ? 2 : 1;
    if (K == 3) return wide ? (s1 ? forward_nchw_band<V, 3, 1, 4, 2> : forward_nchw_band<V, 3, 2, 4, 2>)
                            : (s1 ? forward_nchw_band<V, 3, 1, 8, 1> : forward_nchw_band<V, 3, 2, 8, 1>);
    return wide ? (s1 ? forward_nchw_band<V, 5, 1, 4, 2> : forward_nchw_band<V, 5, 2, 4, 2>)
                : (s1 ? forward_nchw_band<V, 5, 1, 8, 1> : forward_nchw_band<V, 5, 2, 8, 1>);
  }
  // kBlock accumulators: kBlock vectors of one row when rows are wide, else several rows.
  block_cols = vectors >= 4 ? 4 : vectors == 1 ? 1 : 2;
  block_rows = kBlock / block_cols;
  auto shaped = [&](auto k_tag) -> NchwBandFn<typename V::value_type> {
    constexpr int KT = decltype(k_tag)::value;
    return block_cols == 4 ? forward_nchw_band<V, KT, 0, 1, 4>
           : block_cols == 2 ? forward_nchw_band<V, KT, 0, 2, 2>
                             : forward_nchw_band<V, KT, 0, 4, 1>;
  };
  if (K == 3) return shaped(std::integral_constant<int, 3>{});
  if (K == 5) return shaped(std::integral_constant<int, 5>{});
  return shaped(std::integral_constant<int, 0>{});
}

// The band rule of bands.h for this layer's rows.
inline int64_t band_rows(const DepthwiseShape& s, int64_t row_len, int64_t budget, int64_t tasks, int threads,
                         int block_rows = 1) {
  return band_rows(s.Ho, (s.kh - 1) * s.dilation_h + 1, s.stride_h, row_len, budget, tasks, threads, block_rows);
}

template <class V>
void forward_nchw_interleaved(const DepthwiseShape& s, const typename V::value_type* x,
                              const typename V::value_type* w, const typename V::value_type* bias,
                              Activation act, typename V::value_type* y);

// Depthwise outputs of kStreamOutputBytes (spans.h) and more are streamed. On Zen 5
// (batch 8, interleaved with torch, input from memory), NHWC: C32 H112 k3 took
// 0.81-0.82x the time at AVX2 (12.8 MB out), 0.93x at AVX-512; at AVX-512 C96 H112 s2
// took 0.92-0.96x, C144 H56 k3 0.90x. Outputs of 3-4 MB gained 3-7% but are often still
// in cache when the next layer reads them.

// Output rows up to this wide (and 4 vectors) are interleaved. Wider rows fill the
// vectors of the row kernels well and the transposes only add to them: at 56 columns,
// 3.5 AVX-512 vectors, C144 H56 at batch 8 took 1.26 ms interleaved, 0.94 by rows
// (NHWC: 0.84; Zen 5); at 28 columns interleaving won at either level (C240 H28 k5:
// 0.54 ms against 0.71 at AVX-512, 0.72 against 0.92 at AVX2).
constexpr int64_t kInterleavedColumns = 32;

// NCHW: the row kernels' rows seldom start on a line, so a plane's rows are computed into
// per-thread scratch (planes up to this size) and copied out with streaming stores
// (kStreamOutputBytes), plain ones for the partial lines at the ends of a block's rows.
// Zen 5, batch 8, against plain stores: C32 H112 k3 0.73-0.77x the time at AVX-512,
// 0.78-0.82x at AVX2; C96 H112 s2 0.85-0.88x and 0.93-0.95x; C144 H56 k3 0.93x and
// 1.0-1.02x.
constexpr int64_t kStagedPlaneBytes = int64_t(256) << 10;

template <class V>
bool nchw_streams_output(const DepthwiseShape& s) {
  const int64_t plane_bytes = s.Ho * s.Wo * int64_t(sizeof(typename V::value_type));
  return V::streaming_stores && s.N * s.C * s.M * plane_bytes >= kStreamOutputBytes && plane_bytes <= kStagedPlaneBytes;
}

template <class V>
void forward_nchw(const DepthwiseShape& s, const typename V::value_type* x,
                  const typename V::value_type* w, const typename V::value_type* bias,
                  Activation act, typename V::value_type* y) {
  using T = typename V::value_type;
  if (V::width > 1 && s.M == 1 && s.Wo <= min64(kInterleavedColumns, 4 * V::width))
    return forward_nchw_interleaved<V>(s, x, w, bias, act, y);
  int block_rows = 1, cols = 1;
  const NchwBandFn<T> band = pick_nchw_band<V>(s, block_rows, cols);
  const PhaseRows g = phase_rows(s, int64_t(cols) * V::width);
  const int64_t planes = s.N * s.C, kk = s.kh * s.kw, CM = s.C * s.M;
  const int64_t rows_per_band = band_rows(s, g.row_len, kBandBudget, planes, num_threads(), block_rows);
  const int64_t bands = ceil_div(s.Ho, rows_per_band);
  const int threads = threads_for(planes * bands);
  ThreadScratch<T> scratch(padded_rows(s, rows_per_band) * g.row_len, threads);
  const bool stream = nchw_streams_output<V>(s);
  ThreadScratch<T> staged(stream ? s.Ho * s.Wo : 0, threads);
  parallel_for(planes * bands, threads, [&](int64_t task, int thread) {
    const int64_t plane = task / bands, oh0 = (task % bands) * rows_per_band;
    const int64_t oh1 = min64(s.Ho, oh0 + rows_per_band);
    const int64_t n = plane / s.C, c = plane % s.C;
    T* rows = scratch.get(thread);
    // The band's input rows are copied as its blocks of output rows come to need them, so
    // that reading the input (prefetched ahead by the copy) overlaps the compute of the
    // blocks before instead of preceding all of it.
    BandRowsCopied copied;
    auto copy = [&](int64_t first, int64_t count) {
      gather_phase_rows<V>(s, g, x + plane * s.H * s.W, oh0 * s.stride_h + first, count, rows + first * g.row_len);
    };
    for (int64_t m = 0; m < s.M; ++m) {
      const int64_t oc = c * s.M + m;
      T* y_plane = y + (n * CM + oc) * s.Ho * s.Wo;
      T* out = stream ? staged.get(thread) : y_plane;
      for (int64_t r0 = oh0; r0 < oh1; r0 += block_rows) {
        const int64_t r1 = min64(oh1, r0 + block_rows);
        copied.up_to(padded_rows(s, round_up(r1 - oh0, block_rows)), copy);
        band(s, g, rows + (r0 - oh0) * s.stride_h * g.row_len, r0, r1, w + oc * kk, bias ? bias[oc] : T(0), act,
             out);
        if (stream) copy_span_streaming<V>(y_plane + r0 * s.Wo, out + r0 * s.Wo, (r1 - r0) * s.Wo);
      }
    }
    if (stream) V::streaming_fence();
  });
}

// ---------------------------------------------------------------------------------
// NHWC forward. Each task copies the padded input rows of a band of output rows
// into zero-bordered scratch (one contiguous copy per row in NHWC), so that
// every output pixel, border or not, runs the same register-blocked loop: kBlock
// pixels x one vector of channels. Wide layers of small images at stride 2 are read
// in place (nhwc_reads_in_place), where the blocks at the border run the same loop on
// zeros read for the padding.
// V::width > 1 needs M == 1 (output channel = input channel); M > 1 runs on ScalarVec,
// where input channel = output channel / M.

// Input channel of output channel oc (oc itself whenever V::width > 1).
inline int64_t input_channel(const DepthwiseShape& s, int64_t oc) { return oc / s.M; }

// From this many channels on, NHWC rows copied into scratch run 4 channel vectors per
// block (rows read in place do from 4 vectors on: forward_nhwc_band).
constexpr int64_t kWideChannels = 256;

struct PaddedRows {
  int64_t pixels;        // padded columns a band reads, whole pixel blocks included
  int64_t pixel_stride;  // elements from one scratch pixel to the next (>= C)
  int64_t row_len;       // pixels * pixel_stride
};

// Wide pixels are padded to an odd number of 64-byte lines: a stride of an even
// number of lines (1152 channels: 72) maps a channel chunk's lines to a fraction of
// L1's sets (8 of 64), where they evict each other before their rows reuse them.
constexpr int64_t kOddStrideChannels = 128;

template <class T>
PaddedRows nhwc_padded_rows(const DepthwiseShape& s) {
  constexpr int64_t line = 64 / int64_t(sizeof(T));
  PaddedRows g;
  g.pixels = (round_up(s.Wo, kBlock) - 1) * s.stride_w + (s.kw - 1) * s.dilation_w + 1;
  g.pixel_stride = s.C;
  if (s.C >= kOddStrideChannels) {
    g.pixel_stride = round_up(s.C, line);
    if (g.pixel_stride / line % 2 == 0) g.pixel_stride += line;
  }
  g.row_len = g.pixels * g.pixel_stride;
  return g;
}

// Except on Intel's cores (below; these rules were measured on AMD's Zen 5 and Zen 4),
// NHWC layers at stride 2 with many channels and small images read the input in place,
// checking bounds in the blocks at the border, instead of copying it: at stride 2 an
// input pixel feeds a quarter of the outputs it feeds at stride 1, so the copy costs
// four times as much per FMA. Narrower layers read 64 bytes per pixel and channel chunk
// in place, which streams from memory worse than the copy: with the input cold (Zen 5,
// B0's layers at batch 8, interleaved with a 32 MB pass) in place was 7-45% slower for
// 96 to 240 channels (C240 H28: 0.43 ms against 0.30; torch 0.32), within 10% either
// way for 672; with the input in cache, as in a model, it gains 10-45%, which in
// EfficientNet-B0 comes to 0.15 ms of its 1.5 ms of depthwise layers at batch 1. Larger
// images and stride 1 lose in place either way (96 x 112x112: 30% slower in cache; 5x5
// at stride 1: 14-21%). Large batches lose too once the input is out of cache: C672 H14
// k5 from memory took 0.23 ms in place and 0.20 by copies at batch 8, 0.12 and 0.11 at
// batch 4, 0.063 and 0.069 at batch 2 (in cache in place won at every batch).
constexpr int64_t kInPlaceImageBytes = int64_t(1) << 20;
constexpr int64_t kInPlaceInputBytes = int64_t(2) << 20;

// The exception at stride 1: 3x3 layers with narrow pixels, at most 4 vectors and 128
// bytes of channels, that the in-place kernels (forward_nhwc_band) cover in one or two
// passes, reading each input line once per pass, with few FMAs per byte that the copy
// would move. On Zen 4 (EPYC, 1 MB L2 per core, batch 8, input from memory) in place
// took, against the copy, 0.73-0.83x for C32 H112 at AVX2 (1.10-1.23x torch
// channels_last against 0.88-0.96x), 0.74-1.03x for C16, C24 and C32 H56; at AVX-512
// 0.81-0.87x for C16 and C24, 0.96-1.0x for C32 H112, but 1.05-1.22x for C32 H56. Wider
// pixels lost at one level or the other: C48 at AVX-512 1.05-1.20x, C64 at AVX2 1.05-1.8x.
constexpr int64_t kInPlaceVectorsStride1 = 4;
constexpr int64_t kInPlacePixelBytesStride1 = 128;

// On Intel's cores the copy costs more, and in place wins far more widely: every layer at
// stride 2, and 3x3 layers at stride 1 whose output rows are this wide or wider (border
// blocks, which check bounds per load, are a small share of them). On a Xeon (5th gen,
// 2 MB L2 per core, B0's layers at batch 8 interleaved with torch) in place took, against
// the copy, 0.75x for C96 H112 s2, 0.8x for C144 H56 k3 s1, 0.85x for C32 H112 and
// 0.70-1.03x for the other stride-2 layers at AVX-512, 0.81-0.98x at AVX2; 5x5 layers at
// stride 1 took 1.1-1.4x (their bands are mostly border blocks), and so did 3x3 at
// stride 1 on 14 and 7 columns; on 20 to 40 columns AVX-512 gained 10%, AVX2 lost 10%.
constexpr int64_t kInPlaceColumnsIntel = 56;

template <class V>
bool nhwc_reads_in_place(const DepthwiseShape& s) {
  using T = typename V::value_type;
  if (cpu_vendor() == CpuVendor::intel)
    return s.stride_w == 2 || (s.stride_w == 1 && s.kh * s.kw <= 9 && s.Wo >= kInPlaceColumnsIntel);
  if (s.stride_w == 1)
    return s.kh * s.kw <= 9 && s.C * s.M <= kInPlaceVectorsStride1 * V::width &&
           s.C * s.M * int64_t(sizeof(T)) <= kInPlacePixelBytesStride1;
  const int64_t image_bytes = s.H * s.W * s.C * int64_t(sizeof(T));
  return s.stride_w == 2 && s.C >= kWideChannels && image_bytes <= kInPlaceImageBytes &&
         s.N * image_bytes <= kInPlaceInputBytes;
}

// Elements of a band that the kernels read in place per task (256 KB): the band stays
// in L2 while each channel chunk passes over its rows.
constexpr int64_t kInPlaceBandBudget = 65536;

// The input as the band kernels read it in place: the image itself (H, W, C).
PaddedRows nhwc_in_place(const DepthwiseShape& s) {
  PaddedRows g;
  g.pixels = s.W;
  g.pixel_stride = s.C;
  g.row_len = s.W * s.C;
  return g;
}

// Runs block(load) for the block of outputs at row oh, column ow, where load(r, c, off)
// reads the vector at element `off` of channel `channel`'s slice of input pixel
// (oh * stride_h - pad_top + r, ow * stride_w - pad_left + c). !InPlace: `rows` is the
// zero-padded band whose first row is output row oh0's. InPlace: `rows` is the image,
// whose bounds are checked only when the block's rows_read rows of span pixels reach
// past them.
template <class V, bool Full, bool InPlace, class Block>
void with_block_reader(const DepthwiseShape& s, const PaddedRows& g, const typename V::value_type* rows,
                       int64_t oh0, int64_t oh, int64_t ow, int64_t channel, int64_t rows_read, int64_t span,
                       int lanes, const Block& block) {
  const int64_t row_len = g.row_len, pixel_stride = g.pixel_stride;
  auto dense = [=](const typename V::value_type* px) {
    return [=](int64_t r, int64_t c, int64_t off) {
      return load_lanes<V, Full>(px + r * row_len + c * pixel_stride + off, lanes);
    };
  };
  if constexpr (!InPlace) {
    block(dense(rows + ((oh - oh0) * s.stride_h * g.pixels + ow * s.stride_w) * pixel_stride + channel));
  } else {
    const int64_t ih0 = oh * s.stride_h - s.pad_top, iw0 = ow * s.stride_w - s.pad_left, H = s.H, W = s.W;
    if (ih0 >= 0 && ih0 + rows_read <= H && iw0 >= 0 && iw0 + span <= W) {
      block(dense(rows + (ih0 * W + iw0) * pixel_stride + channel));
    } else {
      const auto* img = rows + channel;
      block([=](int64_t r, int64_t c, int64_t off) {
        const int64_t ih = ih0 + r, iw = iw0 + c;
        if (uint64_t(ih) >= uint64_t(H) || uint64_t(iw) >= uint64_t(W)) return V::zero();
        return load_lanes<V, Full>(img + ih * row_len + iw * pixel_stride + off, lanes);
      });
    }
  }
}

// Pixels [p0, p0 + pixels) of row `row` of channels [c0, c0 + count) of one image
// (planes of rows x cols pixels, NHWC or NCHW as `layout`) into dst, pixel_stride
// elements per pixel; NCHW is transposed a vector of channels by a vector of pixels
// at a time.
template <class V>
void copy_pixels_in(Layout layout, const typename V::value_type* img, int64_t C, int64_t rows, int64_t cols,
                    int64_t c0, int64_t count, int64_t row, int64_t p0, int64_t pixels, typename V::value_type* dst,
                    int64_t pixel_stride) {
  constexpr int Wd = V::width;
  if (layout == Layout::NHWC) {
    // The copy pulls the input kGatherAheadBytes ahead of what it reads into L1, one line
    // per line copied, so that its reads overlap the compute between the band's pieces.
    const auto* src = img + (row * cols + p0) * C + c0;
    if (count == C && pixel_stride == C) {
      constexpr int64_t line = 64 / int64_t(sizeof(typename V::value_type));
      const int64_t n = pixels * C;
      int64_t i = 0;
      for (; i + line <= n; i += line) {
        prefetch_lines<3>(src + i, 1, kGatherAheadBytes);
        copy_span<V>(dst + i, src + i, line);
      }
      return copy_span<V>(dst + i, src + i, n - i);
    }
    for (int64_t p = 0; p < pixels; ++p) {
      prefetch_lines<3>(src + p * C, count * int64_t(sizeof(typename V::value_type)), kGatherAheadBytes);
      copy_span<V>(dst + p * pixel_stride, src + p * C, count);
    }
    return;
  }
  for (int64_t cg = 0; cg < count; cg += Wd) {
    const int lanes = int(min64(Wd, count - cg));
    const auto* src = img + ((c0 + cg) * rows + row) * cols + p0;
    for (int64_t pg = 0; pg < pixels; pg += Wd) {
      const int n = int(min64(Wd, pixels - pg));
      typename V::reg v[Wd];
      for (int l = 0; l < Wd; ++l) v[l] = l < lanes ? V::load_n(src + l * rows * cols + pg, n) : V::zero();
      V::transpose(v);
      for (int j = 0; j < n; ++j) V::store_n(dst + (pg + j) * pixel_stride + cg, v[j], lanes);
    }
  }
}

// Padded rows [row0, row0 + rows) of channels [c0, c0 + count) of image `img` (either
// layout) into `dst` (geometry g, g.pixel_stride >= count), zero outside the image.
// pads_zero: `dst` holds the same band of another image, so its padding is zero already.
template <class V>
void gather_padded_block(const DepthwiseShape& s, const PaddedRows& g, const typename V::value_type* img, int64_t c0,
                         int64_t count, int64_t row0, int64_t rows, typename V::value_type* dst, bool pads_zero) {
  const int64_t used = max64(0, min64(s.W, g.pixels - s.pad_left));  // input columns read
  const int64_t left = min64(s.pad_left, g.pixels) * g.pixel_stride;
  for (int64_t r = 0; r < rows; ++r, dst += g.row_len) {
    const int64_t ih = row0 + r - s.pad_top;
    if (ih < 0 || ih >= s.H || used == 0) {
      if (!pads_zero) zero_span<V>(dst, g.row_len);
      continue;
    }
    if (!pads_zero) {
      zero_span<V>(dst, left);
      zero_span<V>(dst + left + used * g.pixel_stride, g.row_len - left - used * g.pixel_stride);
    }
    copy_pixels_in<V>(s.layout, img, s.C, s.H, s.W, c0, count, ih, 0, used, dst + left, g.pixel_stride);
  }
}

// NHWC output is written a channel chunk at a time, every pixel of the band per chunk, so
// consecutive stores land a pixel (C*M elements) apart, a stride that the hardware
// prefetchers leave to miss one store after another. Each block pulls in the lines the
// same pixels' outputs take this many bytes further on, for a later chunk to store into:
// on Zen 4 (batch 8, output from memory) B0's 5x5 layers at stride 1 took 0.74-0.88x as
// long at either level (C672 H14: 1.15 -> 0.93 ms at AVX-512), C144 H56 k3 0.86-0.88x;
// in cache 0.78-1.05x, but 1.11x for C1152 H7 k3 at AVX2, whose short blocks pay for
// the prefetches. 64 bytes, the next line, gained nothing at AVX-512; 512 and 1024 less
// than 128.
constexpr int64_t kOutputAheadBytes = 128;

// Output rows [oh0, oh1) of one image (y_img, the band starting at row oh0 of `rows`),
// output channels [oc0, oc0 + lanes), with the chunk's weights loaded once.
// SW > 0 (K x K kernel, stride_w == SW, dilation_w == 1): for each kernel row the block
// walks the input pixels it reads and feeds each loaded vector to every output pixel
// that uses it. Either way an output sums its taps in (kh, kw) order.
template <class V, int K, int SW, bool Full, bool InPlace>
void forward_nhwc_rows_channels(const DepthwiseShape& s, const PaddedRows& g,
                                const typename V::value_type* rows, int64_t oh0, int64_t oh1,
                                const typename V::value_type* wp, const typename V::value_type* bias,
                                typename V::value_type* y_img, int64_t oc0, int lanes, bool stream) {
  using R = typename V::reg;
  using T = typename V::value_type;
  constexpr int U = kBlock;
  // A vector a line: only then do streaming stores write whole lines.
  constexpr bool vector_is_line = Full && V::width * sizeof(T) == 64;
  stream = vector_is_line && stream;
  const int64_t KH = K ? K : s.kh, KW = K ? K : s.kw, CM = s.C * s.M;
  R wreg[K > 0 ? K * K : 1];
  if constexpr (K > 0)
    for (int t = 0; t < K * K; ++t) wreg[t] = load_lanes<V, Full>(wp + t * CM + oc0, lanes);
  const R vbias = bias ? load_lanes<V, Full>(bias + oc0, lanes) : V::zero();
  const int64_t dh = s.dilation_h, dw = s.dilation_w, sw = s.stride_w;
  const int64_t rows_read = (KH - 1) * dh + 1, span = (U - 1) * sw + (KW - 1) * dw + 1;
  const int64_t ic = input_channel(s, oc0);
  const bool pull_ahead = !stream && oc0 + kOutputAheadBytes / int64_t(sizeof(T)) < CM;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    auto* yrow = y_img + oh * s.Wo * CM;
    for (int64_t ow = 0; ow < s.Wo; ow += U) {
      R acc[U];
      for (int u = 0; u < U; ++u) acc[u] = V::zero();
      with_block_reader<V, Full, InPlace>(s, g, rows, oh0, oh, ow, ic, rows_read, span, lanes, [&](const auto& load) {
        if constexpr (K > 0 && SW > 0) {
          constexpr int P = (U - 1) * SW + K;  // input pixels one kernel row of the block reads
#pragma GCC unroll 8
          for (int a = 0; a < K; ++a) {
#pragma GCC unroll 16
            for (int p = 0; p < P; ++p) {
              const R xv = load(a * dh, p, 0);
#pragma GCC unroll 4
              for (int u = 0; u < U; ++u) {
                const int b = p - u * SW;
                if (b >= 0 && b < K) acc[u] = V::fma(wreg[a * K + b], xv, acc[u]);
              }
            }
          }
        } else {
          for (int64_t a = 0; a < KH; ++a)
            for (int64_t b = 0; b < KW; ++b) {
              R wv;
              if constexpr (K > 0) wv = wreg[a * K + b];
              else wv = load_lanes<V, Full>(wp + (a * KW + b) * CM + oc0, lanes);
              for (int u = 0; u < U; ++u) acc[u] = V::fma(wv, load(a * dh, u * sw + b * dw, 0), acc[u]);
            }
        }
      });
      if (pull_ahead)
        for (int u = 0; u < U && ow + u < s.Wo; ++u) prefetch_lines<3>(yrow + (ow + u) * CM + oc0, 1, kOutputAheadBytes);
      for (int u = 0; u < U && ow + u < s.Wo; ++u) {
        auto* out = yrow + (ow + u) * CM + oc0;
        if constexpr (Full) store_vector<V>(out, V::add(acc[u], vbias), stream);
        else V::store_n(out, V::add(acc[u], vbias), lanes);
      }
    }
  }
}

// Output row `oh`, pixels [ow_begin, ow_end) (a multiple of UP of them), output channels
// [oc0, oc0 + 4 vectors): forward_nhwc_row_wide's blocks of one width.
template <class V, bool InPlace, int UP>
void nhwc_wide_blocks(const DepthwiseShape& s, const PaddedRows& g, const typename V::value_type* rows,
                      int64_t oh, int64_t oh0, const typename V::value_type* wp, const typename V::reg* vbias,
                      typename V::value_type* yrow, int64_t oc0, int64_t ow_begin, int64_t ow_end, bool stream,
                      bool pull_ahead) {
  using R = typename V::reg;
  constexpr int UC = 4, Wd = V::width;
  const int64_t CM = s.C * s.M;
  const int64_t dh = s.dilation_h, dw = s.dilation_w, sw = s.stride_w;
  const int64_t rows_read = (s.kh - 1) * dh + 1, span = (UP - 1) * sw + (s.kw - 1) * dw + 1;
  const int64_t block_bytes = UC * Wd * int64_t(sizeof(typename V::value_type));
  for (int64_t ow = ow_begin; ow < ow_end; ow += UP) {
    R acc[UP][UC];
    for (int p = 0; p < UP; ++p)
      for (int c = 0; c < UC; ++c) acc[p][c] = V::zero();
    with_block_reader<V, true, InPlace>(s, g, rows, oh0, oh, ow, oc0, rows_read, span, Wd, [&](const auto& load) {
      for (int64_t a = 0; a < s.kh; ++a)
        for (int64_t b = 0; b < s.kw; ++b) {
          const auto* wt = wp + (a * s.kw + b) * CM + oc0;
          for (int c = 0; c < UC; ++c) {
            const R wv = V::load(wt + c * Wd);
            for (int p = 0; p < UP; ++p) acc[p][c] = V::fma(wv, load(a * dh, p * sw + b * dw, c * Wd), acc[p][c]);
          }
        }
    });
    if (pull_ahead)
      for (int p = 0; p < UP; ++p) prefetch_lines<3>(yrow + (ow + p) * CM + oc0, block_bytes, block_bytes);
    for (int p = 0; p < UP; ++p)
      for (int c = 0; c < UC; ++c) store_vector<V>(yrow + (ow + p) * CM + oc0 + c * Wd, V::add(acc[p][c], vbias[c]), stream);
  }
}

// Output rows [oh0, oh1) of one image, output channels [oc0, oc0 + 2 vectors) that make
// one 64-byte line (runs_lines): K x K at stride SW, blocks of kBlock pixels x 2
// vectors, each weight loaded as its FMA needs it, each output line stored whole (and
// streamed where `stream`). An output sums its taps in (kh, kw) order, as in
// forward_nhwc_rows_channels.
template <class V, int K, int SW, bool InPlace>
void forward_nhwc_rows_line(const DepthwiseShape& s, const PaddedRows& g, const typename V::value_type* rows,
                            int64_t oh0, int64_t oh1, const typename V::value_type* wp,
                            const typename V::value_type* bias, typename V::value_type* y_img, int64_t oc0,
                            bool stream) {
  using R = typename V::reg;
  constexpr int U = kBlock, Wd = V::width, P = (U - 1) * SW + K;
  const int64_t CM = s.C * s.M, dh = s.dilation_h;
  R vbias[2];
  for (int c = 0; c < 2; ++c) vbias[c] = bias ? V::load(bias + oc0 + c * Wd) : V::zero();
  const bool pull_ahead = !stream && oc0 + 2 * Wd < CM;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    auto* yrow = y_img + oh * s.Wo * CM;
    for (int64_t ow = 0; ow < s.Wo; ow += U) {
      R acc[U][2];
      for (int u = 0; u < U; ++u) acc[u][0] = acc[u][1] = V::zero();
      with_block_reader<V, true, InPlace>(s, g, rows, oh0, oh, ow, oc0, (K - 1) * dh + 1, P, Wd, [&](const auto& load) {
#pragma GCC unroll 8
        for (int a = 0; a < K; ++a) {
#pragma GCC unroll 16
          for (int p = 0; p < P; ++p) {
            const R x0 = load(a * dh, p, 0), x1 = load(a * dh, p, Wd);
#pragma GCC unroll 4
            for (int u = 0; u < U; ++u) {
              const int b = p - u * SW;
              if (b >= 0 && b < K) {
                const auto* wt = wp + (a * K + b) * CM + oc0;
                acc[u][0] = V::fma(V::load(wt), x0, acc[u][0]);
                acc[u][1] = V::fma(V::load(wt + Wd), x1, acc[u][1]);
              }
            }
          }
        }
      });
      if (pull_ahead)
        for (int u = 0; u < U && ow + u < s.Wo; ++u) prefetch_lines<3>(yrow + (ow + u) * CM + oc0, 1, kOutputAheadBytes);
      for (int u = 0; u < U && ow + u < s.Wo; ++u)
        for (int c = 0; c < 2; ++c) store_vector<V>(yrow + (ow + u) * CM + oc0 + c * Wd, V::add(acc[u][c], vbias[c]), stream);
    }
  }
}

// Whether the band kernels run K x K at stride SW a line of channels at a time
// (forward_nhwc_rows_line) instead of one vector: where a vector is half a line (AVX2),
// whose one-vector blocks store half lines and cannot stream, and spill 5x5's 25
// weights from its 16 registers anyway; except 3x3 at stride 1 unstreamed, where those
// blocks keep their 9 weights in registers and win (C1152 H7: lines took 1.05-1.14x the
// time). Zen 5, batch 8, AVX2, against one vector: 5x5 at stride 1 C1152 H7 0.85-0.92x,
// C480 H14 0.88-0.92x, C672 H14 0.82-0.92x, C240 H28 0.87-0.90x; C144 H56 k3 s1
// (streamed) 0.87-0.91x, C96 H112 k3 s2 (streamed) 0.80-0.91x, C96 H56 k3 s2 0.87-0.96x,
// C240 H28 k3 s2 0.90-0.99x, C144 H56 k5 s2 0.87-0.90x on one thread, within 4% on two.
template <class V, int K, int SW>
constexpr bool runs_lines(bool stream) {
  return K > 0 && (SW == 1 || SW == 2) && 2 * V::width * sizeof(typename V::value_type) == 64 &&
         (stream || K != 3 || SW != 1);
}

// The band kernel's template arguments for a layer (pick_nhwc_band): K, 3 or 5 for those
// square kernels, 0 for any other; SW, the stride (1 or 2) that blocks sharing their
// loads walk, 0 where they do not (dilated columns, other strides, K == 0).
struct NhwcBandKind {
  int K, SW;
};

inline NhwcBandKind nhwc_band_kind(const DepthwiseShape& s) {
  const int K = (s.kh == 3 && s.kw == 3) ? 3 : (s.kh == 5 && s.kw == 5) ? 5 : 0;
  const bool shared = K > 0 && s.dilation_w == 1 && (s.stride_w == 1 || s.stride_w == 2);
  return {K, shared ? int(s.stride_w) : 0};
}

// runs_lines for pick_nhwc_band's kernel for s, unstreamed.
template <class V>
bool nhwc_band_runs_lines(const DepthwiseShape& s) {
  const NhwcBandKind k = nhwc_band_kind(s);
  if (k.SW == 0) return false;
  return k.K == 3 ? (k.SW == 1 ? runs_lines<V, 3, 1>(false) : runs_lines<V, 3, 2>(false))
                  : (k.SW == 1 ? runs_lines<V, 5, 1>(false) : runs_lines<V, 5, 2>(false));
}

// Pixels per block of the wide kernel: 3 x 4 vectors of sums (12 of AVX2's 16 registers)
// from the zero-bordered copy, whose loads never check bounds. Zen 5, batch 8, against
// 2 pixels: AVX-512 C672 H14 k5 s2 0.132 ms against 0.140, C1152 H7 k3 0.084 against
// 0.090, C480 H14 k3 0.123 against 0.131; AVX2 C672 H14 k5 s2 0.194 against 0.201. Read
// in place, 3 pixels' span reaches the image border in more blocks, whose loads check
// bounds: AVX2 C1152 H7 k3 took 0.155 ms against 0.120, C480 H14 k3 0.207 against 0.176.
template <bool InPlace>
constexpr int wide_block_pixels() { return InPlace ? 2 : 3; }

// Output row `oh`, output channels [oc0, oc0 + 4 vectors): blocks of UP pixels x 4
// channel vectors, weights loaded per tap, a row's last pixels in blocks of 2 and 1. For
// many channels this reads 256 contiguous bytes per pixel where the one-vector kernel
// reads 64 at a wide stride.
template <class V, bool InPlace, int UP = wide_block_pixels<InPlace>()>
void forward_nhwc_row_wide(const DepthwiseShape& s, const PaddedRows& g, const typename V::value_type* rows,
                           int64_t oh, int64_t oh0, const typename V::value_type* wp,
                           const typename V::value_type* bias, typename V::value_type* yrow, int64_t oc0,
                           bool stream) {
  using R = typename V::reg;
  constexpr int UC = 4, Wd = V::width;
  const int64_t CM = s.C * s.M;
  R vbias[UC];
  for (int c = 0; c < UC; ++c) vbias[c] = bias ? V::load(bias + oc0 + c * Wd) : V::zero();
  // The next block of channels' output lines, as in forward_nhwc_rows_channels (Zen 4,
  // output from memory: at AVX-512, 256 bytes on, C1152 H7 k3 0.85x, C480 H14 k3 0.89x,
  // C672 H14 k5 s2 0.93x, within 3% in cache; at AVX2, 128 bytes on, C672 H14 k5 s2
  // 0.92-1.0x).
  const bool pull_ahead = !stream && oc0 + UC * Wd < CM;
  int64_t full = s.Wo / UP * UP;
  nhwc_wide_blocks<V, InPlace, UP>(s, g, rows, oh, oh0, wp, vbias, yrow, oc0, 0, full, stream, pull_ahead);
  if constexpr (UP > 2)
    if (s.Wo - full >= 2) {
      nhwc_wide_blocks<V, InPlace, 2>(s, g, rows, oh, oh0, wp, vbias, yrow, oc0, full, full + 2, stream, pull_ahead);
      full += 2;
    }
  nhwc_wide_blocks<V, InPlace, 1>(s, g, rows, oh, oh0, wp, vbias, yrow, oc0, full, s.Wo, stream, pull_ahead);
}

// Output rows [oh0, oh1) of one image (y_img), one channel chunk at a time for all those
// rows: the chunk's slice of the band stays in L1 while every output row that reads it
// is computed, instead of coming back from L2 once per row.
template <class V, int K, int SW, bool InPlace>
void forward_nhwc_band(const DepthwiseShape& s, const PaddedRows& g, const typename V::value_type* rows,
                       int64_t oh0, int64_t oh1, const typename V::value_type* wp,
                       const typename V::value_type* bias, Activation act, typename V::value_type* y_img,
                       bool stream) {
  const int64_t CM = s.C * s.M, row_elems = s.Wo * CM;
  // At stride 1 each loaded pixel feeds up to K outputs, which beats 4 vectors per block
  // for 5x5 at any width, and for 3x3 with vectors narrower than 16 lanes, where the
  // FMAs, not the strided reads, take the time (AVX2, C480 H14 at batch 8: 0.114 ms
  // against 0.144 in cache, 0.217 against 0.225 from memory; AVX-512 reads 64 bytes per
  // pixel and vector, and took 0.196 against 0.160 from memory). Elsewhere wide layers
  // take the 4-vector blocks. Read in place, so does every layer with 4 vectors of
  // channels, 3x3 at stride 1 included: 4 vectors of a pixel's channels stream from
  // memory better than one vector of them per pass (Xeon, batch 8, input from memory:
  // C96 H112 s2 3.2 -> 2.8 ms, C240 H28 s2 0.81 -> 0.52 at AVX-512; in cache 1.74 ->
  // 1.50 and 0.29 -> 0.24; at AVX2, C32 H112 k3 s1 2.58 -> 2.02 from memory, 1.93 ->
  // 1.48 in cache, C64 H80 2.97 -> 2.33; C144 H56 within 5% either way).
  constexpr bool shares_most = SW == 1 && (K == 5 || (K == 3 && V::width < 16 && !InPlace));
  int64_t oc0 = 0;
  if (V::width > 1 && !shares_most && CM >= (InPlace ? 4 * V::width : kWideChannels))
    for (; oc0 + 4 * V::width <= CM; oc0 += 4 * V::width)
      for (int64_t oh = oh0; oh < oh1; ++oh)
        forward_nhwc_row_wide<V, InPlace>(s, g, rows, oh, oh0, wp, bias, y_img + oh * row_elems, oc0, stream);
  if constexpr (runs_lines<V, K, SW>(true))
    if (runs_lines<V, K, SW>(stream))
      for (; oc0 + 2 * V::width <= CM; oc0 += 2 * V::width)
        forward_nhwc_rows_line<V, K, SW, InPlace>(s, g, rows, oh0, oh1, wp, bias, y_img, oc0, stream);
  for (; oc0 + V::width <= CM; oc0 += V::width)
    forward_nhwc_rows_channels<V, K, SW, true, InPlace>(s, g, rows, oh0, oh1, wp, bias, y_img, oc0, V::width, stream);
  if (oc0 < CM)
    forward_nhwc_rows_channels<V, K, SW, false, InPlace>(s, g, rows, oh0, oh1, wp, bias, y_img, oc0, int(CM - oc0),
                                                         stream);
  activate_span<V>(act, y_img + oh0 * row_elems, (oh1 - oh0) * row_elems);
  if (stream) V::streaming_fence();
}

// weight (C*M, kh*kw) -> (kh*kw, C*M).
template <class V>
void pack_weights_tap_major(const DepthwiseShape& s, const typename V::value_type* w, typename V::value_type* wp) {
  const int64_t CM = s.C * s.M;
  transpose_into<V>(w, CM, s.kh * s.kw, wp, CM);
}

template <class T>
using NhwcBandFn = void (*)(const DepthwiseShape&, const PaddedRows&, const T*, int64_t, int64_t, const T*,
                           const T*, Activation, T*, bool);

template <class V, bool InPlace>
NhwcBandFn<typename V::value_type> pick_nhwc_band(const DepthwiseShape& s) {
  const NhwcBandKind k = nhwc_band_kind(s);
  if (k.K == 3)
    return k.SW == 0 ? forward_nhwc_band<V, 3, 0, InPlace>
           : k.SW == 1 ? forward_nhwc_band<V, 3, 1, InPlace>
                       : forward_nhwc_band<V, 3, 2, InPlace>;
  if (k.K == 5)
    return k.SW == 0 ? forward_nhwc_band<V, 5, 0, InPlace>
           : k.SW == 1 ? forward_nhwc_band<V, 5, 1, InPlace>
                       : forward_nhwc_band<V, 5, 2, InPlace>;
  return forward_nhwc_band<V, 0, 0, InPlace>;
}

// Elements of NHWC band scratch per thread (1 MB): bands need not fit in L2, since the
// kernels work through them a piece at a time, and taller bands copy fewer halo rows
// twice (5x5, 14 rows: 18 rows copied instead of 27).
constexpr int64_t kNhwcBandBudget = 262144;

// Output rows per piece of an NHWC band. A band is copied a piece at a time, each piece
// computed (every channel chunk over its rows) right after its rows arrive, so that a
// thread's copying (prefetched ahead) overlaps its computing, and the piece's rows are
// still in L2 when the chunks pass over them. Whole bands at a time, the copy and the
// compute added up (C96 H112 s2 at batch 8, from memory: 0.80 + 0.37 ms for 1.13), and
// B0's layers took 6-9% longer in all (Zen 5, either level). On Intel's cores, whose
// copies from L3 cost more, pieces of half that overlap them better (Xeon, batch 8,
// input from memory: C672 H14 k5 1.49 -> 1.15 ms at AVX-512, 1.81 -> 1.50 at AVX2;
// C480 H14 k5 0.95 -> 0.75, C480 H14 k3 0.60 -> 0.52; in cache within 8% either way).
inline int64_t nhwc_piece_rows() { return cpu_vendor() == CpuVendor::intel ? 4 : 8; }

// Elements of interleaved input band per thread (256 KB): with its output band, the
// task's working set stays in L2.
constexpr int64_t kInterleavedBandBudget = 65536;

// NHWC: streaming stores (kStreamOutputBytes) straight from the kernels' registers, never
// with an activation, which the band kernels apply by reading the output back. AVX2's
// one-vector blocks (any kernel size, dilation, strides past 2) write half lines, and
// keep plain stores.
template <class V>
bool nhwc_streams_output(const DepthwiseShape& s, Activation act, const typename V::value_type* y) {
  const int64_t pixel_bytes = s.C * s.M * int64_t(sizeof(typename V::value_type));
  return V::streaming_stores && act == Activation::none && s.N * s.Ho * s.Wo * pixel_bytes >= kStreamOutputBytes &&
         pixel_bytes % 64 == 0 && reinterpret_cast<uintptr_t>(y) % 64 == 0;
}

template <class V>
void forward_nhwc(const DepthwiseShape& s, const typename V::value_type* x,
                  const typename V::value_type* w, const typename V::value_type* bias,
                  Activation act, typename V::value_type* y) {
  using T = typename V::value_type;
  if (V::width > 1 && s.M > 1) return forward_nhwc<ScalarVec<T>>(s, x, w, bias, act, y);
  const int64_t CM = s.C * s.M;
  ThreadScratch<T> packed(s.kh * s.kw * CM, 1);
  pack_weights_tap_major<V>(s, w, packed.get(0));
  const T* wp = packed.get(0);

  const bool in_place = nhwc_reads_in_place<V>(s);
  const NhwcBandFn<T> band_fn = in_place ? pick_nhwc_band<V, true>(s) : pick_nhwc_band<V, false>(s);
  const PaddedRows g = in_place ? nhwc_in_place(s) : nhwc_padded_rows<T>(s);
  const int64_t budget = in_place ? kInPlaceBandBudget : kNhwcBandBudget;
  const int64_t rows_per_band = band_rows(s, g.row_len, budget, s.N, num_threads());
  const int64_t bands = ceil_div(s.Ho, rows_per_band);
  const int threads = threads_for(s.N * bands);
  const bool stream = nhwc_streams_output<V>(s, act, y);
  if (in_place) {
    parallel_for(s.N * bands, threads, [&](int64_t task, int) {
      const int64_t n = task / bands, oh0 = (task % bands) * rows_per_band;
      band_fn(s, g, x + n * s.H * s.W * s.C, oh0, min64(s.Ho, oh0 + rows_per_band), wp, bias, act,
              y + n * s.Ho * s.Wo * CM, stream);
    });
    return;
  }
  const int64_t piece_rows = nhwc_piece_rows();
  ThreadScratch<T> scratch(padded_rows(s, rows_per_band) * g.row_len, threads);
  std::vector<PerThread<int64_t>> band_in_scratch(threads, {-1});  // first output row of each thread's last band
  parallel_for(s.N * bands, threads, [&](int64_t task, int thread) {
    const int64_t n = task / bands, oh0 = (task % bands) * rows_per_band;
    const int64_t oh1 = min64(s.Ho, oh0 + rows_per_band);
    T* rows = scratch.get(thread);
    const bool pads_zero = band_in_scratch[thread].value == oh0;
    band_in_scratch[thread].value = oh0;
    BandRowsCopied copied;
    auto copy = [&](int64_t first, int64_t count) {
      gather_padded_block<V>(s, g, x + n * s.H * s.W * s.C, 0, s.C, oh0 * s.stride_h + first, count,
                             rows + first * g.row_len, pads_zero);
    };
    for (int64_t r0 = oh0; r0 < oh1; r0 += piece_rows) {
      const int64_t r1 = min64(oh1, r0 + piece_rows);
      copied.up_to(padded_rows(s, r1 - oh0), copy);
      band_fn(s, g, rows + (r0 - oh0) * s.stride_h * g.row_len, r0, r1, wp, bias, act, y + n * s.Ho * s.Wo * CM,
              stream);
    }
  });
}

// Groups of planes up to this size are prefetched as one span (forward_nchw_interleaved).
constexpr int64_t kOneSpanPrefetchBytes = 8192;

// Narrow NCHW planes (kInterleavedColumns): GV vectors of channels at a time
// (forward_nchw_interleaved picks GV) are interleaved, a band of rows at a time, into
// NHWC scratch, run through the NHWC kernel with every lane busy, and written back to
// their planes. Narrow rows would leave lanes idle in the row kernels (7 of 16), and
// the transposes cost less than the phase-split copy a strided row kernel needs. Same
// per-output sums.
template <class V, int GV>
void forward_nchw_interleaved_by(const DepthwiseShape& s, const typename V::value_type* x,
                                 const typename V::value_type* w, const typename V::value_type* bias,
                                 Activation act, typename V::value_type* y) {
  using T = typename V::value_type;
  constexpr int Wd = V::width, Gd = GV * Wd;
  DepthwiseShape group = s;  // one channel group of one image, as an NHWC layer
  group.N = 1;
  group.C = Gd;
  group.layout = Layout::NHWC;
  const NhwcBandFn<T> band_fn = pick_nhwc_band<V, false>(group);
  const PaddedRows g = nhwc_padded_rows<T>(group);
  const int64_t kk = s.kh * s.kw, plane = s.H * s.W, out_plane = s.Ho * s.Wo;
  const int64_t used = max64(0, min64(s.W, g.pixels - s.pad_left));  // input columns read
  const int64_t groups = ceil_div(s.C, Gd);
  const int64_t rows_per_band = band_rows(group, g.row_len, kInterleavedBandBudget, s.N * groups, num_threads());
  const int64_t bands = ceil_div(s.Ho, rows_per_band), tasks = s.N * groups * bands;
  const int64_t in_len = padded_rows(s, rows_per_band) * g.row_len, out_len = rows_per_band * s.Wo * Gd;
  const int threads = threads_for(tasks);
  ThreadScratch<T> scratch(in_len + out_len, threads);
  // Each group's (kh*kw, Gd) weights, then its Gd biases, packed once for all its tasks;
  // lanes past the last channel compute zeros, never garbage.
  ThreadScratch<T> packed(groups * (kk + 1) * Gd, 1);
  parallel_for(groups, threads_for(groups), [&](int64_t gi, int) {
    const int64_t c0 = gi * Gd;
    const int lanes = int(min64(Gd, s.C - c0));
    T* wp = packed.get(0) + gi * (kk + 1) * Gd;
    T* bp = wp + kk * Gd;
    zero_span<V>(wp, (kk + 1) * Gd);
    transpose_into<V>(w + c0 * kk, lanes, kk, wp, Gd);
    // Not a loop the compiler may turn into a masked load: one from a null bias, fully
    // masked, still costs a microcode assist on AMD cores (13% of C1152 H7's time).
    if (bias) copy_span<V>(bp, bias + c0, lanes);
  });
  std::vector<PerThread<int64_t>> band_in_scratch(threads, {-1});  // first output row of each thread's last band
  // Task t's first plane (image * C + channel), in the input and in the output.
  auto first_plane = [&](int64_t t) { return t / (groups * bands) * s.C + t / bands % groups * Gd; };
  parallel_for(tasks, threads, [&](int64_t task, int thread) {
    const int64_t c0 = task / bands % groups * Gd;
    const int64_t oh0 = task % bands * rows_per_band, oh1 = min64(s.Ho, oh0 + rows_per_band);
    const bool pads_zero = band_in_scratch[thread].value == oh0;  // the same band's padding, zeroed before
    band_in_scratch[thread].value = oh0;
    const int lanes = int(min64(Gd, s.C - c0));
    T* in = scratch.get(thread);
    T* out = in + in_len;
    const T* wp = packed.get(0) + c0 / Gd * (kk + 1) * Gd;
    const T* bp = wp + kk * Gd;
    // A group reads and writes Gd planes at once, more streams than the hardware
    // prefetchers follow: while this task transposes a row of its planes, the same row
    // of the next task's planes (this thread's next, as parallel_for splits statically)
    // is pulled into L2. C672 H14 k5 s2 at batch 8: 0.60 ms without, 0.26 with (Zen 5).
    // Where a band is the whole plane and the group's planes take at most 8 KB, they are
    // one span of the input (and of the output), pulled in a share per row: a line or two
    // at a time, where a prefetch per plane row cost C1152 H7 k5 a fifth of its time in
    // cache (AVX2). From memory that was 6-10% faster for 7x7 at either level and 14x14
    // at AVX2, 5-25% slower for 14x14 at AVX-512 (12.5 KB).
    const bool has_next = task + 1 < tasks;
    const bool one_span = bands == 1 && Gd * plane * int64_t(sizeof(T)) <= kOneSpanPrefetchBytes;
    const int64_t next_c0 = (task + 1) / bands % groups * Gd, next_oh0 = (task + 1) % bands * rows_per_band;
    const int next_lanes = has_next ? int(min64(Gd, s.C - next_c0)) : 0;
    const T* next_planes = has_next ? x + first_plane(task + 1) * plane : x;
    // Input: each padded row of the band gets its zero border (unless it has it), and its
    // pixels Wd at a time: the same Wd columns of the group's planes, transposed into Wd
    // pixel vectors.
    const T* planes = x + first_plane(task) * plane;
    const int64_t right = g.row_len - (s.pad_left + used) * g.pixel_stride;
    const int64_t in_rows = padded_rows(s, oh1 - oh0);
    for (int64_t r = 0; r < in_rows; ++r) {
      const int64_t next_ih = next_oh0 * s.stride_h + r - s.pad_top;
      if (one_span)
        prefetch_share<2>(next_planes, next_lanes * plane * int64_t(sizeof(T)), r, in_rows);
      else if (uint64_t(next_ih) < uint64_t(s.H))
        for (int l = 0; l < next_lanes; ++l) prefetch_lines<2>(next_planes + l * plane + next_ih * s.W, s.W * int64_t(sizeof(T)));
      T* dst = in + r * g.row_len;
      const int64_t ih = oh0 * s.stride_h + r - s.pad_top;
      if (ih < 0 || ih >= s.H || used == 0) {
        if (!pads_zero) zero_span<V>(dst, g.row_len);
        continue;
      }
      if (!pads_zero) {
        zero_span<V>(dst, s.pad_left * g.pixel_stride);
        zero_span<V>(dst + (s.pad_left + used) * g.pixel_stride, right);
      }
      for (int64_t iw0 = 0; iw0 < used; iw0 += Wd) {
        const int count = int(min64(Wd, used - iw0));
        for (int v0 = 0; v0 < Gd; v0 += Wd) {
          typename V::reg v[Wd];
          for (int l = 0; l < Wd; ++l)
            v[l] = v0 + l < lanes ? V::load_n(planes + (v0 + l) * plane + ih * s.W + iw0, count) : V::zero();
          V::transpose(v);
          for (int j = 0; j < count; ++j) V::store(dst + (s.pad_left + iw0 + j) * g.pixel_stride + v0, v[j]);
        }
      }
    }
    band_fn(group, g, in, 0, oh1 - oh0, wp, bp, act, out, false);
    // Output: back from pixel vectors to the band's rows of the group's planes (one
    // contiguous span of each plane), Wd pixels at a time. The lines the next task will
    // write are pulled in meanwhile, so that its stores do not wait on them.
    T* yplanes = y + first_plane(task) * out_plane + oh0 * s.Wo;
    const T* next_yplanes = has_next ? y + first_plane(task + 1) * out_plane + next_oh0 * s.Wo : y;
    const int64_t span = (oh1 - oh0) * s.Wo;
    const int64_t next_span = has_next ? (min64(s.Ho, next_oh0 + rows_per_band) - next_oh0) * s.Wo : 0;
    for (int64_t p0 = 0; p0 < span; p0 += Wd) {
      const int count = int(min64(Wd, span - p0));
      if (one_span)
        prefetch_share<2>(next_yplanes, next_lanes * out_plane * int64_t(sizeof(T)), p0 / Wd, ceil_div(span, Wd));
      else if (p0 < next_span)
        for (int l = 0; l < next_lanes; ++l)
          prefetch_lines<2>(next_yplanes + l * out_plane + p0, min64(Wd, next_span - p0) * int64_t(sizeof(T)));
      for (int v0 = 0; v0 < lanes; v0 += Wd) {
        typename V::reg r[Wd];
        for (int j = 0; j < Wd; ++j) r[j] = j < count ? V::load(out + (p0 + j) * Gd + v0) : V::zero();
        V::transpose(r);
        for (int l = 0; l < Wd && v0 + l < lanes; ++l) V::store_n(yplanes + (v0 + l) * out_plane + p0, r[l], count);
      }
    }
  });
}

// Groups of two vectors of planes where the NHWC kernel runs lines at stride 1 (5x5 at
// AVX2): one thread, batch 8, against one vector, C1152 H7 took 0.78-0.92x the time,
// C240 H28 0.97x, C480 and C672 H14 within 3%. At stride 2 they lost (C672 H14 k5 s2
// 1.25x, C240 H28 k3 s2 1.18x), though NHWC layers gain from lines there.
template <class V>
void forward_nchw_interleaved(const DepthwiseShape& s, const typename V::value_type* x,
                              const typename V::value_type* w, const typename V::value_type* bias,
                              Activation act, typename V::value_type* y) {
  if (s.stride_w == 1 && nhwc_band_runs_lines<V>(s)) return forward_nchw_interleaved_by<V, 2>(s, x, w, bias, act, y);
  forward_nchw_interleaved_by<V, 1>(s, x, w, bias, act, y);
}

// Taps (kh range, and kw range for one output column) that fall inside the input.
inline void valid_range(int64_t start, int64_t extent, int64_t k, int64_t dilation, int64_t& lo,
                        int64_t& hi) {
  // start + i * dilation in [0, extent)  <=>  i in [lo, hi)
  // ceil(-start / dilation) without the sum ceil_div forms: -start and dilation may
  // both be near 2**62.
  lo = start >= 0 ? 0 : -start / dilation + (-start % dilation != 0);
  hi = extent - 1 - start < 0 ? 0 : min64(k, (extent - 1 - start) / dilation + 1);
  if (hi < lo) hi = lo;
}

// ---------------------------------------------------------------------------------
// Direct kernels for spread-out geometry: padding or dilation far beyond the input, where
// the kernels above would copy, scatter into or walk mostly padding. Each output visits
// only the taps inside the input, so neither the work nor any buffer grows with the
// padding, and no index leaves the padded extent, which the bindings checked to fit
// int64. Sums run in the same order as above; a skipped tap would have added w * 0.

// Whether the band kernels above suit this geometry: on each axis the padded extent the
// outputs read stays within a small multiple of the input and the kernel.
inline bool depthwise_compact(const DepthwiseShape& s) {
  auto compact = [](int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dilation, int64_t pad_lo) {
    const int64_t reach = (out - 1) * stride + (k - 1) * dilation + 1;  // at most the padded extent
    return reach <= 2 * in + 2 * k + 64 && pad_lo <= reach;
  };
  return compact(s.H, s.Ho, s.kh, s.stride_h, s.dilation_h, s.pad_top) &&
         compact(s.W, s.Wo, s.kw, s.stride_w, s.dilation_w, s.pad_left);
}

// The taps of one output pixel that fall inside the input: kernel rows [a_lo, a_hi) and
// columns [b_lo, b_hi) of the window whose top-left tap reads input pixel (ih0, iw0).
struct ValidTaps {
  int64_t ih0, iw0, a_lo, a_hi, b_lo, b_hi;
};

// Calls visit(ow, taps) for each output pixel of output row oh, in order.
template <class F>
void for_each_output_in_row(const DepthwiseShape& s, int64_t oh, const F& visit) {
  ValidTaps t;
  t.ih0 = oh * s.stride_h - s.pad_top;
  valid_range(t.ih0, s.H, s.kh, s.dilation_h, t.a_lo, t.a_hi);
  for (int64_t ow = 0; ow < s.Wo; ++ow) {
    t.iw0 = ow * s.stride_w - s.pad_left;
    valid_range(t.iw0, s.W, s.kw, s.dilation_w, t.b_lo, t.b_hi);
    visit(ow, t);
  }
}

template <class V>
void forward_direct(const DepthwiseShape& s, const typename V::value_type* x, const typename V::value_type* w,
                    const typename V::value_type* bias, Activation act, typename V::value_type* y) {
  using T = typename V::value_type;
  using S = ScalarVec<T>;
  const int64_t CM = s.C * s.M, kk = s.kh * s.kw, rows = s.N * s.Ho;
  parallel_for(rows, threads_for(rows), [&](int64_t row, int) {
    const int64_t n = row / s.Ho, oh = row % s.Ho;
    for_each_output_in_row(s, oh, [&](int64_t ow, const ValidTaps& t) {
      for (int64_t oc = 0; oc < CM; ++oc) {
        T acc = S::zero();
        for (int64_t a = t.a_lo; a < t.a_hi; ++a)
          for (int64_t b = t.b_lo; b < t.b_hi; ++b)
            acc = S::fma(w[oc * kk + a * s.kw + b],
                         x[dense_offset(s.layout, n, oc / s.M, t.ih0 + a * s.dilation_h, t.iw0 + b * s.dilation_w,
                                        s.C, s.H, s.W)],
                         acc);
        y[dense_offset(s.layout, n, oc, oh, ow, CM, s.Ho, s.Wo)] = S::add(acc, bias ? bias[oc] : T(0));
      }
    });
    if (s.layout == Layout::NHWC) activate_span<V>(act, y + row * s.Wo * CM, s.Wo * CM);
    else
      for (int64_t oc = 0; oc < CM; ++oc) activate_span<V>(act, y + ((n * CM + oc) * s.Ho + oh) * s.Wo, s.Wo);
  });
}

// grad_x: each input element sums grad_y * w over the taps that reached it, in (m, kh,
// kw) order, as backward_input_nhwc does.
template <class V>
void backward_input_direct(const DepthwiseShape& s, const typename V::value_type* gy,
                           const typename V::value_type* w, typename V::value_type* gx) {
  using T = typename V::value_type;
  using S = ScalarVec<T>;
  const int64_t CM = s.C * s.M, kk = s.kh * s.kw, rows = s.N * s.H;
  parallel_for(rows, threads_for(rows), [&](int64_t row, int) {
    const int64_t n = row / s.H, ih = row % s.H;
    for (int64_t iw = 0; iw < s.W; ++iw)
      for (int64_t c = 0; c < s.C; ++c) {
        T acc = S::zero();
        for (int64_t oc = c * s.M; oc < (c + 1) * s.M; ++oc)
          for (int64_t a = 0; a < s.kh; ++a) {
            const int64_t th = ih + s.pad_top - a * s.dilation_h;  // oh * stride_h, if a reached ih
            if (th < 0) break;
            if (th % s.stride_h || th / s.stride_h >= s.Ho) continue;
            for (int64_t b = 0; b < s.kw; ++b) {
              const int64_t tw = iw + s.pad_left - b * s.dilation_w;
              if (tw < 0) break;
              if (tw % s.stride_w || tw / s.stride_w >= s.Wo) continue;
              acc = S::fma(w[oc * kk + a * s.kw + b],
                           gy[dense_offset(s.layout, n, oc, th / s.stride_h, tw / s.stride_w, CM, s.Ho, s.Wo)], acc);
            }
          }
        gx[dense_offset(s.layout, n, c, ih, iw, s.C, s.H, s.W)] = acc;
      }
  });
}

// grad_weight and grad_bias of output channel oc from the taps inside the input,
// reducing over (n, oh, ow) in that order; `acc` holds kh * kw + 1 elements.
template <class T>
void backward_weight_direct_channel(const DepthwiseShape& s, const T* gy, const T* x, int64_t oc, T* acc, T* gw,
                                    T* gb) {
  using S = ScalarVec<T>;
  const int64_t CM = s.C * s.M, kk = s.kh * s.kw;
  for (int64_t t = 0; t <= kk; ++t) acc[t] = S::zero();
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t oh = 0; oh < s.Ho; ++oh)
      for_each_output_in_row(s, oh, [&](int64_t ow, const ValidTaps& t) {
        const T g = gy[dense_offset(s.layout, n, oc, oh, ow, CM, s.Ho, s.Wo)];
        acc[kk] = S::add(acc[kk], g);
        for (int64_t a = t.a_lo; a < t.a_hi; ++a)
          for (int64_t b = t.b_lo; b < t.b_hi; ++b)
            acc[a * s.kw + b] =
                S::fma(g,
                       x[dense_offset(s.layout, n, oc / s.M, t.ih0 + a * s.dilation_h, t.iw0 + b * s.dilation_w, s.C,
                                      s.H, s.W)],
                       acc[a * s.kw + b]);
      });
  for (int64_t t = 0; t < kk; ++t) gw[oc * kk + t] = acc[t];
  if (gb) gb[oc] = acc[kk];
}

// One task per output channel.
template <class V>
void backward_weight_direct(const DepthwiseShape& s, const typename V::value_type* gy,
                            const typename V::value_type* x, typename V::value_type* gw,
                            typename V::value_type* gb) {
  using T = typename V::value_type;
  const int64_t CM = s.C * s.M;
  const int threads = threads_for(CM);
  ThreadScratch<T> acc_scratch(s.kh * s.kw + 1, threads);
  parallel_for(CM, threads, [&](int64_t oc, int thread) {
    backward_weight_direct_channel(s, gy, x, oc, acc_scratch.get(thread), gw, gb);
  });
}

// Whether every weight is finite. The band kernels multiply weights by the zeros of
// padding, which gives NaN for an infinite or NaN weight where torch's depthwise kernels
// (and the reference) skip the padding taps; with such weights the direct kernels run.
// v * 0 is zero for finite v and NaN otherwise: the sum of those products is zero
// exactly when every element is finite (a vector pass; no branch per element).
template <class V>
bool all_finite(const typename V::value_type* p, int64_t n) {
  typename V::reg probe = V::zero();
  int64_t i = 0;
  for (; i + V::width <= n; i += V::width) probe = V::add(probe, V::mul(V::load(p + i), V::zero()));
  if (i < n) probe = V::add(probe, V::mul(V::load_n(p + i, int(n - i)), V::zero()));
  return V::hsum(probe) == 0;
}

// ---------------------------------------------------------------------------------
// Backward, NCHW. grad_x: each (n, c) plane scatters grad_y * w into a phase-split
// padded plane (sum order: m, oh, kh, kw), then reads the unpadded part back.
template <class V>
void backward_input_nchw(const DepthwiseShape& s, const typename V::value_type* gy,
                         const typename V::value_type* w, typename V::value_type* gx) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const PhaseRows g = phase_rows(s, Wd);
  const int64_t Hn = padded_rows(s, s.Ho), planes = s.N * s.C, kk = s.kh * s.kw, CM = s.C * s.M;
  const int threads = threads_for(planes);
  ThreadScratch<T> scratch(Hn * g.row_len, threads);
  parallel_for(planes, threads, [&](int64_t plane, int thread) {
    const int64_t n = plane / s.C, c = plane % s.C;
    T* acc = scratch.get(thread);
    std::memset(acc, 0, size_t(Hn * g.row_len) * sizeof(T));
    for (int64_t m = 0; m < s.M; ++m) {
      const int64_t oc = c * s.M + m;
      const T* gplane = gy + (n * CM + oc) * s.Ho * s.Wo;
      for (int64_t oh = 0; oh < s.Ho; ++oh) {
        const T* grow = gplane + oh * s.Wo;
        T* base = acc + oh * s.stride_h * g.row_len;
        for (int64_t a = 0; a < s.kh; ++a)
          for (int64_t b = 0; b < s.kw; ++b) {
            const R wv = V::set1(w[oc * kk + a * s.kw + b]);
            T* dst = base + tap_offset(s, g, a, b);
            for (int64_t j0 = 0; j0 < s.Wo; j0 += Wd) {
              const int lanes = int(min64(Wd, s.Wo - j0));
              const R sum = V::fma(wv, V::load_n(grow + j0, lanes), V::load_n(dst + j0, lanes));
              V::store_n(dst + j0, sum, lanes);
            }
          }
      }
    }
    T* out = gx + plane * s.H * s.W;
    for (int64_t ih = 0; ih < s.H; ++ih) {
      const int64_t pr = ih + s.pad_top;
      T* orow = out + ih * s.W;
      const T* src = acc + pr * g.row_len;
      for (int64_t iw = 0; iw < s.W; ++iw) {
        const int64_t pc = iw + s.pad_left;
        orow[iw] = (pr < Hn && pc < g.width) ? src[(pc % s.stride_w) * g.phase_len + pc / s.stride_w] : T(0);
      }
    }
  });
}

// grad_weight and grad_bias, NCHW: one task per input channel, reducing its M output
// channels over (n, band, oh, column vector) in that fixed order, per vector lane, then
// across lanes; the split into bands does not change that order.
template <class V>
void backward_weight_nchw(const DepthwiseShape& s, const typename V::value_type* gy,
                          const typename V::value_type* x, typename V::value_type* gw,
                          typename V::value_type* gb) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const PhaseRows g = phase_rows(s, Wd);
  const int64_t kk = s.kh * s.kw, CM = s.C * s.M;
  const int64_t rows_per_band = band_rows(s, g.row_len, kBandBudget, s.C, 0);  // threads split channels here
  const int64_t acc_len = s.M * (kk + 1) * Wd;  // per m: kk tap sums, then the bias sum
  const int threads = threads_for(s.C);
  ThreadScratch<T> rows_scratch(padded_rows(s, rows_per_band) * g.row_len, threads);
  ThreadScratch<T> acc_scratch(acc_len, threads);
  parallel_for(s.C, threads, [&](int64_t c, int thread) {
    T* rows = rows_scratch.get(thread);
    T* acc = acc_scratch.get(thread);
    for (int64_t i = 0; i < acc_len; ++i) acc[i] = T(0);
    R nonfinite = V::zero();  // NaN once a gradient is not finite: see below
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t oh0 = 0; oh0 < s.Ho; oh0 += rows_per_band) {
        const int64_t oh1 = min64(s.Ho, oh0 + rows_per_band);
        gather_phase_rows<V>(s, g, x + (n * s.C + c) * s.H * s.W, oh0 * s.stride_h, padded_rows(s, oh1 - oh0), rows);
        for (int64_t m = 0; m < s.M; ++m) {
          const int64_t oc = c * s.M + m;
          T* am = acc + m * (kk + 1) * Wd;
          const T* gplane = gy + (n * CM + oc) * s.Ho * s.Wo;
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const T* grow = gplane + oh * s.Wo;
            const T* base = rows + (oh - oh0) * s.stride_h * g.row_len;
            for (int64_t j0 = 0; j0 < s.Wo; j0 += Wd) {
              const int lanes = int(min64(Wd, s.Wo - j0));
              const R gv = V::load_n(grow + j0, lanes);
              nonfinite = V::add(nonfinite, V::mul(gv, V::zero()));
              for (int64_t a = 0; a < s.kh; ++a)
                for (int64_t b = 0; b < s.kw; ++b) {
                  T* at = am + (a * s.kw + b) * Wd;
                  const R xv = V::load_n(base + tap_offset(s, g, a, b) + j0, lanes);
                  V::store(at, V::fma(gv, xv, V::load(at)));
                }
              T* ab = am + kk * Wd;
              V::store(ab, V::add(V::load(ab), gv));
            }
          }
        }
      }
    for (int64_t m = 0; m < s.M; ++m) {
      const int64_t oc = c * s.M + m;
      const T* am = acc + m * (kk + 1) * Wd;
      for (int64_t t = 0; t < kk; ++t) gw[oc * kk + t] = V::hsum(V::load(am + t * Wd));
      if (gb) gb[oc] = V::hsum(V::load(am + kk * Wd));
    }
    // An infinite or NaN gradient times the zeros of padding gave NaN where torch (and
    // the reference) skip the padding taps: such channels are summed again over the
    // taps inside the input.
    if (V::hsum(nonfinite) != T(0))
      for (int64_t m = 0; m < s.M; ++m) backward_weight_direct_channel(s, gy, x, c * s.M + m, acc, gw, gb);
  });
}

// ---------------------------------------------------------------------------------
// Backward, NHWC. grad_x gathers: each input pixel sums grad_y * w over the taps that
// reached it, in (m, kh, kw) order, one task per input row.
template <class V>
void backward_input_nhwc(const DepthwiseShape& s, const typename V::value_type* gy,
                         const typename V::value_type* w, typename V::value_type* gx) {
  using T = typename V::value_type;
  using R = typename V::reg;
  if (V::width > 1 && s.M > 1) return backward_input_nhwc<ScalarVec<T>>(s, gy, w, gx);
  const int64_t kk = s.kh * s.kw, CM = s.C * s.M, rows = s.N * s.H;
  ThreadScratch<T> packed(kk * CM, 1);
  pack_weights_tap_major<V>(s, w, packed.get(0));
  const T* wp = packed.get(0);
  const int threads = threads_for(rows);
  ThreadScratch<int64_t> tap_scratch(2 * kk, threads);  // (tap, grad_y pixel) pairs
  parallel_for(rows, threads, [&](int64_t row, int thread) {
    const int64_t n = row / s.H, ih = row % s.H;
    int64_t* taps = tap_scratch.get(thread);
    for (int64_t iw = 0; iw < s.W; ++iw) {
      int64_t count = 0;
      for (int64_t a = 0; a < s.kh; ++a) {
        const int64_t th = ih + s.pad_top - a * s.dilation_h;
        if (th < 0 || th % s.stride_h) continue;
        const int64_t oh = th / s.stride_h;
        if (oh >= s.Ho) continue;
        for (int64_t b = 0; b < s.kw; ++b) {
          const int64_t tw = iw + s.pad_left - b * s.dilation_w;
          if (tw < 0 || tw % s.stride_w) continue;
          const int64_t ow = tw / s.stride_w;
          if (ow >= s.Wo) continue;
          taps[2 * count] = a * s.kw + b;
          taps[2 * count + 1] = ((n * s.Ho + oh) * s.Wo + ow) * CM;
          ++count;
        }
      }
      T* out = gx + (row * s.W + iw) * s.C;
      for (int64_t c0 = 0; c0 < s.C; c0 += V::width) {
        const int lanes = int(min64(V::width, s.C - c0));
        R acc = V::zero();
        for (int64_t m = 0; m < s.M; ++m) {
          const int64_t oc0 = c0 * s.M + m;
          for (int64_t i = 0; i < count; ++i)
            acc = V::fma(V::load_n(wp + taps[2 * i] * CM + oc0, lanes), V::load_n(gy + taps[2 * i + 1] + oc0, lanes), acc);
        }
        V::store_n(out + c0, acc, lanes);
      }
    }
  });
}

// grad_weight and grad_bias, NHWC: one task per vector of output channels, each lane
// reducing over (n, oh, ow) in order; no reduction across lanes.
template <class V>
void backward_weight_nhwc(const DepthwiseShape& s, const typename V::value_type* gy,
                          const typename V::value_type* x, typename V::value_type* gw,
                          typename V::value_type* gb) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  if (Wd > 1 && s.M > 1) return backward_weight_nhwc<ScalarVec<T>>(s, gy, x, gw, gb);
  const int64_t kk = s.kh * s.kw, CM = s.C * s.M, chunks = ceil_div(CM, Wd);
  const int threads = threads_for(chunks);
  ThreadScratch<T> acc_scratch((kk + 1) * Wd, threads);
  parallel_for(chunks, threads, [&](int64_t chunk, int thread) {
    const int64_t oc0 = chunk * Wd, ci0 = oc0 / s.M;
    const int lanes = int(min64(Wd, CM - oc0));
    T* acc = acc_scratch.get(thread);
    for (int64_t i = 0; i < (kk + 1) * Wd; ++i) acc[i] = T(0);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t oh = 0; oh < s.Ho; ++oh) {
        int64_t kh_lo, kh_hi;
        valid_range(oh * s.stride_h - s.pad_top, s.H, s.kh, s.dilation_h, kh_lo, kh_hi);
        for (int64_t ow = 0; ow < s.Wo; ++ow) {
          int64_t kw_lo, kw_hi;
          const int64_t iw0 = ow * s.stride_w - s.pad_left;
          valid_range(iw0, s.W, s.kw, s.dilation_w, kw_lo, kw_hi);
          const R gv = V::load_n(gy + ((n * s.Ho + oh) * s.Wo + ow) * CM + oc0, lanes);
          V::store(acc + kk * Wd, V::add(V::load(acc + kk * Wd), gv));
          for (int64_t a = kh_lo; a < kh_hi; ++a) {
            const int64_t ih = oh * s.stride_h - s.pad_top + a * s.dilation_h;
            for (int64_t b = kw_lo; b < kw_hi; ++b) {
              const int64_t iw = iw0 + b * s.dilation_w;
              T* at = acc + (a * s.kw + b) * Wd;
              const R xv = V::load_n(x + ((n * s.H + ih) * s.W + iw) * s.C + ci0, lanes);
              V::store(at, V::fma(gv, xv, V::load(at)));
            }
          }
        }
      }
    for (int l = 0; l < lanes; ++l) {
      for (int64_t t = 0; t < kk; ++t) gw[(oc0 + l) * kk + t] = acc[t * Wd + l];
      if (gb) gb[oc0 + l] = acc[kk * Wd + l];
    }
  });
}

// ---------------------------------------------------------------------------------
// Backward with one output channel per input channel (M == 1), either layout, in one
// pass: a task is a band of output rows of one image and a block of channels. It copies
// the block's grad_y rows that the band reads (NHWC, zero-bordered; NCHW transposed on
// the way) into scratch and gathers the grad_x of the band's input rows from them, then
// copies the block's zero-padded input rows and sums the weight and bias gradients of
// the band's output rows from the same grad_y copy. Bands are as tall as a budget of scratch allows, whatever the thread
// count (the blocks give the threads work): the weight sums of each band (a part) go to
// their own buffer, added part by part in order, so their bits do not depend on how
// many threads there are.

// Channels per task, and scratch per task for a band's input rows.
constexpr int64_t kChannelBlock = 64;
constexpr int64_t kBackwardBandBytes = 131072;

// Vector registers of the ISA V compiles for: how many accumulators a block may keep.
template <class V>
constexpr int vector_registers() {
  return sizeof(typename V::reg) >= 64 ? 32 : 16;
}

// The weight and bias sums of `rows` output rows of one image for one vector of channels
// (`lanes` of them): x_rows, the block's zero-padded band (geometry g), gy_rows (grad_y
// pixels gy_pixel_stride apart, rows gy_row_stride apart) and part start at that
// vector's channel and the band's first row; sums are stored tap major
// into `part` ((kh*kw + 1) rows of CM; the bias sums last). KxK kernels keep AR kernel
// rows' sums in registers per pass over the band (all K rows where the registers hold
// them); K == 0: any kernel, one tap per pass. Each sum runs over (oh, ow) in order.
// `nonfinite` is set NaN where a gradient is infinite or NaN.
template <class V, int K, int AR, bool Full>
void weight_sums_nhwc(const DepthwiseShape& s, const PaddedRows& g, const typename V::value_type* x_rows,
                      const typename V::value_type* gy_rows, int64_t gy_row_stride, int64_t gy_pixel_stride,
                      int64_t rows, int lanes, typename V::value_type* part, typename V::reg& nonfinite) {
  using R = typename V::reg;
  const int64_t CM = s.C, kk = s.kh * s.kw, ps = g.pixel_stride;
  const int64_t dh_step = s.dilation_h * g.row_len, dw_step = s.dilation_w * ps, ow_step = s.stride_w * ps;
  constexpr int NA = K > 0 ? AR * K : 1;
  const int64_t passes = K > 0 ? ceil_div(K, AR) : kk;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const int64_t a0 = K > 0 ? pass * AR : pass / s.kw;  // first kernel row (K == 0: the tap's row and column)
    const int64_t b0 = K > 0 ? 0 : pass % s.kw;
    R acc[NA], acc_bias = V::zero();
    for (int t = 0; t < NA; ++t) acc[t] = V::zero();
    for (int64_t r = 0; r < rows; ++r) {
      const auto* grow = gy_rows + r * gy_row_stride;
      const auto* xrow = x_rows + r * s.stride_h * g.row_len + a0 * dh_step + b0 * dw_step;
      for (int64_t ow = 0; ow < s.Wo; ++ow) {
        const R gv = load_lanes<V, Full>(grow + ow * gy_pixel_stride, lanes);
        if (pass == 0) acc_bias = V::add(acc_bias, gv);
        const auto* xp = xrow + ow * ow_step;
        if constexpr (K > 0) {
#pragma GCC unroll 8
          for (int a = 0; a < AR; ++a) {
            if (a0 + a >= K) break;
#pragma GCC unroll 8
            for (int b = 0; b < K; ++b)
              acc[a * K + b] = V::fma(gv, load_lanes<V, Full>(xp + a * dh_step + b * dw_step, lanes), acc[a * K + b]);
          }
        } else {
          acc[0] = V::fma(gv, load_lanes<V, Full>(xp, lanes), acc[0]);
        }
      }
    }
    if constexpr (K > 0) {
      for (int a = 0; a < AR && a0 + a < K; ++a)
        for (int b = 0; b < K; ++b) store_lanes<V, Full>(part + ((a0 + a) * K + b) * CM, acc[a * K + b], lanes);
    } else {
      store_lanes<V, Full>(part + pass * CM, acc[0], lanes);
    }
    if (pass == 0) {
      store_lanes<V, Full>(part + kk * CM, acc_bias, lanes);
      // A sum of gradients is infinite or NaN from the first that is on (or where it
      // overflows, which the direct re-sum then serves too).
      nonfinite = V::mul(acc_bias, V::zero());
    }
  }
}

template <class T, class R>
using WeightSumsFn = void (*)(const DepthwiseShape&, const PaddedRows&, const T*, const T*, int64_t, int64_t, int64_t,
                              int, T*, R&);

template <class V, bool Full>
WeightSumsFn<typename V::value_type, typename V::reg> pick_weight_sums(const DepthwiseShape& s) {
  constexpr int regs = vector_registers<V>();
  // Sums of KxK taps plus the bias sum, the gradient and one input vector.
  constexpr int rows5 = 25 + 3 <= regs ? 5 : (regs - 3) / 5;
  if (s.kh == 3 && s.kw == 3) return weight_sums_nhwc<V, 3, 3, Full>;
  if (s.kh == 5 && s.kw == 5) return weight_sums_nhwc<V, 5, rows5, Full>;
  return weight_sums_nhwc<V, 0, 1, Full>;
}


// The inverse: `pixels` pixels of src (pixel_stride apart) to row `row` of an NCHW image.
template <class V>
void copy_pixels_out_nchw(const typename V::value_type* src, int64_t pixel_stride, int64_t rows, int64_t cols,
                          int64_t c0, int64_t count, int64_t row, int64_t pixels, typename V::value_type* img) {
  constexpr int Wd = V::width;
  for (int64_t cg = 0; cg < count; cg += Wd) {
    const int lanes = int(min64(Wd, count - cg));
    auto* dst = img + ((c0 + cg) * rows + row) * cols;
    for (int64_t pg = 0; pg < pixels; pg += Wd) {
      const int n = int(min64(Wd, pixels - pg));
      typename V::reg v[Wd];
      for (int j = 0; j < Wd; ++j) v[j] = j < n ? V::load_n(src + (pg + j) * pixel_stride + cg, lanes) : V::zero();
      V::transpose(v);
      for (int l = 0; l < lanes; ++l) V::store_n(dst + l * rows * cols + pg, v[l], n);
    }
  }
}


// grad_x: each input pixel gathers grad_y * w over the taps that reached it, in (kh, kw)
// order. The input pixels of one row that share a column phase (iw % stride_w) share
// their taps, and consecutive ones read consecutive grad_y pixels, so blocks of kBlock
// of them run like forward blocks over a copy of the grad_y rows with zero columns
// around them. Weights must be finite (the zero columns are multiplied).
struct GradRows {
  int64_t left;          // zero pixels before output column 0
  int64_t pixels;        // pixels per row, zero ones included
  int64_t pixel_stride;  // elements from one pixel to the next
  int64_t row_len;
};

inline GradRows grad_rows(const DepthwiseShape& s, int64_t pixel_stride) {
  GradRows g;
  // Column phase r, block position i reads output column (r + pad_left - b * dilation_w) / stride_w + i.
  g.left = ceil_div(max64(0, (s.kw - 1) * s.dilation_w - s.pad_left), s.stride_w);
  const int64_t last = (s.stride_w - 1 + s.pad_left) / s.stride_w + round_up(ceil_div(s.W, s.stride_w), kBlock);
  g.pixels = g.left + max64(s.Wo, last) + 1;
  g.pixel_stride = pixel_stride;
  g.row_len = g.pixels * g.pixel_stride;
  return g;
}

// One vector of channels of the input pixels of one phase: rows (the grad_y scratch),
// wp (weights, tap major) and gx (the phase's first pixel) start at its channel.
template <class V, bool Full>
void input_grad_phase_nhwc(const typename V::value_type* rows, const typename V::value_type* wp, const int64_t* taps,
                           int64_t count, int64_t pixels, int64_t pixel_stride, int64_t gx_step, int lanes,
                           typename V::value_type* gx) {
  using R = typename V::reg;
  constexpr int U = kBlock;
  for (int64_t i0 = 0; i0 < pixels; i0 += U) {
    R acc[U];
    for (int u = 0; u < U; ++u) acc[u] = V::zero();
    const auto* base = rows + i0 * pixel_stride;
    for (int64_t t = 0; t < count; ++t) {
      const R wv = load_lanes<V, Full>(wp + taps[2 * t], lanes);
      const auto* src = base + taps[2 * t + 1];
      for (int u = 0; u < U; ++u) acc[u] = V::fma(wv, load_lanes<V, Full>(src + u * pixel_stride, lanes), acc[u]);
    }
    for (int u = 0; u < U && i0 + u < pixels; ++u) store_lanes<V, Full>(gx + (i0 + u) * gx_step, acc[u], lanes);
  }
}

// input_grad_phase_nhwc at stride 1 and dilation 1 for KxK kernels: per kernel row a
// that reaches the input row (rows_of: its grad_y row's first pixel, shifted by
// pad_left - (K - 1) columns), kBlock input pixels take their K taps from kBlock + K - 1
// loaded vectors, the row's K weights in registers. Each pixel sums its taps in (kh,
// descending kw) order.
template <class V, int K, bool Full>
void input_grad_shared(const typename V::value_type* const* rows_of, const int64_t* kernel_rows, int64_t count,
                       const typename V::value_type* wp, int64_t CM, int64_t pixels, int64_t pixel_stride,
                       int64_t gx_step, int lanes, typename V::value_type* gx) {
  using R = typename V::reg;
  constexpr int U = kBlock, P = U + K - 1;
  for (int64_t i0 = 0; i0 < pixels; i0 += U) {
    R acc[U];
    for (int u = 0; u < U; ++u) acc[u] = V::zero();
    for (int64_t t = 0; t < count; ++t) {
      R wrow[K];
      for (int b = 0; b < K; ++b) wrow[b] = load_lanes<V, Full>(wp + (kernel_rows[t] * K + b) * CM, lanes);
      const auto* src = rows_of[t] + i0 * pixel_stride;
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        const R v = load_lanes<V, Full>(src + p * pixel_stride, lanes);
#pragma GCC unroll 4
        for (int u = 0; u < U; ++u) {
          const int b = u + K - 1 - p;
          if (b >= 0 && b < K) acc[u] = V::fma(wrow[b], v, acc[u]);
        }
      }
    }
    for (int u = 0; u < U && i0 + u < pixels; ++u) store_lanes<V, Full>(gx + (i0 + u) * gx_step, acc[u], lanes);
  }
}

// The input rows of one image whose grad_x the band of output rows `band` computes:
// from its first output row's first input row (band * rows_per_band * stride_h -
// pad_top) to the next band's, the first band from row 0 and the last to row H, so the
// bands partition the image's rows.
inline void band_input_rows(const DepthwiseShape& s, int64_t band, int64_t bands, int64_t rows_per_band,
                            int64_t& ih0, int64_t& ih1) {
  auto first = [&](int64_t b) {
    return b == 0 ? 0 : b == bands ? s.H : min64(s.H, max64(0, b * rows_per_band * s.stride_h - s.pad_top));
  };
  ih0 = first(band);
  ih1 = max64(ih0, first(band + 1));
}

// The grad_y rows [oh_lo, oh_hi) that input rows [ih0, ih1) gather from.
inline void grad_rows_read(const DepthwiseShape& s, int64_t ih0, int64_t ih1, int64_t& oh_lo, int64_t& oh_hi) {
  const int64_t reach = (s.kh - 1) * s.dilation_h;
  oh_lo = min64(s.Ho, ceil_div(max64(0, ih0 + s.pad_top - reach), s.stride_h));
  oh_hi = ih1 > ih0 ? max64(oh_lo, min64(s.Ho, (ih1 - 1 + s.pad_top) / s.stride_h + 1)) : oh_lo;
}

// The block's grad_y rows [oh_lo, oh_hi) of one image (either layout) into `rows`
// (geometry g), zero columns on both sides.
template <class V>
void gather_grad_rows(const DepthwiseShape& s, const GradRows& g, const typename V::value_type* gy_img, int64_t c0,
                      int64_t count, int64_t oh_lo, int64_t oh_hi, typename V::value_type* rows) {
  const int64_t ps = g.pixel_stride;
  for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
    auto* dst = rows + (oh - oh_lo) * g.row_len;
    zero_span<V>(dst, g.left * ps);
    copy_pixels_in<V>(s.layout, gy_img, s.C, s.Ho, s.Wo, c0, count, oh, 0, s.Wo, dst + g.left * ps, ps);
    zero_span<V>(dst + (g.left + s.Wo) * ps, (g.pixels - g.left - s.Wo) * ps);
  }
}

// One input row at stride 1 through input_grad_shared, every vector of the block's channels.
template <class V>
void input_grad_row_shared(const DepthwiseShape& s, const GradRows& g, const typename V::value_type* rows,
                           const int64_t* row_of, const typename V::value_type* wp, int64_t c0, int64_t count,
                           typename V::value_type* gx_row, int64_t gx_pixel_stride) {
  using T = typename V::value_type;
  constexpr int Wd = V::width;
  const int64_t K = s.kh, ps = g.pixel_stride;
  const T* sources[5];
  int64_t kernel_rows[5], found = 0;
  for (int64_t a = 0; a < K; ++a)
    if (row_of[a] >= 0) {
      sources[found] = rows + row_of[a] + (g.left + s.pad_left - (K - 1)) * ps;
      kernel_rows[found++] = a;
    }
  for (int64_t c = 0; c < count; c += Wd) {
    const int lanes = int(min64(Wd, count - c));
    const T* shifted[5];
    for (int64_t t = 0; t < found; ++t) shifted[t] = sources[t] + c;
    const auto run = lanes == Wd ? (K == 3 ? input_grad_shared<V, 3, true> : input_grad_shared<V, 5, true>)
                                 : (K == 3 ? input_grad_shared<V, 3, false> : input_grad_shared<V, 5, false>);
    run(shifted, kernel_rows, found, wp + c0 + c, s.C, s.W, ps, gx_pixel_stride, lanes, gx_row + c);
  }
}

// grad_x of input rows [ih0, ih1), channels [c0, c0 + count) of one image, from the
// block's grad_y rows (gathered from row oh_lo) and weights packed tap major, into gx
// (the band's first row and the block's first channel; rows gx_row_stride, pixels
// gx_pixel_stride apart).
template <class V>
void input_grad_band(const DepthwiseShape& s, const GradRows& g, const typename V::value_type* rows, int64_t oh_lo,
                     const typename V::value_type* wp, int64_t c0, int64_t count, int64_t ih0, int64_t ih1,
                     int64_t* taps, typename V::value_type* gx, int64_t gx_row_stride, int64_t gx_pixel_stride) {
  constexpr int Wd = V::width;
  const int64_t CM = s.C, sh = s.stride_h, sw = s.stride_w, ps = g.pixel_stride;
  int64_t* row_of = taps + 2 * s.kh * s.kw;  // per kernel row: its grad_y row's offset, or -1
  const bool shared = s.kh == s.kw && (s.kh == 3 || s.kh == 5) && sh == 1 && sw == 1 && s.dilation_h == 1 &&
                      s.dilation_w == 1;
  for (int64_t ih = ih0; ih < ih1; ++ih) {
    for (int64_t a = 0; a < s.kh; ++a) {
      const int64_t th = ih + s.pad_top - a * s.dilation_h;  // oh * stride_h, if kernel row a reached ih
      row_of[a] = (th >= 0 && th % sh == 0 && th / sh < s.Ho) ? (th / sh - oh_lo) * g.row_len : -1;
    }
    auto* gx_row = gx + (ih - ih0) * gx_row_stride;
    if (shared) {
      input_grad_row_shared<V>(s, g, rows, row_of, wp, c0, count, gx_row, gx_pixel_stride);
      continue;
    }
    for (int64_t r = 0; r < min64(sw, s.W); ++r) {
      int64_t found = 0;  // (weight offset, grad_y offset) pairs, in (kh, kw) order
      for (int64_t a = 0; a < s.kh; ++a) {
        if (row_of[a] < 0) continue;
        for (int64_t b = 0; b < s.kw; ++b) {
          const int64_t tw = r + s.pad_left - b * s.dilation_w;  // ow * stride_w for the phase's first pixel
          if (((tw % sw) + sw) % sw != 0) continue;
          taps[2 * found] = (a * s.kw + b) * CM;
          taps[2 * found + 1] = row_of[a] + (tw / sw + g.left) * ps;
          ++found;
        }
      }
      const int64_t pixels = ceil_div(s.W - r, sw);
      auto* gx_phase = gx_row + r * gx_pixel_stride;
      const int64_t step = sw * gx_pixel_stride;
      int64_t c = 0;
      for (; c + Wd <= count; c += Wd)
        input_grad_phase_nhwc<V, true>(rows + c, wp + c0 + c, taps, found, pixels, ps, step, Wd, gx_phase + c);
      if (c < count)
        input_grad_phase_nhwc<V, false>(rows + c, wp + c0 + c, taps, found, pixels, ps, step, int(count - c),
                                        gx_phase + c);
    }
  }
}

// grad_x (when gx is not null; weights finite) and grad_weight, grad_bias (when gw is
// not null), M == 1, either layout: NCHW data is transposed into the tasks' scratch and
// grad_x out of it, so both layouts run the same vector loops with every lane busy.
template <class V>
void backward_bands(const DepthwiseShape& s, const typename V::value_type* gy, const typename V::value_type* x,
                    const typename V::value_type* w, typename V::value_type* gx, typename V::value_type* gw,
                    typename V::value_type* gb) {
  using T = typename V::value_type;
  using R = typename V::reg;
  constexpr int Wd = V::width;
  const bool nchw = s.layout == Layout::NCHW;
  const int64_t CM = s.C, kk = s.kh * s.kw, chunks = ceil_div(CM, Wd);
  const int64_t cb = min64(CM, kChannelBlock), blocks = ceil_div(CM, cb);
  DepthwiseShape block = s;  // one block's channels, as the scratch holds them
  block.C = cb;
  const PaddedRows xg = nhwc_padded_rows<T>(block);
  const int64_t rows_per_band = band_rows(s.Ho, (s.kh - 1) * s.dilation_h + 1, s.stride_h, xg.row_len,
                                          kBackwardBandBytes / int64_t(sizeof(T)), 1, 0);
  const int64_t bands = ceil_div(s.Ho, rows_per_band), parts = s.N * bands, tasks = parts * blocks;
  const GradRows gg = grad_rows(s, cb);
  // grad_y rows a band reads: those its input rows gather from, and its own (weight sums).
  auto band_grad_rows = [&](int64_t band, int64_t& oh_lo, int64_t& oh_hi, int64_t& ih0, int64_t& ih1) {
    const int64_t oh0 = band * rows_per_band, oh1 = min64(s.Ho, oh0 + rows_per_band);
    oh_lo = gw ? oh0 : s.Ho;
    oh_hi = gw ? oh1 : 0;
    ih0 = ih1 = 0;
    if (gx) {
      int64_t lo, hi;
      band_input_rows(s, band, bands, rows_per_band, ih0, ih1);
      grad_rows_read(s, ih0, ih1, lo, hi);
      if (hi > lo) oh_lo = min64(oh_lo, lo), oh_hi = max64(oh_hi, hi);
    }
    if (oh_hi < oh_lo) oh_hi = oh_lo = 0;
  };
  int64_t grad_rows_max = 0, input_rows_max = 0;
  for (int64_t band = 0; band < bands; ++band) {
    int64_t oh_lo, oh_hi, ih0, ih1;
    band_grad_rows(band, oh_lo, oh_hi, ih0, ih1);
    grad_rows_max = max64(grad_rows_max, oh_hi - oh_lo);
    input_rows_max = max64(input_rows_max, ih1 - ih0);
  }
  ThreadScratch<T> packed(gx ? kk * CM : 1, 1);
  if (gx) pack_weights_tap_major<V>(s, w, packed.get(0));
  const T* wp = packed.get(0);
  ThreadScratch<T> sums(gw ? (kk + 1) * CM : 1, gw ? int(parts) : 1);
  std::vector<unsigned char> nonfinite(gw ? size_t(parts * chunks) : 0, 0);
  const int threads = threads_for(tasks);
  const int64_t x_len = gw ? padded_rows(s, rows_per_band) * xg.row_len : 0;
  const int64_t grad_len = grad_rows_max * gg.row_len;
  const int64_t gx_len = gx && nchw ? input_rows_max * s.W * cb : 0;  // an NCHW band's grad_x, pixel major
  ThreadScratch<T> scratch(x_len + grad_len + gx_len, threads);
  ThreadScratch<int64_t> tap_scratch(2 * kk + s.kh, threads);
  const auto full = pick_weight_sums<V, true>(s);
  const auto partial = pick_weight_sums<V, false>(s);
  parallel_for(tasks, threads, [&](int64_t task, int thread) {
    const int64_t part = task / blocks, c0 = task % blocks * cb, count = min64(cb, CM - c0);
    const int64_t n = part / bands, band = part % bands;
    const int64_t oh0 = band * rows_per_band, oh1 = min64(s.Ho, oh0 + rows_per_band);
    T* x_rows = scratch.get(thread);
    T* grad = x_rows + x_len;
    T* gx_band = grad + grad_len;
    int64_t oh_lo, oh_hi, ih0, ih1;
    band_grad_rows(band, oh_lo, oh_hi, ih0, ih1);
    gather_grad_rows<V>(s, gg, gy + n * CM * s.Ho * s.Wo, c0, count, oh_lo, oh_hi, grad);
    if (gx) {
      T* gx_img = gx + n * CM * s.H * s.W;
      if (!nchw) {
        input_grad_band<V>(s, gg, grad, oh_lo, wp, c0, count, ih0, ih1, tap_scratch.get(thread),
                           gx_img + ih0 * s.W * CM + c0, s.W * CM, CM);
      } else {
        input_grad_band<V>(s, gg, grad, oh_lo, wp, c0, count, ih0, ih1, tap_scratch.get(thread), gx_band, s.W * cb, cb);
        for (int64_t ih = ih0; ih < ih1; ++ih)
          copy_pixels_out_nchw<V>(gx_band + (ih - ih0) * s.W * cb, cb, s.H, s.W, c0, count, ih, s.W, gx_img);
      }
    }
    if (!gw) return;
    gather_padded_block<V>(s, xg, x + n * s.C * s.H * s.W, c0, count, oh0 * s.stride_h, padded_rows(s, oh1 - oh0),
                           x_rows, false);
    const T* gy_band = grad + (oh0 - oh_lo) * gg.row_len + gg.left * cb;
    for (int64_t c = 0; c < count; c += Wd) {
      const int lanes = int(min64(Wd, count - c));
      R probe = V::zero();
      (lanes == Wd ? full : partial)(s, xg, x_rows + c, gy_band + c, gg.row_len, cb, oh1 - oh0, lanes,
                                     sums.get(int(part)) + c0 + c, probe);
      nonfinite[size_t(part * chunks + (c0 + c) / Wd)] = V::hsum(probe) != T(0);
    }
  });
  if (!gw) return;
  // The parts, in order, per vector of channels; then tap major -> (CM, kh*kw).
  const int reduce_threads = threads_for(chunks);
  ThreadScratch<T> total_scratch((kk + 1) * (Wd + 1), reduce_threads);
  parallel_for(chunks, reduce_threads, [&](int64_t chunk, int thread) {
    const int64_t c0 = chunk * Wd;
    const int lanes = int(min64(Wd, CM - c0));
    T* total = total_scratch.get(thread);
    bool redo = false;
    for (int64_t p = 0; p < parts; ++p) redo |= nonfinite[size_t(p * chunks + chunk)] != 0;
    for (int64_t t = 0; t <= kk; ++t) {
      R sum = V::zero();
      for (int64_t p = 0; p < parts; ++p) sum = V::add(sum, V::load_n(sums.get(int(p)) + t * CM + c0, lanes));
      V::store(total + t * Wd, sum);
    }
    for (int l = 0; l < lanes; ++l) {
      for (int64_t t = 0; t < kk; ++t) gw[(c0 + l) * kk + t] = total[t * Wd + l];
      if (gb) gb[c0 + l] = total[kk * Wd + l];
    }
    // An infinite or NaN gradient times the zeros of padding gave NaN where torch (and
    // the reference) skip the padding taps: such channels are summed again over the taps
    // inside the input.
    if (redo)
      for (int l = 0; l < lanes; ++l) backward_weight_direct_channel(s, gy, x, c0 + l, total + (kk + 1) * Wd, gw, gb);
  });
}

// ---------------------------------------------------------------------------------
template <class V>
void depthwise_forward(const DepthwiseShape& s, const typename V::value_type* x,
                       const typename V::value_type* w, const typename V::value_type* bias,
                       Activation act, typename V::value_type* y) {
  if (!depthwise_compact(s) || !all_finite<V>(w, s.C * s.M * s.kh * s.kw)) forward_direct<V>(s, x, w, bias, act, y);
  else if (s.layout == Layout::NCHW) forward_nchw<V>(s, x, w, bias, act, y);
  else forward_nhwc<V>(s, x, w, bias, act, y);
}

template <class V>
void depthwise_backward(const DepthwiseShape& s, const typename V::value_type* gy, const typename V::value_type* x,
                        const typename V::value_type* w, typename V::value_type* gx, typename V::value_type* gw,
                        typename V::value_type* gb) {
  const bool nchw = s.layout == Layout::NCHW;
  if (!depthwise_compact(s)) {
    if (gx) backward_input_direct<V>(s, gy, w, gx);
    if (gw) backward_weight_direct<V>(s, gy, x, gw, gb);
    return;
  }
  if (s.M > 1) {
    if (gx) nchw ? backward_input_nchw<V>(s, gy, w, gx) : backward_input_nhwc<V>(s, gy, w, gx);
    if (gw) nchw ? backward_weight_nchw<V>(s, gy, x, gw, gb) : backward_weight_nhwc<V>(s, gy, x, gw, gb);
    return;
  }
  // The band kernels multiply weights by zero columns of grad_y: infinite weights take
  // the kernels that skip them.
  if (gx && !all_finite<V>(w, s.C * s.kh * s.kw)) {
    nchw ? backward_input_nchw<V>(s, gy, w, gx) : backward_input_nhwc<V>(s, gy, w, gx);
    gx = nullptr;
    if (!gw) return;
  }
  backward_bands<V>(s, gy, x, w, gx, gw, gb);
}

template <class V>
constexpr DepthwiseKernels<typename V::value_type> depthwise_kernels() {
  return {depthwise_forward<V>, depthwise_backward<V>};
}

}  // namespace
}  // namespace opzoo::cpu

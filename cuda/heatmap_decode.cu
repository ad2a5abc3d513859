// CenterNet heatmap decoding CUDA kernels. (1) One thread per score: the 3x3 peak keep,
// the kept score stored as an order-preserving 32-bit key. (2) A radix select per image,
// one 8-bit digit a pass, over the key and then the complemented flat index: every score
// has a distinct rank that way, so the passes end with exactly K scores at or above the
// digits fixed (a pass whose chosen digit holds exactly the scores still wanted settles
// the image, and the passes after it return at once). (3) Those K gathered, (4) sorted
// by a bitonic network (its steps within tiles of kSharedSortLength in shared memory, the
// longer strides one launch each), (5) their boxes in float32. Only integer counts meet in atomics: where a
// candidate lands before the sort depends on timing, but the sort's order is total, so
// the boxes are the same bits run to run, and those of the CPU kernels in float32.
#include <cstdint>
#include <type_traits>

#include "common.cuh"
#include "heatmap_decode_cuda.h"

namespace opzoo::cuda {
namespace {

constexpr int kDigitBits = 8, kBins = 1 << kDigitBits;
static_assert(kBins == kThreads, "a select block holds one bin per thread");
// Scores one histogram block counts before it adds its bins to the image's.
constexpr int64_t kHistogramSpan = 16 * kThreads;
// Candidates a sorting block holds in shared memory (12 bytes each).
constexpr int64_t kSharedSortLength = 2048;

struct Geometry {
  int64_t N, C, H, W, K, M;  // M = C * H * W scores per image
  int64_t L;                 // candidate slots per image: K rounded up to a power of two
  int nhwc;
  int index_bits;  // bits of M - 1, rounded up to whole digits
};

// One image's select: the digits fixed so far (key digits first, then index digits),
// how many of the scores that share them are still wanted, and whether that is all of
// them.
struct SelectState {
  uint32_t key_prefix;
  uint64_t index_prefix;
  int digits;
  int settled;
  unsigned long long remaining;
};

// Larger key = ranks first: NaN above every number, -0 equal to +0, as the CPU order.
__device__ __forceinline__ uint32_t rank_key(float s) {
  if (s != s) return 0xFFFFFFFFu;
  const uint32_t bits = s == 0.0f ? 0u : __float_as_uint(s);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// The flat index c*H*W + y*W + x of the score at `pos` of its image in memory.
__device__ __forceinline__ int64_t flat_index(const Geometry& g, int64_t pos) {
  return g.nhwc ? pos % g.C * (g.H * g.W) + pos / g.C : pos;
}

// index_bits - 1 ... 0 of the complemented index: larger = lower index = ranks first.
__device__ __forceinline__ uint64_t index_rank(const Geometry& g, int64_t index) {
  const uint64_t all = g.index_bits == 64 ? ~uint64_t(0) : (uint64_t(1) << g.index_bits) - 1;
  return all - uint64_t(index);
}

// The score's digit number `digits` (0: the key's top digit).
__device__ __forceinline__ unsigned digit_of(const Geometry& g, uint32_t key, uint64_t rank, int digits) {
  if (digits < 32 / kDigitBits) return (key >> (32 - kDigitBits * (digits + 1))) & (kBins - 1);
  return unsigned(rank >> (g.index_bits - kDigitBits * (digits - 32 / kDigitBits + 1))) & (kBins - 1);
}

// The score's first st.digits digits against the prefix fixed: 1 above, 0 equal, -1 below.
__device__ __forceinline__ int compare_prefix(const Geometry& g, uint32_t key, uint64_t rank, const SelectState& st) {
  const int bits = st.digits * kDigitBits, key_bits = bits < 32 ? bits : 32, index_bits = bits - key_bits;
  const uint32_t k = key_bits == 0 ? 0u : key >> (32 - key_bits);
  if (k != st.key_prefix) return k > st.key_prefix ? 1 : -1;
  const uint64_t r = index_bits == 0 ? 0u : rank >> (g.index_bits - index_bits);
  if (r != st.index_prefix) return r > st.index_prefix ? 1 : -1;
  return 0;
}

// The kept score at (c, y, x): heat where it is its 3x3 window's maximum, else heat * 0.
template <class T>
__device__ float kept_score(const Geometry& g, const T* __restrict__ image, int64_t c, int64_t y, int64_t x) {
  auto at = [&](int64_t yy, int64_t xx) {
    return to_float(image[g.nhwc ? (yy * g.W + xx) * g.C + c : (c * g.H + yy) * g.W + xx]);
  };
  float m = -INFINITY;
  for (int64_t yy = y > 0 ? y - 1 : 0; yy <= y + 1 && yy < g.H; ++yy)
    for (int64_t xx = x > 0 ? x - 1 : 0; xx <= x + 1 && xx < g.W; ++xx) m = max_nan(m, at(yy, xx));
  const float h = at(y, x);
  return m <= h ? h : h * 0.0f;
}

// The select's start: every image wanting K, no digit fixed; zero bins and counts;
// every candidate slot a sentinel (key 0, below every score's key).
__global__ void __launch_bounds__(kThreads)
    start_kernel(Geometry g, SelectState* states, unsigned long long* bins, unsigned long long* counts,
                 uint32_t* keys, int64_t* indices) {
  const int64_t total = g.N * (kBins > g.L ? kBins : g.L);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    if (i < g.N) {
      states[i] = SelectState{0u, 0u, 0, 0, (unsigned long long)g.K};
      counts[i] = 0;
    }
    if (i < g.N * kBins) bins[i] = 0;
    if (i < g.N * g.L) {
      keys[i] = 0u;
      indices[i] = 0;
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    key_kernel(Geometry g, const T* __restrict__ heat, uint32_t* __restrict__ keys) {
  const int64_t total = g.N * g.M, P = g.H * g.W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / g.M, index = flat_index(g, i % g.M), pix = index % P;
    keys[i] = rank_key(kept_score(g, heat + n * g.M, index / P, pix / g.W, pix % g.W));
  }
}

// The next digit's histogram over the scores that match the prefix, a span of one image
// per block at a time (its bins in shared memory, then added to the image's).
__global__ void __launch_bounds__(kThreads)
    histogram_kernel(Geometry g, const uint32_t* __restrict__ keys, const SelectState* __restrict__ states,
                     unsigned long long* bins) {
  __shared__ unsigned counts[kBins];
  const int64_t spans = (g.M + kHistogramSpan - 1) / kHistogramSpan;
  for (int64_t u = blockIdx.x; u < g.N * spans; u += gridDim.x) {
    const int64_t n = u / spans, first = u % spans * kHistogramSpan, last = first + kHistogramSpan < g.M ? first + kHistogramSpan : g.M;
    const SelectState st = states[n];
    if (st.settled) continue;  // the same for the whole block
    counts[threadIdx.x] = 0;
    __syncthreads();
    for (int64_t pos = first + threadIdx.x; pos < last; pos += blockDim.x) {
      const uint32_t key = keys[n * g.M + pos];
      const uint64_t rank = index_rank(g, flat_index(g, pos));
      if (compare_prefix(g, key, rank, st) == 0) atomicAdd(&counts[digit_of(g, key, rank, st.digits)], 1u);
    }
    __syncthreads();
    if (counts[threadIdx.x]) atomicAdd(&bins[n * kBins + threadIdx.x], (unsigned long long)counts[threadIdx.x]);
    __syncthreads();
  }
}

// Per image, the digit whose bin holds the remaining-th best score (bins summed from the
// top digit down), appended to the prefix; the bins zeroed for the next pass.
__global__ void __launch_bounds__(kThreads)
    select_kernel(Geometry g, SelectState* states, unsigned long long* bins) {
  __shared__ unsigned long long above[kBins];  // thread t: the scores in the t + 1 top bins
  for (int64_t n = blockIdx.x; n < g.N; n += gridDim.x) {
    const SelectState st = states[n];
    if (st.settled) continue;
    const unsigned bin = kBins - 1 - threadIdx.x;
    const unsigned long long count = bins[n * kBins + bin];
    above[threadIdx.x] = count;
    __syncthreads();
    for (int offset = 1; offset < kBins; offset *= 2) {
      const unsigned long long add = threadIdx.x >= unsigned(offset) ? above[threadIdx.x - offset] : 0;
      __syncthreads();
      above[threadIdx.x] += add;
      __syncthreads();
    }
    const unsigned long long through = above[threadIdx.x], before = through - count;
    bins[n * kBins + bin] = 0;
    if (before < st.remaining && st.remaining <= through) {  // one thread: the bin of the remaining-th
      SelectState next = st;
      next.remaining = st.remaining - before;
      next.settled = next.remaining == count;
      if (st.digits < 32 / kDigitBits) next.key_prefix = (st.key_prefix << kDigitBits) | bin;
      else next.index_prefix = (st.index_prefix << kDigitBits) | bin;
      next.digits = st.digits + 1;
      states[n] = next;
    }
    __syncthreads();
  }
}

// The K scores at or above each image's settled prefix into its candidate slots.
__global__ void __launch_bounds__(kThreads)
    gather_kernel(Geometry g, const uint32_t* __restrict__ keys, const SelectState* __restrict__ states,
                  unsigned long long* counts, uint32_t* out_keys, int64_t* out_indices) {
  const int64_t total = g.N * g.M;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / g.M, index = flat_index(g, i % g.M);
    if (compare_prefix(g, keys[i], index_rank(g, index), states[n]) < 0) continue;
    const unsigned long long slot = atomicAdd(&counts[n], 1ull);
    if (slot < (unsigned long long)g.K) {  // exactly K arrive; the test keeps a slip in bounds
      out_keys[n * g.L + int64_t(slot)] = keys[i];
      out_indices[n * g.L + int64_t(slot)] = index;
    }
  }
}

// One compare-exchange of the bitonic network's step (block, stride) on pair p of the
// candidates at keys and indices, which start at `place` of the image's: the
// better-ranked candidate (higher key, then lower index) first in ascending blocks.
__device__ __forceinline__ void compare_exchange(uint32_t* keys, int64_t* indices, int64_t p, int64_t block,
                                                 int64_t stride, int64_t place) {
  const int64_t lo = p / stride * 2 * stride + p % stride, hi = lo + stride;
  const bool hi_first = keys[hi] > keys[lo] || (keys[hi] == keys[lo] && indices[hi] < indices[lo]);
  const bool best_first = ((place + lo) & block) == 0;
  if (hi_first == best_first && (keys[hi] != keys[lo] || indices[hi] != indices[lo])) {
    const uint32_t k = keys[lo];
    keys[lo] = keys[hi];
    keys[hi] = k;
    const int64_t x = indices[lo];
    indices[lo] = indices[hi];
    indices[hi] = x;
  }
}

// Steps of the network within tiles of T = min(L, kSharedSortLength) candidates, one
// tile per block at a time in shared memory: for each block size from block_first to
// block_last, the strides from min(block / 2, T / 2) down to 1. A tile's pairs are its
// own at those strides; the directions come from the candidates' places in the image.
__global__ void __launch_bounds__(kThreads)
    tile_sort_kernel(Geometry g, uint32_t* keys, int64_t* indices, int64_t block_first, int64_t block_last) {
  const int64_t T = g.L < kSharedSortLength ? g.L : kSharedSortLength, tiles = g.L / T;
  OPZOO_DYNAMIC_SHARED(int64_t, tile_indices);  // T indices, then T keys
  uint32_t* tile_keys = reinterpret_cast<uint32_t*>(tile_indices + T);
  for (int64_t u = blockIdx.x; u < g.N * tiles; u += gridDim.x) {
    const int64_t first = u / tiles * g.L + u % tiles * T, place = u % tiles * T;
    for (int64_t i = threadIdx.x; i < T; i += blockDim.x) {
      tile_keys[i] = keys[first + i];
      tile_indices[i] = indices[first + i];
    }
    __syncthreads();
    for (int64_t block = block_first; block <= block_last; block *= 2)
      for (int64_t stride = (block < T ? block : T) / 2; stride > 0; stride /= 2) {
        for (int64_t p = threadIdx.x; p < T / 2; p += blockDim.x)
          compare_exchange(tile_keys, tile_indices, p, block, stride, place);
        __syncthreads();
      }
    for (int64_t i = threadIdx.x; i < T; i += blockDim.x) {
      keys[first + i] = tile_keys[i];
      indices[first + i] = tile_indices[i];
    }
    __syncthreads();
  }
}

// One step (block, stride) of the network on every image's candidates in global memory.
__global__ void __launch_bounds__(kThreads)
    sort_step_kernel(Geometry g, uint32_t* keys, int64_t* indices, int64_t block, int64_t stride) {
  const int64_t pairs = g.L / 2;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.N * pairs;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / pairs;
    compare_exchange(keys + n * g.L, indices + n * g.L, i % pairs, block, stride, 0);
  }
}

// boxes[n, k] from the k-th candidate, in float32 arithmetic rounded once to T.
template <class T>
__global__ void __launch_bounds__(kThreads)
    boxes_kernel(Geometry g, const T* __restrict__ heat, const T* __restrict__ wh, const T* __restrict__ reg,
                 const int64_t* __restrict__ indices, T* __restrict__ boxes) {
  const int64_t P = g.H * g.W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.N * g.K; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / g.K, index = indices[n * g.L + i % g.K], c = index / P, pix = index % P;
    const int64_t y = pix / g.W, x = pix % g.W;
    auto at = [&](const T* map, int j) { return to_float(map[g.nhwc ? (n * P + pix) * 2 + j : (n * 2 + j) * P + pix]); };
    const float xs = float(x) + (reg ? at(reg, 0) : 0.5f), ys = float(y) + (reg ? at(reg, 1) : 0.5f);
    const float w = at(wh, 0), h = at(wh, 1);
    T* box = boxes + i * 6;
    box[0] = from_float<T>(xs - w / 2.0f);
    box[1] = from_float<T>(ys - h / 2.0f);
    box[2] = from_float<T>(xs + w / 2.0f);
    box[3] = from_float<T>(ys + h / 2.0f);
    box[4] = from_float<T>(kept_score(g, heat + n * g.M, c, y, x));
    box[5] = from_float<T>(float(c));
  }
}

unsigned grid_for(int64_t work) { return unsigned(blocks_for(work)); }
unsigned blocks_of(int64_t units) { return unsigned(std::max<int64_t>(1, std::min(kMaxBlocks, units))); }

}  // namespace

void heatmap_decode(const HeatmapDecodeShape& s, DType dtype, const void* heat, const void* wh, const void* reg,
                    void* boxes, cudaStream_t stream) {
  if (s.N == 0 || s.K == 0) return;
  Geometry g{};
  g.N = s.N, g.C = s.C, g.H = s.H, g.W = s.W, g.K = s.K, g.M = s.C * s.H * s.W;
  g.nhwc = s.layout == Layout::NHWC;
  for (g.L = 1; g.L < g.K;) g.L *= 2;
  int bits = 0;
  while (bits < 64 && (uint64_t(g.M - 1) >> bits) != 0) ++bits;
  g.index_bits = (bits + kDigitBits - 1) / kDigitBits * kDigitBits;
  const int digits = 32 / kDigitBits + g.index_bits / kDigitBits;

  const Scratch<SelectState> states({g.N}, stream);
  const Scratch<unsigned long long> counts({g.N * kBins, g.N}, stream);  // bins, candidates gathered
  const Scratch<uint32_t> keys({g.N * g.M, g.N * g.L}, stream);          // every score's, the candidates'
  const Scratch<int64_t> indices({g.N * g.L}, stream);
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    OPZOO_LAUNCH(grid_for(std::max(g.N * kBins, g.N * g.L)), kThreads, 0, stream, start_kernel)(
        g, states[0], counts[0], counts[1], keys[1], indices[0]);
    OPZOO_LAUNCH(grid_for(g.N * g.M), kThreads, 0, stream, key_kernel<T>)(g, static_cast<const T*>(heat), keys[0]);
    const int64_t spans = (g.M + kHistogramSpan - 1) / kHistogramSpan;
    for (int d = 0; d < digits; ++d) {
      OPZOO_LAUNCH(blocks_of(g.N * spans), kThreads, 0, stream, histogram_kernel)(g, keys[0], states[0], counts[0]);
      OPZOO_LAUNCH(blocks_of(g.N), kThreads, 0, stream, select_kernel)(g, states[0], counts[0]);
    }
    OPZOO_LAUNCH(grid_for(g.N * g.M), kThreads, 0, stream, gather_kernel)(g, keys[0], states[0], counts[1], keys[1],
                                                                         indices[0]);
    // Tiles sorted in shared memory; then per larger block size, the strides of a tile
    // or more in global memory and the rest in the tiles again.
    const int64_t tile = std::min(g.L, kSharedSortLength), tiles = g.N * (g.L / tile);
    const size_t tile_bytes = size_t(tile) * (sizeof(int64_t) + sizeof(uint32_t));
    OPZOO_LAUNCH(blocks_of(tiles), kThreads, tile_bytes, stream, tile_sort_kernel)(g, keys[1], indices[0], 2, tile);
    for (int64_t block = 2 * tile; block <= g.L; block *= 2) {
      for (int64_t stride = block / 2; stride >= tile; stride /= 2)
        OPZOO_LAUNCH(grid_for(g.N * g.L / 2), kThreads, 0, stream, sort_step_kernel)(g, keys[1], indices[0], block,
                                                                                     stride);
      OPZOO_LAUNCH(blocks_of(tiles), kThreads, tile_bytes, stream, tile_sort_kernel)(g, keys[1], indices[0], block,
                                                                                   block);
    }
    OPZOO_LAUNCH(grid_for(g.N * g.K), kThreads, 0, stream, boxes_kernel<T>)(
        g, static_cast<const T*>(heat), static_cast<const T*>(wh), static_cast<const T*>(reg), indices[0],
        static_cast<T*>(boxes));
    check_launch("heatmap decoding");
  });
}

}  // namespace opzoo::cuda

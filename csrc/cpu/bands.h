// How kernels that work band by band (a few output rows of a plane or an image at a
// time, from a copy of the input rows they read) size their bands and pull the next
// band's input towards the cache. Internal linkage (kernel_common.h says why).
#pragma once

#include <cstdint>

#include "kernel_common.h"

namespace opzoo::cpu {
namespace {

// Output rows per band, of out_rows in all, where one output row reads `window` input
// rows of row_len elements and each further row `stride` more: the band's input rows
// fit `budget`, and, when threads > 0, there are enough (task, band) pairs to keep
// every thread busy. A multiple of `block_rows`.
inline int64_t band_rows(int64_t out_rows, int64_t window, int64_t stride, int64_t row_len, int64_t budget,
                         int64_t tasks, int threads, int block_rows = 1) {
  int64_t rows = (budget / max64(row_len, 1) - window) / stride + 1;
  rows = max64(1, min64(rows, out_rows));
  const int64_t want_bands = ceil_div(4 * int64_t(threads), max64(tasks, 1));
  if (ceil_div(out_rows, rows) < want_bands) rows = max64(1, ceil_div(out_rows, want_bands));
  return round_up(rows, block_rows);
}

// Cache lines prefetched per step at least: fewer are not worth a separate step.
constexpr int64_t kPrefetchLines = 16;
// Inputs smaller than this (a 45 x 45 plane) are left to the hardware prefetchers: not
// worth splitting the work into prefetch steps.
constexpr int64_t kPrefetchMinBytes = 8192;

// A byte span to prefetch into L2 in `parts` steps, one cache line at a time.
struct PrefetchSpan {
  const char* begin;
  int64_t bytes;
  void part(int64_t i, int64_t parts) const {
    for (int64_t b = bytes * i / parts; b < bytes * (i + 1) / parts; b += 64) __builtin_prefetch(begin + b, 0, 2);
  }
};

}  // namespace
}  // namespace opzoo::cpu

// How kernels that work band by band (a few output rows of a plane or an image at a
// time, from a copy of the input rows they read) size their bands and pull the input
// they read next towards the cache. Internal linkage (kernel_common.h says why).
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

// Pulls the 64-byte lines of [p + ahead, p + ahead + bytes) towards the core: into L1
// (Locality 3) or L2 (2). They may lie past the end of p's array: a prefetch never faults.
template <int Locality>
inline void prefetch_lines(const void* p, int64_t bytes, int64_t ahead = 0) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p) + uintptr_t(ahead), end = begin + uintptr_t(bytes);
  for (uintptr_t a = begin & ~uintptr_t(63); a < end; a += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(a), 0, Locality);
}

// Share `part` of `parts` of the lines of [p, p + bytes), for a prefetch spread over a
// loop of `parts` steps.
template <int Locality>
inline void prefetch_share(const void* p, int64_t bytes, int64_t part, int64_t parts) {
  const int64_t begin = bytes * part / parts;
  prefetch_lines<Locality>(p, bytes * (part + 1) / parts - begin, begin);
}

}  // namespace
}  // namespace opzoo::cpu

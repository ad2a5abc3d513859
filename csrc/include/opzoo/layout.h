// Memory layouts of image-like tensors, shared by every family that takes `layout`.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define OPZOO_HOST_DEVICE __host__ __device__
#else
#define OPZOO_HOST_DEVICE
#endif

namespace opzoo {

enum class Layout : int { NCHW = 0, NHWC = 1 };

// Element offset of (n, c, h, w) in an array of C channels and extent (H, W) dense in
// `layout`, for CPU and CUDA kernels alike. Internal linkage: each per-ISA translation
// unit keeps the copy compiled with its own flags (csrc/cpu/kernel_common.h says why).
static inline OPZOO_HOST_DEVICE int64_t dense_offset(Layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                                                     int64_t C, int64_t H, int64_t W) {
  return layout == Layout::NCHW ? ((n * C + c) * H + h) * W + w : ((n * H + h) * W + w) * C + c;
}

}  // namespace opzoo

// The geometry of a window sliding over one axis of an image, shared by every family
// with a convolution-like window (the bindings check its inputs: params.h, conv_window).
#pragma once

#include <cstdint>

namespace opzoo {

// Output extent for one axis, or a value <= 0 when the kernel does not fit. in + pad_lo
// + pad_hi and (k - 1) * dilation + 1 must fit int64 (conv_window checks both).
inline int64_t conv_output_extent(int64_t in, int64_t pad_lo, int64_t pad_hi, int64_t k, int64_t stride,
                                  int64_t dilation) {
  const int64_t span = (k - 1) * dilation + 1;
  const int64_t padded = in + pad_lo + pad_hi;
  if (padded < span) return 0;
  return (padded - span) / stride + 1;
}

}  // namespace opzoo

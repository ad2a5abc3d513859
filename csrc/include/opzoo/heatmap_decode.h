// CenterNet's detection decoding (Zhou et al., "Objects as Points"; xingyizhou/CenterNet
// ctdet_decode): keep each heatmap score that equals the maximum of its 3x3
// neighbourhood (zero the rest), take the K best over all classes and pixels of an
// image, and turn each into a box from the size (wh) and offset (reg) maps.
#pragma once

#include <cstdint>

#include "opzoo/layout.h"

namespace opzoo {

// heat (N, C, H, W), wh and reg (N, 2, H, W), each dense in `layout`; boxes (N, K, 6);
// 0 <= K <= C * H * W (the bindings check it: the kernel relies on it).
struct HeatmapDecodeShape {
  int64_t N, C, H, W, K;
  Layout layout;
};

// boxes[n, k] = (x - w/2, y - h/2, x + w/2, y + h/2, score, class) for the image's k-th
// best kept score, with x, y the pixel plus its offset from reg (plus 0.5 where reg is
// null), w, h from wh. Order: score descending, then flat index c*H*W + y*W + x
// ascending; a NaN score ranks above every number. A score that is not kept is
// heat * 0 (so 0, or NaN for NaN and infinities, as CenterNet's heat * keep gives).
template <class T>
struct HeatmapDecodeKernels {
  void (*decode)(const HeatmapDecodeShape&, const T* heat, const T* wh, const T* reg, T* boxes);
};

const HeatmapDecodeKernels<float>& heatmap_decode_kernels_f32();
const HeatmapDecodeKernels<double>& heatmap_decode_kernels_f64();

}  // namespace opzoo

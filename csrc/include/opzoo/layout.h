// Memory layouts of image-like tensors, shared by every family that takes `layout`.
#pragma once

namespace opzoo {

enum class Layout : int { NCHW = 0, NHWC = 1 };

}  // namespace opzoo

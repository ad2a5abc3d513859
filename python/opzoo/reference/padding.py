"""Padding of a 2-D window sliding over an image, in every form the ops accept, as
explicit (top, bottom, left, right): the spec's own formula, independent of the
kernel modules' (csrc/bindings/params.cpp)."""

from __future__ import annotations

import numpy as np


def pair(v) -> tuple[int, int]:
    """An int or an (h, w) pair, as (h, w)."""
    return (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(e) for e in v)


def resolve_padding(padding, in_hw, kernel_hw, stride, dilation) -> tuple[int, int, int, int]:
    """``padding`` is an int, ``(ph, pw)``, ``(top, bottom, left, right)``, ``"valid"``
    (none) or ``"same"``: TensorFlow's SAME, output size ``ceil(in / stride)`` with the
    odd pixel of padding at the bottom/right (asymmetric at stride 2)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for n, k, s, d in zip(in_hw, kernel_hw, pair(stride), pair(dilation)):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(int(p) for p in padding)
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)

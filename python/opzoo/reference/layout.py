"""The references compute in NCHW and float64: an input in either layout, as that."""

import numpy as np


def to_nchw(x, layout):
    """x (N, C, H, W) or (N, H, W, C) as a float64 (N, C, H, W) view or copy; None stays None."""
    if x is None:
        return None
    x = np.asarray(x, dtype=np.float64)
    return x if layout == "NCHW" else x.transpose(0, 3, 1, 2)


def from_nchw(y, layout):
    """An (N, C, H, W) result in `layout`."""
    return y if layout == "NCHW" else y.transpose(0, 2, 3, 1)

"""Squeeze-excite's demo (no PERF.md case of its own: case K times it inside opzoo.nn's
EfficientNet)."""

from __future__ import annotations

import numpy as np

from .. import reference
from ..ops.squeeze_excite import squeeze_excite
from . import register_demo


def _demo() -> tuple[str, bool]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 7, 96), dtype=np.float32)
    w_reduce = (rng.standard_normal((4, 96)) / 10).astype(np.float32)
    w_expand = (rng.standard_normal((96, 4)) / 2).astype(np.float32)
    y = squeeze_excite(x, w_reduce, w_expand, layout="NHWC")
    err = float(np.abs(y - reference.squeeze_excite(x, w_reduce, w_expand, layout="NHWC")).max())
    return f"x{x.shape} NHWC, R=4 -> y{y.shape}  max |error| vs reference {err:.2e}", err < 1e-4


register_demo("squeeze_excite", _demo)

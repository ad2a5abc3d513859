"""The bias-activation op's demo (no PERF.md case of its own: case K times it inside
opzoo.nn's matrix products)."""

from __future__ import annotations

import numpy as np

from .. import reference
from ..ops.activation import bias_activation
from . import register_demo


def _demo() -> tuple[str, bool]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 96), dtype=np.float32)
    bias, residual = rng.standard_normal(96, dtype=np.float32), rng.standard_normal((64, 96), dtype=np.float32)
    y = bias_activation(x, bias, "silu", residual=residual)
    err = float(np.abs(y - reference.bias_activation(x, bias, "silu", residual)).max())
    return f"x{x.shape} + bias{bias.shape} -> silu -> + residual  max |error| vs reference {err:.2e}", err < 1e-4


register_demo("bias_activation", _demo)

"""What every architecture of the model layer is built from: state_dict entries read as
NumPy (folded in float64, kept in float32), batch norm folded into the convolution
before it, convolutions as matrix products in NHWC (pointwise ones directly, a k x k
one through its patches) with bias, activation and residual applied by opzoo to each
block of the product's rows right after it, and the
array library of a call (NumPy on the CPU, CuPy on a GPU, the weights copied to each
device once).

Threads: one pool, opzoo's (``opzoo.set_num_threads``), runs the kernels and, on the
CPU, the matrix products (:mod:`opzoo.nn._blas`). Memory: a model keeps its intermediate
buffers from call to call (per calling thread and shape), so that the next call finds
its pages mapped: fresh ones cost a page fault per 4 KB (38 MB, B0's largest layer at
batch 8: 2.4 ms of a 4.4 ms product).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Mapping

import numpy as np

from .. import _cpu
from ..ops.activation import bias_activation
from ._blas import sgemm_attached


def to_numpy(value: Any, key: str) -> np.ndarray:
    """A state_dict entry (a torch tensor or an array) as a float64 NumPy array, for folding."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, on any device
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{key}: expected a tensor or an array of numbers, got {type(value).__name__}") from e


class StateDict:
    """A state_dict's entries by key, each checked against the shape the architecture
    expects when it is read: KeyError naming a missing key, ValueError naming the key and
    both shapes for the first that does not fit."""

    def __init__(self, state_dict: Mapping[str, Any], variant: str):
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of names to tensors or arrays, got "
                            f"{type(state_dict).__name__}")
        self._entries = state_dict
        self._variant = variant
        self.used: set[str] = set()

    def shape(self, key: str) -> tuple[int, ...]:
        if key not in self._entries:
            raise KeyError(f"{key}: missing from the state_dict, which {self._variant} needs")
        value = self._entries[key]
        if not hasattr(value, "shape"):
            raise TypeError(f"{key}: expected a tensor or an array of numbers, got {type(value).__name__}")
        return tuple(value.shape)

    def has(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        got = self.shape(key)
        if got != tuple(shape):
            raise ValueError(f"{key}: {self._variant} expects shape {tuple(shape)}, the state_dict holds {got}")
        self.used.add(key)
        return to_numpy(self._entries[key], key)

    def check_all_used(self) -> None:
        """ValueError naming the first entry the architecture did not read (but batch
        norm's num_batches_tracked), as torch's strict load_state_dict."""
        for key in self._entries:
            if key not in self.used and not key.endswith("num_batches_tracked"):
                raise ValueError(f"{key}: not an entry of {self._variant} (the state_dict of another model?)")


def folded_batch_norm(sd: StateDict, prefix: str, channels: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) of batch norm `prefix` in eval mode: y = x * scale + shift."""
    gamma, beta = sd.get(prefix + ".weight", (channels,)), sd.get(prefix + ".bias", (channels,))
    mean, var = sd.get(prefix + ".running_mean", (channels,)), sd.get(prefix + ".running_var", (channels,))
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def as_float32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def folded_conv(sd: StateDict, key: str, bn: str | None, c_out: int, c_in: int | None, k: int,
                eps: float) -> tuple[np.ndarray, np.ndarray]:
    """A k x k convolution's weight `key` (bias-free) with batch norm `bn` folded in, and
    the bias that leaves: (k * k * c_in, c_out) for the matrix product ((kh, kw, cin)
    rows), or (c_out, 1, k, k) for depthwise (c_in None). Without bn, the weight as it
    is and a zero bias."""
    w = sd.get(key, (c_out, 1 if c_in is None else c_in, k, k))
    scale, shift = folded_batch_norm(sd, bn, c_out, eps) if bn else (np.ones(c_out), np.zeros(c_out))
    w = w * scale[:, None, None, None]
    matrix = w if c_in is None else w.transpose(2, 3, 1, 0).reshape(k * k * c_in, c_out)
    return as_float32(matrix), as_float32(shift)


class Params:
    """An architecture's float32 weights: NumPy arrays, and their copies on each GPU a call
    has used (made on first use)."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.host = arrays
        self._devices: dict[Any, dict[str, Any]] = {}

    def on(self, xp, device=None) -> dict[str, Any]:
        if xp is np:
            return self.host
        if device not in self._devices:
            with xp.cuda.Device(device):
                self._devices[device] = {k: xp.asarray(a) for k, a in self.host.items()}
        return self._devices[device]


def array_module(x: Any, name: str = "x"):
    """(xp, device) for a model input: NumPy, or CuPy for a CuPy array (its device id)."""
    if isinstance(x, np.ndarray):
        return np, None
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy, x.device.id
    raise TypeError(f"{name}: expected a NumPy or CuPy array, got {type(x).__name__}")


class Clock:
    """Seconds per stage into `timings` (a dict, or None for no timing), synchronising the
    GPU first when there is one so that each stage's own work is counted."""

    def __init__(self, timings: dict | None, xp):
        self.timings = timings
        self._sync = (lambda: xp.cuda.get_current_stream().synchronize()) if xp is not np else (lambda: None)
        self._t = time.perf_counter() if timings is not None else 0.0

    def lap(self, stage: str) -> None:
        if self.timings is None:
            return
        self._sync()
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._t
        self._t = now


class Workspace:
    """Arrays reused from call to call: ``take`` hands out a free array of the shape (or a
    new one), ``give`` takes it back. One per thread that calls a model."""

    def __init__(self):
        self._local = threading.local()

    def _free(self) -> dict:
        if not hasattr(self._local, "free"):
            self._local.free = {}
        return self._local.free

    def take(self, xp, shape: tuple[int, ...]):
        free = self._free().get((xp.__name__, shape))
        return free.pop() if free else xp.empty(shape, dtype=xp.float32)

    def give(self, *arrays) -> None:
        for a in arrays:
            self._free().setdefault((type(a).__module__.split(".")[0], a.shape), []).append(a)


def pointwise(xp, ws: Workspace, x, weight, bias, activation, residual=None):
    """A 1x1 convolution on NHWC x as the matrix product x (N*H*W, Cin) @ weight (Cin, Cout),
    with bias, activation and residual fused (see :mod:`opzoo.nn._blas`); the result in a
    workspace array."""
    n, h, w, c = x.shape
    y = ws.take(xp, (n, h, w, weight.shape[1]))
    flat, rows = y.reshape(n * h * w, weight.shape[1]), x.reshape(n * h * w, c)
    res = None if residual is None else residual.reshape(flat.shape)
    if xp is np and sgemm_attached():
        _cpu.gemm_bias_activation(rows, weight, bias, res, flat, activation)
    else:
        xp.matmul(rows, weight, out=flat)
        bias_activation(flat, bias, activation, residual=res, out=flat)
    return y


def conv_patches(xp, ws: Workspace, x_nchw, k: int, stride: int, pads: tuple[int, int, int, int]):
    """The k x k patches of an NCHW image batch, NHWC-ordered: (N, Ho, Wo, k * k * C) with
    (kh, kw, c) in the last axis, so that a convolution is one matrix product with its
    weight as (kh, kw, Cin, Cout); a workspace array."""
    n, c, h, w = x_nchw.shape
    top, bottom, left, right = pads
    ho = (h + top + bottom - k) // stride + 1
    wo = (w + left + right - k) // stride + 1
    padded = ws.take(xp, (n, h + top + bottom, w + left + right, c))
    padded[:, :top], padded[:, top + h:], padded[:, :, :left], padded[:, :, left + w:] = 0, 0, 0, 0
    padded[:, top:top + h, left:left + w] = x_nchw.transpose(0, 2, 3, 1)
    cols = ws.take(xp, (n, ho, wo, k * k * c))
    taps = cols.reshape(n, ho, wo, k, k, c)
    for a in range(k):
        for b in range(k):
            taps[:, :, :, a, b] = padded[:, a:a + stride * (ho - 1) + 1:stride, b:b + stride * (wo - 1) + 1:stride]
    ws.give(padded)
    return cols


class RandomWeights:
    """Random entries of a state_dict for examples and tests that need no download, drawn
    in call order from `rng` into ``self.state_dict``: convolutions scaled by their fan-in,
    batch norms with affine parameters and statistics near (1, 0)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.state_dict: dict[str, np.ndarray] = {}

    def conv(self, key: str, c_out: int, c_in: int, k: int) -> None:
        fan_in = c_in * k * k
        self.state_dict[key] = (self.rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(fan_in)).astype(np.float32)

    def batch_norm(self, prefix: str, c: int) -> None:
        sd, rng = self.state_dict, self.rng
        sd[prefix + ".weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[prefix + ".bias"] = rng.normal(0, 0.1, c).astype(np.float32)
        sd[prefix + ".running_mean"] = rng.normal(0, 0.1, c).astype(np.float32)
        sd[prefix + ".running_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)

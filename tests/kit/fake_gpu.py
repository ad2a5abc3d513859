"""A CUDA stand-in in host memory, for testing the CUDA path's Python side on any
machine: :class:`FakeGpuArray` behaves as a CuPy array (the interface opzoo uses,
nothing more) and :class:`CpuKernelsAsCuda` as ``opzoo._cuda``, running each kernel
function of the same name in ``opzoo._cpu`` on the memory the descriptors point at.
"""

from __future__ import annotations

import contextlib
import ctypes
from types import SimpleNamespace

import numpy as np

from opzoo import _cpu


class FakeGpuArray:
    """A CuPy-like array in host memory."""

    __module__ = "cupy._core.core"

    def __init__(self, a, device=0):
        self._a = a
        self.device = SimpleNamespace(id=device)

    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    flags = property(lambda self: SimpleNamespace(c_contiguous=self._a.flags.c_contiguous))

    @property
    def __cuda_array_interface__(self):
        dense = self._a.flags.c_contiguous
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "data": (self._a.ctypes.data, False),
                "strides": None if dense else self._a.strides, "version": 3}

    def transpose(self, axes):
        return FakeGpuArray(self._a.transpose(axes))

    def reshape(self, *shape):
        return FakeGpuArray(self._a.reshape(*shape))

    def __getitem__(self, key):
        return FakeGpuArray(self._a[key])

    def __setitem__(self, key, value):
        self._a[key] = value._a if isinstance(value, FakeGpuArray) else value


def fake_cupy():
    """The parts of the cupy module opzoo calls."""
    return SimpleNamespace(
        ascontiguousarray=lambda a: FakeGpuArray(np.ascontiguousarray(a._a)),
        empty=lambda shape, dtype: FakeGpuArray(np.full(shape, np.nan, dtype)),  # NaN: unwritten shows
        cuda=SimpleNamespace(Device=lambda device: contextlib.nullcontext(),
                             get_current_stream=lambda: SimpleNamespace(ptr=12345)),
    )


def _is_descriptor(value) -> bool:
    return isinstance(value, tuple) and len(value) == 5 and isinstance(value[3], str)


def host_view(descriptor) -> np.ndarray:
    """The array a descriptor names, as the real module would see it (dense, float32)."""
    ptr, shape, strides, dtype, device = descriptor
    assert dtype == "float32" and device == 0
    n = int(np.prod(shape))
    if n == 0:
        return np.empty(shape, np.float32)
    dense = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
    assert strides is None or all(e == 1 or s == d for e, s, d in zip(shape, strides, dense)), strides
    return np.frombuffer((ctypes.c_float * n).from_address(ptr), np.float32).reshape(shape)


class CpuKernelsAsCuda:
    """opzoo._cuda's kernel functions: each runs opzoo._cpu's function of the same name
    on the host memory its descriptors name; `streams` records the streams asked for."""

    def __init__(self):
        self.streams = []

    def __getattr__(self, kernel):
        run = getattr(_cpu, kernel)

        def launch(*args, stream, **params):
            self.streams.append(stream)
            run(*(host_view(a) if _is_descriptor(a) else a for a in args), **params)

        return launch

"""A CUDA stand-in in host memory, for testing the CUDA path on any machine:
:class:`FakeGpuArray` behaves as a CuPy array (the interface opzoo uses, nothing more;
float32, float16 and bfloat16), which the emulated build of ``opzoo._cuda``
(``OPZOO_CUDA=emulate``) runs its kernels on; and :class:`CpuKernelsAsCuda` behaves as
``opzoo._cuda``, running each kernel function of the same name in ``opzoo._cpu`` on the
memory the descriptors point at, for the Python side alone.
"""

from __future__ import annotations

import contextlib
import ctypes
from types import SimpleNamespace

import numpy as np

from opzoo import _cpu


class _Bfloat16:
    """The dtype of a bfloat16 FakeGpuArray, which NumPy lacks: named as CUDA libraries
    name it; the elements are the top 16 bits of float32, stored as uint16."""

    def __str__(self):
        return "bfloat16"


BFLOAT16 = _Bfloat16()
_BFLOAT16_NAN = 0x7FC0


class FakeGpuArray:
    """A CuPy-like array in host memory (float16 and float32 as NumPy stores them,
    bfloat16 as uint16 bits: `dtype=BFLOAT16`)."""

    __module__ = "cupy._core.core"

    def __init__(self, a, device=0, dtype=None):
        self._a = a
        self._dtype = dtype
        self.device = SimpleNamespace(id=device)

    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._dtype or self._a.dtype)
    size = property(lambda self: self._a.size)
    flags = property(lambda self: SimpleNamespace(c_contiguous=self._a.flags.c_contiguous))

    @property
    def __cuda_array_interface__(self):
        dense = self._a.flags.c_contiguous
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "data": (self._a.ctypes.data, False),
                "strides": None if dense else self._a.strides, "version": 3}

    def _like(self, a):
        return FakeGpuArray(a, self.device.id, self._dtype)

    def transpose(self, axes):
        return self._like(self._a.transpose(axes))

    def reshape(self, *shape):
        return self._like(self._a.reshape(*shape))

    def __getitem__(self, key):
        return self._like(self._a[key])

    def __setitem__(self, key, value):
        self._a[key] = value._a if isinstance(value, FakeGpuArray) else value


def _empty(shape, dtype):
    # Filled with NaN (integers: their least value), so an element a kernel does not write shows.
    if dtype is BFLOAT16:
        return FakeGpuArray(np.full(shape, _BFLOAT16_NAN, np.uint16), dtype=BFLOAT16)
    if np.dtype(dtype).kind in "iu":
        return FakeGpuArray(np.full(shape, np.iinfo(dtype).min, dtype))
    return FakeGpuArray(np.full(shape, np.nan, dtype))


def fake_cupy():
    """The parts of the cupy module opzoo calls."""
    return SimpleNamespace(
        ascontiguousarray=lambda a: a._like(np.ascontiguousarray(a._a)),
        asarray=lambda a: FakeGpuArray(np.array(a)),
        empty=_empty,
        cuda=SimpleNamespace(Device=lambda device: contextlib.nullcontext(),
                             get_current_stream=lambda: SimpleNamespace(ptr=12345)),
    )


def to_fake_gpu(a: np.ndarray, dtype: str) -> FakeGpuArray:
    """A float32 NumPy array as a FakeGpuArray of dtype "float32", "float16" or
    "bfloat16" (rounded to nearest even, as a GPU library converts)."""
    if dtype != "bfloat16":
        return FakeGpuArray(np.ascontiguousarray(a.astype(dtype)))
    bits = np.ascontiguousarray(a, np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return FakeGpuArray(np.where(np.isnan(a), _BFLOAT16_NAN, rounded).astype(np.uint16), dtype=BFLOAT16)


def from_fake_gpu(a: FakeGpuArray) -> np.ndarray:
    """A FakeGpuArray's values as float32 NumPy."""
    if a.dtype is BFLOAT16:
        return (a._a.astype(np.uint32) << 16).view(np.float32)
    return a._a.astype(np.float32)


def _is_descriptor(value) -> bool:
    return isinstance(value, tuple) and len(value) == 5 and isinstance(value[3], str)


def host_view(descriptor) -> np.ndarray:
    """The array a descriptor names, as the real module would see it (dense, float32, or
    int64 for indices)."""
    ptr, shape, strides, dtype, device = descriptor
    assert dtype in ("float32", "int64") and device == 0
    element = np.float32 if dtype == "float32" else np.int64
    n = int(np.prod(shape))
    if n == 0:
        return np.empty(shape, element)
    dense = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
    assert strides is None or all(e == 1 or s == d for e, s, d in zip(shape, strides, dense)), strides
    c_type = ctypes.c_float if dtype == "float32" else ctypes.c_int64
    return np.frombuffer((c_type * n).from_address(ptr), element).reshape(shape)


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

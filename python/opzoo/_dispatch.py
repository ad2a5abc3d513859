"""The back end of one op call, chosen once from the call's array arguments.

:func:`backend_for` takes an op's array arguments by name (``None`` passes through),
checks that they are of one kind and one dtype, and returns the back end that runs
them with views of the arrays for its kernels:

* ``numpy.ndarray`` and anything with ``__array_interface__`` or the buffer protocol:
  ``opzoo._cpu``; NumPy in, NumPy out.
* ``torch.Tensor`` on the CPU: read as NumPy views of their memory, results returned as
  torch tensors over the kernels' output memory (no copies either way). Tensors that
  require grad are read detached: the functional API records no autograd graph
  (:mod:`opzoo.torch` has the ops that do).
* Any other ``__dlpack__`` producer on the CPU: read through DLPack; results are handed
  back through its array-API namespace's ``from_dlpack`` when it has one
  (``__array_namespace__``), else as NumPy arrays.
* Arrays in CUDA device memory (PyTorch, CuPy, Numba): ``opzoo._cuda``, through the
  back end of :mod:`opzoo._device`.

Every back end offers the same operations, so an op is one pipeline for all of them:
``run(kernel, arrays, *params)`` calls the kernel module's function ``kernel`` with
the arrays as that module reads them, then the other parameters, all positional; ``empty``, ``contiguous``, ``permute``,
``is_dense``, ``copy_into``, ``may_share_memory`` and ``writable`` work in the arrays'
own library; ``wrap`` turns a result into the caller's array type; ``permutes`` says
whether arrays can be viewed in another axis order.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Callable

import numpy as np

from . import _cpu
from ._device import OUTPUT_NAME, device_backend, is_device_array, torch_resolved, type_name

#: dtypes the CPU kernels read and write, in native byte order.
HOST_DTYPES = (np.float32, np.float64)
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)

_DLPACK_CPU = 1


#: Alignment of the arrays opzoo allocates on the CPU: a cache line, so that kernels may
#: write whole lines with streaming stores (NumPy's own allocations are 16-byte aligned).
CACHE_LINE = 64


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on a cache line."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + CACHE_LINE, np.uint8)
    start = -raw.ctypes.data % CACHE_LINE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _identity(a: np.ndarray) -> np.ndarray:
    return a


class HostBackend:
    """CPU arrays, as NumPy views, run by ``opzoo._cpu``."""

    __slots__ = ("wrap",)
    permutes = True

    def __init__(self, wrap: Callable[[np.ndarray], Any]):
        self.wrap = wrap

    @staticmethod
    def run(kernel: str, arrays: tuple, *params) -> None:
        getattr(_cpu, kernel)(*arrays, *params)

    @staticmethod
    def empty(shape: tuple[int, ...], like: np.ndarray, dtype: str | None = None) -> np.ndarray:
        """An uninitialised array of like's dtype, or of the dtype named."""
        return aligned_empty(shape, like.dtype if dtype is None else dtype)

    @staticmethod
    def is_dense(a: np.ndarray) -> bool:
        return a.flags.c_contiguous and a.dtype.isnative

    @staticmethod
    def contiguous(a: np.ndarray | None, name: str) -> np.ndarray | None:
        # asarray, not ascontiguousarray, which makes a 0-d array 1-d.
        return None if a is None else np.asarray(a, order="C")

    @staticmethod
    def permute(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        return a.transpose(axes)

    @staticmethod
    def copy_into(out: np.ndarray, value: np.ndarray) -> None:
        np.copyto(out, value)

    @staticmethod
    def may_share_memory(a: np.ndarray, b: np.ndarray) -> bool:
        return np.may_share_memory(a, b)

    @staticmethod
    def writable(a: np.ndarray) -> bool:
        return a.flags.writeable


NUMPY = HostBackend(_identity)


def _not_a_cpu_array(name: str, obj: Any) -> RuntimeError:
    return RuntimeError(f"{name}: {type_name(obj)} lives on a device opzoo has no kernels for; pass a CPU or CUDA array")


def _torch_tensor_type():
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None)


def _to_numpy(obj: Any, name: str) -> tuple[np.ndarray, str, Callable[[np.ndarray], Any]]:
    """One CPU argument as a NumPy view, its kind, and the converter back to its type."""
    if isinstance(obj, np.ndarray):
        return obj, "numpy", _identity
    tensor_type = _torch_tensor_type()
    if tensor_type is not None and isinstance(obj, tensor_type):
        if obj.device.type != "cpu":  # CUDA tensors went to the device back end already
            raise _not_a_cpu_array(name, obj)
        torch = sys.modules["torch"]
        return np.from_dlpack(torch_resolved(obj, name).detach()), "torch", torch.from_numpy
    if hasattr(obj, "__array_interface__") or hasattr(obj, "__array_struct__"):
        return np.asarray(obj), "numpy", _identity
    if hasattr(obj, "__dlpack__"):
        device = obj.__dlpack_device__() if hasattr(obj, "__dlpack_device__") else (_DLPACK_CPU, 0)
        if int(device[0]) != _DLPACK_CPU:
            raise _not_a_cpu_array(name, obj)
        namespace = obj.__array_namespace__() if hasattr(obj, "__array_namespace__") else None
        back = namespace.from_dlpack if namespace is not None else _identity
        return np.from_dlpack(obj), type_name(obj), back
    try:
        memoryview(obj)
    except TypeError:
        raise TypeError(
            f"{name}: expected an array (NumPy, PyTorch, or an object with __array_interface__, "
            f"the buffer protocol or __dlpack__), got {type_name(obj)}"
        ) from None
    return np.asarray(obj), "numpy", _identity


def backend_for(optional: tuple[str, ...] = (), /, **arrays: Any) -> tuple[Any, tuple]:
    """The back end for these array arguments, and the arrays as its kernels read them
    (in argument order). The first array's dtype is the call's; the arguments named in
    `optional` may be ``None`` (kept as ``None``).

    Raises TypeError for a required argument that is None, arrays of different types or
    dtypes, or a dtype the back end has no kernels for; ValueError for CPU and CUDA
    arrays mixed, or two devices.
    """
    dtype = None
    for name, a in arrays.items():  # native NumPy arrays of one accepted dtype, the common case, without probes
        if a is None:
            if name not in optional:
                return _backend_for(arrays, optional)
            continue
        if type(a) is not np.ndarray or (dtype is not None and a.dtype != dtype):
            return _backend_for(arrays, optional)
        dtype = a.dtype
    if dtype is None or not (dtype == _FLOAT32 or dtype == _FLOAT64):  # equality: byte order counts, metadata not
        return _backend_for(arrays, optional)
    return NUMPY, tuple(arrays.values())


def _torch_cpu_views(arrays: dict[str, Any]) -> tuple | None:
    """NumPy views of the arrays when every one given is a CPU torch tensor of one dtype
    the kernels take, without a negative or conjugate bit (the common case of torch
    callers, :mod:`opzoo.torch` among them, checked without DLPack round trips); else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dtype = None
    for a in arrays.values():
        if a is None:
            continue
        if not (isinstance(a, torch.Tensor) and a.is_cpu) or a.is_neg() or a.is_conj():
            return None
        if dtype is None:
            if a.dtype not in (torch.float32, torch.float64):
                return None
            dtype = a.dtype
        elif a.dtype != dtype:
            return None
    if dtype is None:
        return None
    return tuple(None if a is None else a.detach().numpy() for a in arrays.values())


_TORCH_HOST: HostBackend | None = None


def _torch_host() -> HostBackend:
    global _TORCH_HOST
    if _TORCH_HOST is None:
        _TORCH_HOST = HostBackend(sys.modules["torch"].from_numpy)
    return _TORCH_HOST


def _backend_for(arrays: dict[str, Any], optional: tuple[str, ...]) -> tuple[Any, tuple]:
    for name, a in arrays.items():
        if a is None and name not in optional:
            raise TypeError(f"{name}: expected an array, got None")
    views = _torch_cpu_views(arrays)
    if views is not None:
        return _torch_host(), views
    for a in arrays.values():
        if is_device_array(a):
            return device_backend(arrays)
    views = []
    first = None  # (name, kind, converter back, dtype)
    for name, obj in arrays.items():
        if obj is None:
            views.append(None)
            continue
        view, kind, back = _to_numpy(obj, name)
        if first is None:
            first = (name, kind, back, _native(view.dtype))
        elif kind != first[1]:
            raise TypeError(f"all arrays must be of one type: {first[0]} is {first[1]}, {name} is {kind}")
        views.append(view)
    first_name, _, back, dtype = first
    if dtype.type not in HOST_DTYPES:
        names = " or ".join(np.dtype(t).name for t in HOST_DTYPES)
        raise TypeError(f"{first_name}: expected dtype {names}, got {dtype}")
    for i, (name, view) in enumerate(zip(arrays, views)):
        if view is None:
            continue
        if _native(view.dtype) != dtype:
            raise TypeError(f"{name}: expected dtype {dtype} (the dtype of {first_name}), got {view.dtype}")
        if not view.dtype.isnative and name != OUTPUT_NAME:
            # Read in native byte order, as NumPy's own functions do; a byte-swapped `out`
            # is written through a copy (HostBackend.is_dense is False for it).
            views[i] = view.astype(dtype)
    return (NUMPY if back is _identity else HostBackend(back)), tuple(views)


def _native(dtype: np.dtype) -> np.dtype:
    return dtype if dtype.isnative else dtype.newbyteorder("=")

"""Array-type dispatch and argument validation shared by every op.

Each op hands its array arguments to :func:`host_arrays`, which turns them into
NumPy views of the same memory (zero-copy) and returns a function that turns the
op's NumPy results back into the caller's array type:

* ``numpy.ndarray`` and anything with ``__array_interface__`` or the buffer
  protocol: NumPy in, NumPy out.
* ``torch.Tensor`` on the CPU: read through DLPack, results returned as torch
  tensors through DLPack (no copies either way). Tensors that require grad are
  read detached: the functional API records no autograd graph.
* Any other ``__dlpack__`` producer on the CPU: read through DLPack; results are
  handed back through its array-API namespace's ``from_dlpack`` when it has one
  (``__array_namespace__``), else as NumPy arrays.

Arrays on a GPU go to :mod:`opzoo._device` before they reach this module; an op
without a CUDA kernel that is given one raises ``RuntimeError``.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

#: Activation names accepted by ops that fuse one, and their codes in the C++ kernels.
ACTIVATIONS = {None: 0, "relu": 1, "relu6": 2, "silu": 3, "hardswish": 4, "sigmoid": 5}

_DLPACK_CPU = 1


def _torch_tensor_type():
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None)


def _type_name(obj: Any) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _no_gpu(name: str, obj: Any) -> RuntimeError:
    return RuntimeError(f"{name}: {_type_name(obj)} lives on a GPU, and this op runs on CPU arrays only")


def _to_numpy(obj: Any, name: str) -> tuple[np.ndarray, str, Callable[[np.ndarray], Any]]:
    """One argument as a NumPy view, its kind, and the converter back to its type."""
    if isinstance(obj, np.ndarray):
        return obj, "numpy", _identity
    tensor_type = _torch_tensor_type()
    if tensor_type is not None and isinstance(obj, tensor_type):
        if obj.device.type != "cpu":
            raise _no_gpu(name, obj)
        torch = sys.modules["torch"]
        return np.from_dlpack(obj.detach()), "torch", torch.from_dlpack
    if hasattr(obj, "__cuda_array_interface__"):
        raise _no_gpu(name, obj)
    if hasattr(obj, "__array_interface__") or hasattr(obj, "__array_struct__"):
        return np.asarray(obj), "numpy", _identity
    if hasattr(obj, "__dlpack__"):
        device = obj.__dlpack_device__() if hasattr(obj, "__dlpack_device__") else (_DLPACK_CPU, 0)
        if int(device[0]) != _DLPACK_CPU:
            raise _no_gpu(name, obj)
        namespace = obj.__array_namespace__() if hasattr(obj, "__array_namespace__") else None
        back = namespace.from_dlpack if namespace is not None else _identity
        return np.from_dlpack(obj), _type_name(obj), back
    try:
        memoryview(obj)
    except TypeError:
        raise TypeError(
            f"{name}: expected an array (NumPy, PyTorch, or an object with __array_interface__, "
            f"the buffer protocol or __dlpack__), got {_type_name(obj)}"
        ) from None
    return np.asarray(obj), "numpy", _identity


def _identity(a: np.ndarray) -> np.ndarray:
    return a


def host_arrays(**arrays: Any) -> tuple[dict[str, np.ndarray | None], Callable[[np.ndarray], Any]]:
    """NumPy views of the given arrays (``None`` passes through) and the converter back.

    All arrays must be of one kind (all NumPy, all torch, ...): mixing raises TypeError.
    """
    views: dict[str, np.ndarray | None] = {}
    first: tuple[str, str] | None = None
    back: Callable[[np.ndarray], Any] = _identity
    for name, obj in arrays.items():
        if obj is None:
            views[name] = None
            continue
        view, kind, convert = _to_numpy(obj, name)
        if first is None:
            first, back = (name, kind), convert
        elif kind != first[1]:
            raise TypeError(
                f"all arrays must be of one type: {first[0]} is {first[1]}, {name} is {kind}"
            )
        views[name] = view
    return views, back


def float_dtype(arrays: dict[str, np.ndarray | None], first: str, accepted=(np.float32, np.float64)) -> np.dtype:
    """The common floating dtype of the non-None arrays, checked against ``accepted``."""
    dtype = arrays[first].dtype
    if dtype.type not in accepted:
        names = " or ".join(np.dtype(t).name for t in accepted)
        raise TypeError(f"{first}: expected dtype {names}, got {dtype}")
    for name, a in arrays.items():
        if a is not None and a.dtype != dtype:
            raise TypeError(f"{name}: expected dtype {dtype} (the dtype of {first}), got {a.dtype}")
    return dtype


def check_ndim(a: np.ndarray, name: str, ndim: int, axes: str) -> None:
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions {axes}, got shape {a.shape}")


def check_shape(a: np.ndarray, name: str, expected: tuple[int, ...]) -> None:
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {tuple(a.shape)}")


def activation_code(activation: str | None) -> int:
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        names = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"activation must be one of {names}, got {activation!r}") from None


def int_tuple(value: Any, name: str, length: int) -> tuple[int, ...]:
    """An int, or a sequence of `length` ints, as a tuple of `length` Python ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * length
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int or {length} ints, got {_type_name(value)}") from None
    if len(items) != length or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
    ):
        raise ValueError(f"{name}: expected an int or {length} ints, got {value!r}")
    return tuple(int(v) for v in items)

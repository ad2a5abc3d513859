"""CUDA arrays for the ``opzoo._cuda`` kernels.

An op whose arguments live on a CUDA device hands them to :func:`device_arrays`,
which checks that they come from one library and one device, and returns a
:class:`DeviceCall`: descriptors of the arrays for the kernels (data pointer, shape,
strides, dtype, device), the stream to launch on, and the library's own functions to
allocate, copy and permute, so results come back as the caller's array type.

* PyTorch CUDA tensors: read through DLPack; kernels run on
  ``torch.cuda.current_stream()``; results are torch tensors.
* CuPy arrays: read through ``__cuda_array_interface__``; kernels run on CuPy's
  current stream; results are CuPy arrays.
* Numba device arrays: read through ``__cuda_array_interface__``; kernels run on the
  default stream; results are Numba device arrays. Numba cannot copy or permute on the
  device, so their inputs must be C-contiguous in the layout the op is given.

No GPU library is imported here: each is used only when the caller's arrays are its own.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

try:
    from . import _cuda
except ImportError:  # built without a CUDA toolkit
    _cuda = None

#: dtypes the CUDA kernels read and write (they accumulate in float32).
DEVICE_DTYPES = ("float32", "float16", "bfloat16")

_DLPACK_CUDA = (2, 3, 13)  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged


def _type_name(obj: Any) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def is_device_array(obj: Any) -> bool:
    """Whether `obj` is an array in CUDA device memory."""
    if obj is None or isinstance(obj, np.ndarray):  # the common case, without attribute probes
        return False
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return obj.device.type == "cuda"
    if hasattr(obj, "__cuda_array_interface__"):
        return True
    if hasattr(obj, "__dlpack_device__") and not hasattr(obj, "__array_interface__"):
        try:
            return int(obj.__dlpack_device__()[0]) in _DLPACK_CUDA
        except Exception:  # noqa: BLE001 - a producer that cannot say is not a GPU array
            return False
    return False


def _library(obj: Any) -> str:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return "torch"
    root = type(obj).__module__.split(".")[0]
    if root in ("cupy", "numba") and hasattr(obj, "__cuda_array_interface__"):
        return root
    raise TypeError(
        f"{_type_name(obj)} is a CUDA array opzoo cannot allocate results for; "
        "pass a PyTorch tensor, a CuPy array or a Numba device array"
    )


class DeviceCall:
    """The CUDA arrays of one op call: one library, one device."""

    def __init__(self, library: str, device: int):
        self.library = library
        self.device = device

    @property
    def _module(self):
        """The caller's GPU library (already imported by whoever made the arrays)."""
        if self.library == "numba":
            from numba import cuda

            return cuda
        return sys.modules[self.library]

    # --- what the kernels get -------------------------------------------------------
    def dtype_name(self, a: Any) -> str:
        name = str(a.dtype)
        return name[len("torch."):] if name.startswith("torch.") else name

    def describe(self, a: Any) -> tuple:
        """(data pointer, shape, strides in elements, dtype, device) of array `a`."""
        if self.library == "torch":
            # torch exports a CUDA tensor only while its device is the current one; the
            # kernels run on torch's current stream, so no stream synchronisation is asked.
            with self._module.cuda.device(self.device):
                descriptor, _ = _cuda.dlpack_describe(a.detach().__dlpack__())
            return descriptor
        cai = a.__cuda_array_interface__
        itemsize = np.dtype(cai["typestr"]).itemsize
        strides = cai.get("strides")
        if strides is not None:
            strides = [s // itemsize for s in strides]
        return (cai["data"][0], list(cai["shape"]), strides, self.dtype_name(a), self.device)

    @property
    def stream(self) -> int:
        if self.library == "torch":
            return self._module.cuda.current_stream(self.device).cuda_stream
        if self.library == "cupy":
            with self._module.cuda.Device(self.device):
                return self._module.cuda.get_current_stream().ptr
        return 0  # Numba's default stream

    # --- the library's own operations ----------------------------------------------
    def is_dense(self, a: Any) -> bool:
        if self.library == "torch":
            return a.is_contiguous()
        if self.library == "cupy":
            return a.flags.c_contiguous
        return a.is_c_contiguous()

    def contiguous(self, a: Any, name: str) -> Any:
        if self.is_dense(a):
            return a
        if self.library == "torch":
            return a.contiguous()
        if self.library == "cupy":
            return self._module.ascontiguousarray(a)
        raise ValueError(f"{name}: Numba device arrays must be C-contiguous, got strides {a.strides}")

    def permute(self, a: Any, axes: tuple[int, ...]) -> Any:
        """A view with axes reordered (never asked of Numba arrays: they stay C-contiguous)."""
        return a.permute(*axes) if self.library == "torch" else a.transpose(axes)

    def empty(self, shape: tuple[int, ...], like: Any) -> Any:
        if self.library == "torch":
            return self._module.empty(shape, dtype=like.dtype, device=like.device)
        if self.library == "cupy":
            with self._module.cuda.Device(self.device):
                return self._module.empty(shape, dtype=like.dtype)
        return self._module.device_array(shape, dtype=like.dtype)

    def copy_into(self, out: Any, value: Any) -> None:
        if self.library == "torch":
            out.copy_(value)
        elif self.library == "cupy":
            out[...] = value
        else:
            out.copy_to_device(value)

    def flat(self, a: Any) -> Any:
        """A dense array as a 1-D view of the same memory."""
        return a.reshape(-1) if self.library != "numba" else a.reshape(a.size)


def _device_of(obj: Any, library: str) -> int:
    if library == "torch":
        return obj.device.index or 0
    if library == "cupy":
        return int(obj.device.id)
    from numba import cuda as numba_cuda  # Numba arrays live in the current context

    return int(numba_cuda.get_current_device().id)


def device_arrays(**arrays: Any) -> DeviceCall:
    """Checks that the non-None `arrays` are CUDA arrays of one library, one device and
    one accepted dtype; returns the call's :class:`DeviceCall`."""
    if _cuda is None:
        name, obj = next((n, a) for n, a in arrays.items() if is_device_array(a))
        raise RuntimeError(
            f"{name}: {_type_name(obj)} lives on a GPU, but this opzoo build has no CUDA module "
            "(rebuild with a CUDA toolkit, or pass a CPU array)"
        )
    first = None
    for name, obj in arrays.items():
        if obj is None:
            continue
        if not is_device_array(obj):
            raise ValueError(f"mixed devices: {name} is a CPU array, the other arrays live on a CUDA device")
        library = _library(obj)
        device = _device_of(obj, library)
        if first is None:
            first = (name, library, device, obj)
            continue
        if library != first[1]:
            raise TypeError(f"all arrays must be of one type: {first[0]} is {first[1]}, {name} is {library}")
        if device != first[2]:
            raise ValueError(f"mixed devices: {first[0]} is on cuda:{first[2]}, {name} on cuda:{device}")
    call = DeviceCall(first[1], first[2])
    dtype = call.dtype_name(first[3])
    if dtype not in DEVICE_DTYPES:
        raise TypeError(f"{first[0]}: expected dtype {', '.join(DEVICE_DTYPES)} on a CUDA device, got {dtype}")
    for name, obj in arrays.items():
        if obj is not None and call.dtype_name(obj) != dtype:
            raise TypeError(f"{name}: expected dtype {dtype} (the dtype of {first[0]}), got {call.dtype_name(obj)}")
    return call

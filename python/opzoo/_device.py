"""The back end for CUDA arrays, run by the ``opzoo._cuda`` kernels.

:func:`device_backend` checks that an op's arrays come from one library and one device
and have one dtype the kernels read, and returns a :class:`DeviceBackend`: the
operations of :mod:`opzoo._dispatch`'s back ends, done by the caller's own library, so
results come back as the caller's array type, on the caller's device. Kernels get each
array as a descriptor (data pointer, shape, strides in elements, dtype, device) and run
on the library's current stream.

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
_ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2, "int64": 8}

_DLPACK_CUDA = (2, 3, 13)  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged

#: The name of the argument ops write their result into (DESIGN.md: ``out=``).
OUTPUT_NAME = "out"


def type_name(obj: Any) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def torch_resolved(tensor: Any, name: str) -> Any:
    """A torch tensor whose memory holds the values it reads as: a tensor with the
    negative or conjugate bit set (a view such as ``conj().imag``), which DLPack exports
    without its sign, is resolved into a copy as torch's own operators resolve it, and
    refused as `out`, whose memory would be written without the sign."""
    if not (tensor.is_neg() or tensor.is_conj()):
        return tensor
    if name == OUTPUT_NAME:
        raise ValueError(
            f"{name}: a tensor with the negative or conjugate bit set (a view such as conj().imag) "
            "cannot be written in place; pass a tensor without it"
        )
    return tensor.resolve_conj().resolve_neg()


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
        f"{type_name(obj)} is a CUDA array opzoo cannot allocate results for; "
        "pass a PyTorch tensor, a CuPy array or a Numba device array"
    )


class DeviceBackend:
    """The CUDA arrays of one op call: one library, one device."""

    def __init__(self, library: str, device: int):
        self.library = library
        self.device = device
        self.permutes = library != "numba"

    @property
    def _module(self):
        """The caller's GPU library (already imported by whoever made the arrays)."""
        if self.library == "numba":
            from numba import cuda

            return cuda
        return sys.modules[self.library]

    # --- what the kernels get -------------------------------------------------------
    def run(self, kernel: str, arrays: tuple, *params) -> None:
        """opzoo._cuda's `kernel` on the arrays' descriptors, on the library's current stream."""
        descriptors = [None if a is None else self.describe(a) for a in arrays]
        getattr(_cuda, kernel)(*descriptors, *params, stream=self.stream)

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
    def wrap(self, a: Any) -> Any:
        return a

    def is_dense(self, a: Any) -> bool:
        if self.library == "torch":
            return a.is_contiguous()
        if self.library == "cupy":
            return a.flags.c_contiguous
        return a.is_c_contiguous()

    def contiguous(self, a: Any, name: str) -> Any:
        if a is None or self.is_dense(a):
            return a
        if self.library == "torch":
            return a.contiguous()
        if self.library == "cupy":
            return self._module.ascontiguousarray(a)
        raise ValueError(f"{name}: Numba device arrays must be C-contiguous, got strides {a.strides}")

    def permute(self, a: Any, axes: tuple[int, ...]) -> Any:
        """A view with axes reordered (never asked of Numba arrays: see `permutes`)."""
        return a.permute(*axes) if self.library == "torch" else a.transpose(axes)

    def empty(self, shape: tuple[int, ...], like: Any, dtype: str | None = None) -> Any:
        """An uninitialised array on like's device, of like's dtype or of the dtype named."""
        if self.library == "torch":
            torch_dtype = like.dtype if dtype is None else getattr(self._module, dtype)
            return self._module.empty(shape, dtype=torch_dtype, device=like.device)
        dtype = like.dtype if dtype is None else np.dtype(dtype)
        if self.library == "cupy":
            with self._module.cuda.Device(self.device):
                return self._module.empty(shape, dtype=dtype)
        return self._module.device_array(shape, dtype=dtype)

    def from_host(self, a: np.ndarray) -> Any:
        """A copy of host array `a` on this device, as the library's array."""
        if self.library == "torch":
            return self._module.from_numpy(a).to(f"cuda:{self.device}")
        if self.library == "cupy":
            with self._module.cuda.Device(self.device):
                return self._module.asarray(a)
        return self._module.to_device(a)

    def copy_into(self, out: Any, value: Any) -> None:
        if self.library == "torch":
            out.copy_(value)
        elif self.library == "cupy":
            out[...] = value
        else:
            out.copy_to_device(value)

    def may_share_memory(self, a: Any, b: Any) -> bool:
        """Whether the byte ranges the two arrays span overlap."""
        (a0, a1), (b0, b1) = self._span(a), self._span(b)
        return a0 < a1 and b0 < b1 and a0 < b1 and b0 < a1

    def _span(self, a: Any) -> tuple[int, int]:
        ptr, shape, strides, dtype, _ = self.describe(a)
        if any(e == 0 for e in shape):
            return ptr, ptr
        if strides is None:
            strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
        lo = sum((e - 1) * s for e, s in zip(shape, strides) if s < 0)
        hi = sum((e - 1) * s for e, s in zip(shape, strides) if s > 0) + 1
        size = _ITEMSIZE[dtype]
        return ptr + lo * size, ptr + hi * size

    def writable(self, a: Any) -> bool:
        return True


def _device_of(obj: Any, library: str) -> int:
    if library == "torch":
        return obj.device.index or 0
    if library == "cupy":
        return int(obj.device.id)
    from numba import cuda as numba_cuda  # Numba arrays live in the current context

    return int(numba_cuda.get_current_device().id)


def device_backend(arrays: dict[str, Any]) -> tuple[DeviceBackend, tuple]:
    """The back end for these arguments (``None`` passes through), which must all be CUDA
    arrays of one library, one device and one accepted dtype, and the arrays themselves."""
    if _cuda is None:
        name, obj = next((n, a) for n, a in arrays.items() if is_device_array(a))
        raise RuntimeError(
            f"{name}: {type_name(obj)} lives on a GPU, but this opzoo build has no CUDA module "
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
    backend = DeviceBackend(first[1], first[2])
    dtype = backend.dtype_name(first[3])
    if dtype not in DEVICE_DTYPES:
        raise TypeError(f"{first[0]}: expected dtype {', '.join(DEVICE_DTYPES)} on a CUDA device, got {dtype}")
    for name, obj in arrays.items():
        if obj is not None and backend.dtype_name(obj) != dtype:
            raise TypeError(f"{name}: expected dtype {dtype} (the dtype of {first[0]}), got {backend.dtype_name(obj)}")
    if backend.library == "torch":
        return backend, tuple(None if a is None else torch_resolved(a, name) for name, a in arrays.items())
    return backend, tuple(arrays.values())

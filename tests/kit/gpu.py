"""The GPU array libraries a family's CUDA tests run on: PyTorch and CuPy on a CUDA
device, or, in the emulated build (OPZOO_CUDA=emulate), host-memory stand-ins for CuPy
arrays (kit.fake_gpu); the ``lib`` fixture of tests/conftest.py parametrizes over them."""

import numpy as np
import pytest

from opzoo import _device

from .fake_gpu import from_fake_gpu, to_fake_gpu

# Largest error relative to the reference's scale: the output's own rounding dominates.
TOLERANCE = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1.6e-2}

NO_MODULE = "this build has no CUDA module (built without a CUDA compiler, or with OPZOO_CUDA=OFF)"
needs_cuda_module = pytest.mark.skipif(_device._cuda is None, reason=NO_MODULE)


def cuda_available():
    return _device._cuda is not None and _device._cuda.info()["available"]


def torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def cupy_on_device():
    try:
        import cupy
    except ImportError:
        return None
    try:
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # noqa: BLE001 - CuPy without a driver
        return None


def emulated():
    return _device._cuda is not None and _device._cuda.info().get("emulated", False)


def libraries():
    """(name, to_device, to_numpy) for each GPU library usable here, else one skip. The
    emulated build (OPZOO_CUDA=emulate) runs on host-memory stand-ins for CuPy arrays."""
    why = "no CUDA device here" if _device._cuda is not None else NO_MODULE
    out = []
    if emulated():
        out.append(pytest.param(("emulated", to_fake_gpu, from_fake_gpu), id="emulated"))
    elif cuda_available():
        torch = torch_cuda()
        if torch is not None:
            dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
            out.append(pytest.param(
                ("torch", lambda a, dt: torch.from_numpy(a).to("cuda", dtypes[dt]),
                 lambda t: t.detach().float().cpu().numpy()), id="torch"))
        cupy = cupy_on_device()
        if cupy is not None:
            out.append(pytest.param(
                ("cupy", lambda a, dt: cupy.asarray(a.astype(dt)), lambda c: cupy.asnumpy(c).astype(np.float32)),
                id="cupy"))
        why = "no PyTorch CUDA or CuPy installed"
    return out or [pytest.param(None, marks=pytest.mark.skip(reason=why), id="no-gpu")]


def rounded(a, dtype):
    """`a` as the device sees it after conversion to `dtype` (nearest even), back in float32."""
    return from_fake_gpu(to_fake_gpu(a.astype(np.float32), dtype))

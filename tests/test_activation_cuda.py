"""The bias-activation op on CUDA arrays: PyTorch and CuPy (or, in the emulated build,
host-memory stand-ins for CuPy arrays) against the NumPy reference, in float32, float16
and bfloat16, in place, and the binding's own checks. Skipped, with the reason, where
no CUDA device or emulated module is there."""

import numpy as np
import pytest
from kit import assert_close
from kit.fake_gpu import FakeGpuArray, from_fake_gpu
from kit.gpu import TOLERANCE, needs_cuda_module, rounded

import opzoo
from opzoo import _device
from opzoo import reference as ref

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("shape, axis", [((37, 19), -1), ((3, 11, 5, 7), 1), ((300,), 0)])
def test_forward_and_backward_match_reference(lib, rng, dtype, shape, axis):
    name, to_dev, to_np = lib
    if name == "cupy" and dtype == "bfloat16":
        pytest.skip("CuPy has no bfloat16 dtype")
    x = rounded(rng.standard_normal(shape) * 3, dtype)
    bias = rounded(rng.standard_normal(shape[axis]), dtype)
    residual = rounded(rng.standard_normal(shape), dtype)
    for act in (None, "silu", "relu6"):
        y = opzoo.bias_activation(to_dev(x, dtype), to_dev(bias, dtype), act, residual=to_dev(residual, dtype),
                                  axis=axis)
        assert_close(to_np(y), ref.bias_activation(x, bias, act, residual, axis), TOLERANCE[dtype], f"y {act}")
    g = rounded(rng.standard_normal(shape), dtype)
    gx, gb = opzoo.bias_activation_backward(to_dev(g, dtype), to_dev(x, dtype), to_dev(bias, dtype), "silu", axis=axis)
    want_x, want_b = ref.bias_activation_backward(g, x, bias, "silu", axis)
    assert_close(to_np(gx), want_x, TOLERANCE[dtype], "grad_x")
    assert_close(to_np(gb), want_b, TOLERANCE[dtype] * max(1.0, np.sqrt(g.size / shape[axis]) / 4), "grad_bias")


def test_in_place(lib, rng):
    name, to_dev, to_np = lib
    x = rng.standard_normal((6, 10)).astype(np.float32)
    bias = rng.standard_normal(10).astype(np.float32)
    xd = to_dev(x, "float32")
    assert opzoo.bias_activation(xd, to_dev(bias, "float32"), "silu", out=xd) is xd
    assert_close(to_np(xd), ref.bias_activation(x, bias, "silu"), 1e-5)


@needs_cuda_module
def test_binding_checks_descriptors_itself():
    """Descriptors the Python layer would never build still meet the binding's checks."""
    cuda = _device._cuda
    x = (1 << 20, [2, 4], None, "float32", 0)
    with pytest.raises(ValueError, match=r"bias: expected shape \(4,\)"):
        cuda.bias_activation(x, (1 << 21, [3], None, "float32", 0), None, (1 << 22, [2, 4], None, "float32", 0), -1,
                             None, stream=0)
    with pytest.raises(ValueError, match=r"axis: expected an int in \[-2, 2\)"):
        cuda.bias_activation(x, None, None, (1 << 22, [2, 4], None, "float32", 0), 2, None, stream=0)
    with pytest.raises(ValueError, match="out: must be x itself or share no memory with it"):
        cuda.bias_activation(x, None, None, ((1 << 20) + 4, [2, 4], None, "float32", 0), -1, None, stream=0)
    with pytest.raises(ValueError, match=r"grad_bias: expected shape \(4,\)"):
        cuda.bias_activation_backward(x, (1 << 21, [2, 4], None, "float32", 0), None, None,
                                      (1 << 22, [2], None, "float32", 0), -1, None, stream=0)


def test_device_arrays_meet_the_python_checks(fake_gpu, rng):
    """The CUDA path's Python side on stand-in arrays (kit.fake_gpu runs the CPU kernels)."""
    x = FakeGpuArray(rng.standard_normal((4, 6)).astype(np.float32))
    bias = FakeGpuArray(rng.standard_normal(6).astype(np.float32))
    y = opzoo.bias_activation(x, bias, "relu")
    assert isinstance(y, FakeGpuArray)
    assert_close(from_fake_gpu(y), ref.bias_activation(from_fake_gpu(x), from_fake_gpu(bias), "relu"), 1e-6)
    with pytest.raises(ValueError, match="mixed devices: bias is a CPU array"):
        opzoo.bias_activation(x, from_fake_gpu(bias))

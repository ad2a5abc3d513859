"""Depthwise conv2d on CUDA arrays: PyTorch and CuPy against the NumPy reference on the
same random data, in float32, float16 and bfloat16, and bad inputs.

The kernel tests need a CUDA device, or the emulated build (OPZOO_CUDA=emulate, whose
kernels run on host-memory stand-ins for CuPy arrays), and skip with the reason
otherwise; the checks that run before any kernel (the descriptors, mixed devices,
dtypes) run wherever the CUDA module is built, on stand-in array objects.
"""

import numpy as np
import pytest
from kit import KINKS, assert_close
from kit.fake_gpu import FakeGpuArray
from kit.gpu import TOLERANCE, needs_cuda_module, rounded

import opzoo
from opzoo import _device
from opzoo import reference as ref

pytestmark = pytest.mark.cuda


def _case(rng, N, C, M, H, W, k, layout, dtype):
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    x = rounded(rng.standard_normal(shape).astype(np.float32), dtype)
    w = rounded((rng.standard_normal((C * M, 1, k, k)) / k).astype(np.float32), dtype)
    b = rounded(rng.standard_normal(C * M).astype(np.float32), dtype)
    return x, w, b


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("k,stride,dilation,M", [(3, 1, 1, 1), (3, 2, 1, 1), (5, 1, 1, 1), (5, 2, 1, 1),
                                                 (3, 1, 1, 2), (4, 3, 2, 1), (1, 1, 1, 1)])
def test_forward_and_backward_match_reference(lib, rng, dtype, layout, k, stride, dilation, M):
    name, to_dev, to_np = lib
    if name == "cupy" and dtype == "bfloat16":
        pytest.skip("CuPy has no bfloat16 dtype")
    x, w, b = _case(rng, 2, 19, M, 37, 45, k, layout, dtype)
    kw = dict(stride=stride, padding=k // 2 + 1, dilation=dilation, layout=layout)
    for act in (None, "silu", "relu6"):
        y = opzoo.depthwise_conv2d(to_dev(x, dtype), to_dev(w, dtype), to_dev(b, dtype), activation=act, **kw)
        assert type(y) is type(to_dev(x, dtype))
        assert_close(to_np(y), ref.depthwise_conv2d(x, w, b, activation=act, **kw), TOLERANCE[dtype], f"y {act}")
    g = rounded(rng.standard_normal(ref.depthwise_conv2d(x, w, b, **kw).shape).astype(np.float32), dtype)
    for act in (None, "hardswish"):
        gg = g.copy()
        if act in KINKS:
            z = ref.depthwise_conv2d(x, w, b, **kw)
            gg[np.any([np.abs(z - p) < 1e-2 * (np.abs(z).max() + 1) for p in KINKS[act]], axis=0)] = 0
        got = opzoo.depthwise_conv2d_backward(to_dev(gg, dtype), to_dev(x, dtype), to_dev(w, dtype), to_dev(b, dtype),
                                              activation=act, **kw)
        want = ref.depthwise_conv2d_backward(gg, x, w, b, activation=act, **kw)
        reduction = TOLERANCE[dtype] * max(1.0, np.sqrt(gg[:, 0].size) / 4)
        for what, a, e, tol in zip(("grad_x", "grad_weight", "grad_bias"), got, want,
                                   (TOLERANCE[dtype], reduction, reduction)):
            assert_close(to_np(a), e, tol, f"{what} {act}")


def test_channels_last_inputs_stay_channels_last(lib, rng):
    """An NCHW-shaped input dense in NHWC memory (torch's channels_last, or a transposed
    view of an NHWC array) runs the NHWC kernels in place and gives the same layout back."""
    name, to_dev, to_np = lib
    x, w, b = _case(rng, 2, 8, 1, 15, 17, 3, "NCHW", "float32")
    if name == "torch":
        import torch

        xt = to_dev(x, "float32").contiguous(memory_format=torch.channels_last)
    else:
        xt = to_dev(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), "float32").transpose((0, 3, 1, 2))
    y = opzoo.depthwise_conv2d(xt, to_dev(w, "float32"), to_dev(b, "float32"), padding=1)
    if name == "torch":
        assert y.is_contiguous(memory_format=torch.channels_last)
    else:
        assert y.transpose((0, 2, 3, 1)).flags.c_contiguous
    assert_close(to_np(y), ref.depthwise_conv2d(x, w, b, padding=1), 1e-5)


def test_non_contiguous_zero_size_and_out(lib, rng):
    name, to_dev, to_np = lib
    x, w, b = _case(rng, 2, 6, 1, 11, 24, 3, "NCHW", "float32")
    xd = to_dev(x, "float32")[..., ::2]  # every other column: strided, not dense in any order
    y = opzoo.depthwise_conv2d(xd, to_dev(w, "float32"), padding=1)
    assert_close(to_np(y), ref.depthwise_conv2d(np.ascontiguousarray(x[..., ::2]), w, padding=1), 1e-5)
    out = to_dev(np.full((2, 6, 11, 24), np.nan, np.float32), "float32")
    assert opzoo.depthwise_conv2d(to_dev(x, "float32"), to_dev(w, "float32"), to_dev(b, "float32"), padding=1,
                                  out=out) is out
    assert_close(to_np(out), ref.depthwise_conv2d(x, w, b, padding=1), 1e-5)
    empty = to_dev(np.zeros((0, 6, 11, 24), np.float32), "float32")
    assert tuple(opzoo.depthwise_conv2d(empty, to_dev(w, "float32"), padding=1).shape) == (0, 6, 11, 24)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("k,stride", [(3, 1), (5, 2), (4, 1)])
def test_nan_and_inf_meet_no_padding(lib, rng, layout, k, stride):
    """Infinite and NaN weights and gradients: NaN and infinities exactly where the
    reference (and the CPU kernels) put them, every launch path."""
    name, to_dev, to_np = lib
    x, w, b = _case(rng, 2, 6, 1, 13, 21, k, layout, "float32")
    w[0, 0, 0, 0], w[1, 0, -1, -1], w[2, 0, 0, -1] = np.inf, -np.inf, np.nan
    kw = dict(stride=stride, padding=k // 2, layout=layout)
    y = to_np(opzoo.depthwise_conv2d(to_dev(x, "float32"), to_dev(w, "float32"), to_dev(b, "float32"), **kw))
    with np.errstate(invalid="ignore"):
        want = ref.depthwise_conv2d(x, w, b, **kw)
    g = rng.standard_normal(want.shape).astype(np.float32)
    g.reshape(-1)[:: 37] = np.inf
    got = opzoo.depthwise_conv2d_backward(to_dev(g, "float32"), to_dev(x, "float32"), to_dev(w, "float32"), **kw)
    with np.errstate(invalid="ignore"):
        grads = ref.depthwise_conv2d_backward(g, x, w, **kw)
    for what, a, e in zip(("y", "grad_x", "grad_weight", "grad_bias"), (y, *map(to_np, got)), (want, *grads)):
        for test in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(test(a), test(e), err_msg=f"{what}: {test.__name__}")


def test_weight_gradient_is_deterministic(lib, rng):
    name, to_dev, to_np = lib
    x, w, b = _case(rng, 4, 16, 1, 33, 33, 5, "NHWC", "float32")
    g = rng.standard_normal((4, 33, 33, 16)).astype(np.float32)
    runs = [opzoo.depthwise_conv2d_backward(to_dev(g, "float32"), to_dev(x, "float32"), to_dev(w, "float32"),
                                            padding=2, layout="NHWC") for _ in range(3)]
    for other in runs[1:]:
        for a, e in zip(other, runs[0]):
            assert np.array_equal(to_np(a), to_np(e))


def test_bad_device_inputs(lib, rng):
    name, to_dev, to_np = lib
    x, w, b = _case(rng, 1, 4, 1, 8, 8, 3, "NCHW", "float32")
    with pytest.raises(ValueError, match="mixed devices"):
        opzoo.depthwise_conv2d(to_dev(x, "float32"), w)
    with pytest.raises(TypeError, match="dtype"):
        opzoo.depthwise_conv2d(to_dev(x, "float32"), to_dev(w, "float16"))
    with pytest.raises(ValueError, match="channels"):
        opzoo.depthwise_conv2d(to_dev(x, "float32"), to_dev(np.ones((3, 1, 3, 3), np.float32), "float32"))
    with pytest.raises(ValueError, match="spans more than the padded input"):
        opzoo.depthwise_conv2d(to_dev(x, "float32"), to_dev(np.ones((4, 1, 9, 9), np.float32), "float32"))


@needs_cuda_module
def test_checks_before_any_launch():
    """Stand-in arrays in host memory: the checks before any launch must stop them."""
    def arr(shape, dtype="float32", device=0):
        return FakeGpuArray(np.zeros(shape, dtype), device=device)

    w = np.ones((4, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="mixed devices: weight is a CPU array"):
        opzoo.depthwise_conv2d(arr((1, 4, 8, 8)), w)
    with pytest.raises(ValueError, match="mixed devices: x is on cuda:0, weight on cuda:1"):
        opzoo.depthwise_conv2d(arr((1, 4, 8, 8)), arr((4, 1, 3, 3), device=1))
    with pytest.raises(TypeError, match="expected dtype float32, float16, bfloat16 on a CUDA device, got int32"):
        opzoo.depthwise_conv2d(arr((1, 4, 8, 8), "int32"), arr((4, 1, 3, 3), "int32"))
    with pytest.raises(TypeError, match="weight: expected dtype float32"):
        opzoo.depthwise_conv2d(arr((1, 4, 8, 8)), arr((4, 1, 3, 3), "float16"))


@needs_cuda_module
def test_binding_checks_descriptors_itself():
    cuda = _device._cuda
    x = (1 << 20, [1, 4, 8, 8], None, "float32", 0)
    w = (1 << 21, [4, 1, 3, 3], None, "float32", 0)
    y = (1 << 22, [1, 4, 8, 8], None, "float32", 0)
    args = dict(stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), layout="NCHW", activation=None, stream=0)
    with pytest.raises(ValueError, match="out: expected shape"):
        cuda.depthwise_forward(x, w, None, (1 << 22, [1, 4, 8, 7], None, "float32", 0), **args)
    with pytest.raises(ValueError, match="C-contiguous"):
        cuda.depthwise_forward((1 << 20, [1, 4, 8, 8], [256, 64, 8, 2], "float32", 0), w, None, y, **args)
    with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
        cuda.depthwise_forward((1 << 20, [1, 4, 8, 8], None, "int8", 0), w, None, y, **args)
    with pytest.raises(ValueError, match="share memory"):
        cuda.depthwise_forward(x, w, None, (1 << 20, [1, 4, 8, 8], None, "float32", 0), **args)
    with pytest.raises(ValueError, match="null data pointer"):
        cuda.depthwise_forward((0, [1, 4, 8, 8], None, "float32", 0), w, None, y, **args)
    with pytest.raises(ValueError, match="device"):
        cuda.depthwise_forward(x, (1 << 21, [4, 1, 3, 3], None, "float32", 1), None, y, **args)
    with pytest.raises(ValueError, match="activation must be one of"):
        cuda.depthwise_forward(x, w, None, y, **dict(args, activation="gelu"))
    with pytest.raises(ValueError, match="spans more than the padded input"):
        cuda.depthwise_forward(x, (1 << 21, [4, 1, 9, 9], None, "float32", 0), None, y, **dict(args, padding="valid"))
    with pytest.raises(ValueError, match=r"grad: expected shape \(64,\)"):
        cuda.activation_backward((1 << 20, [64], None, "float32", 0), (1 << 21, [63], None, "float32", 0),
                                 (1 << 22, [64], None, "float32", 0), activation="relu", stream=0)

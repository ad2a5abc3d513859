"""The CUDA path's Python side (python/opzoo/_device.py through the ops' one pipeline)
on any machine, with the host-memory stand-ins of tests/kit/fake_gpu.py: a CuPy-like
library and an ``opzoo._cuda`` that runs the CPU kernels on the pointers it is given.
What this checks is everything between the caller's arrays and the kernels: memory
orders, copies, descriptors, allocation in the caller's library, ``out=``, the
activation backward step and zero-size arrays. The CUDA kernels themselves are tested
on a GPU (pytest -m cuda).
"""

import numpy as np
import pytest
from kit import assert_close
from kit.fake_gpu import FakeGpuArray

import opzoo
from opzoo import reference as ref

pytestmark = pytest.mark.cuda


def _inputs(rng, layout, N=2, C=6, H=13, W=17, k=3):
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((C, 1, k, k)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    return x, w, b


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_forward_through_the_device_path(fake_gpu, rng, layout):
    x, w, b = _inputs(rng, layout)
    y = opzoo.depthwise_conv2d(FakeGpuArray(x), FakeGpuArray(w), FakeGpuArray(b), stride=2, padding="same",
                               layout=layout, activation="silu")
    assert isinstance(y, FakeGpuArray)
    assert_close(y._a, ref.depthwise_conv2d(x, w, b, stride=2, padding="same", layout=layout, activation="silu"))
    assert fake_gpu.streams == [12345]  # the library's current stream


def test_other_memory_order_is_read_in_place_and_kept(fake_gpu, rng):
    x, w, b = _inputs(rng, "NCHW")
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NCHW axes, NHWC memory
    y = opzoo.depthwise_conv2d(FakeGpuArray(x_cl), FakeGpuArray(w), padding=1)
    assert y._a.transpose(0, 2, 3, 1).flags.c_contiguous
    assert_close(y._a, ref.depthwise_conv2d(x, w, padding=1))


def test_strided_input_and_out(fake_gpu, rng):
    x, w, b = _inputs(rng, "NCHW", W=34)
    y = opzoo.depthwise_conv2d(FakeGpuArray(x)[..., ::2], FakeGpuArray(w), padding=1)
    assert_close(y._a, ref.depthwise_conv2d(np.ascontiguousarray(x[..., ::2]), w, padding=1))
    out = FakeGpuArray(np.full((2, 6, 13, 34), np.nan, np.float32))
    assert opzoo.depthwise_conv2d(FakeGpuArray(x), FakeGpuArray(w), FakeGpuArray(b), padding=1, out=out) is out
    assert_close(out._a, ref.depthwise_conv2d(x, w, b, padding=1))
    strided = FakeGpuArray(np.full((2, 6, 13, 68), np.nan, np.float32))[..., ::2]  # written through a copy
    assert opzoo.depthwise_conv2d(FakeGpuArray(x), FakeGpuArray(w), FakeGpuArray(b), padding=1, out=strided) is strided
    assert_close(strided._a, ref.depthwise_conv2d(x, w, b, padding=1))


def test_out_is_checked_as_on_the_cpu(fake_gpu, rng):
    x, w, b = _inputs(rng, "NCHW")
    with pytest.raises(ValueError, match=r"out: expected shape \(2, 6, 13, 17\)"):
        opzoo.depthwise_conv2d(FakeGpuArray(x), FakeGpuArray(w), padding=1, out=FakeGpuArray(np.empty((2, 6, 13, 16), np.float32)))
    gx = FakeGpuArray(x)
    with pytest.raises(ValueError, match="out: must not share memory with x"):
        opzoo.depthwise_conv2d(gx, FakeGpuArray(w), padding=1, out=gx)
    with pytest.raises(TypeError, match="out: expected dtype float32"):
        opzoo.depthwise_conv2d(FakeGpuArray(x), FakeGpuArray(w), padding=1,
                               out=FakeGpuArray(np.empty((2, 6, 13, 17), np.float16)))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("activation", [None, "hardswish"])
def test_backward_through_the_device_path(fake_gpu, rng, layout, activation):
    x, w, b = _inputs(rng, layout, k=5)
    kw = dict(stride=1, padding=2, layout=layout, activation=activation)
    g = rng.standard_normal(ref.depthwise_conv2d(x, w, b, **kw).shape).astype(np.float32)
    if activation:
        z = ref.depthwise_conv2d(x, w, b, **dict(kw, activation=None))
        g[(np.abs(z - 3) < 1e-3) | (np.abs(z + 3) < 1e-3)] = 0
    got = opzoo.depthwise_conv2d_backward(FakeGpuArray(g), FakeGpuArray(x), FakeGpuArray(w), FakeGpuArray(b), **kw)
    want = ref.depthwise_conv2d_backward(g, x, w, b, **kw)
    for name, a, e in zip(("grad_x", "grad_weight", "grad_bias"), got, want):
        assert isinstance(a, FakeGpuArray) and a.shape == e.shape, name
        assert_close(a._a, e, 1e-4, name)


def test_zero_size_inputs(fake_gpu, rng):
    x = np.zeros((0, 4, 9, 9), np.float32)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    y = opzoo.depthwise_conv2d(FakeGpuArray(x), FakeGpuArray(w), padding=1)
    assert y.shape == (0, 4, 9, 9)


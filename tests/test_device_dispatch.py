"""The CUDA path's Python side (python/opzoo/_device.py and the ops' device branches) on
any machine: a stand-in GPU library whose arrays live in host memory, and a stand-in
``_cuda`` module that runs the CPU kernels on the pointers it is given. What this
checks is everything between the caller's arrays and the kernels: memory orders,
copies, descriptors, allocation in the caller's library, ``out=``, the activation
backward step and zero-size arrays. The CUDA kernels themselves are tested on a GPU
(tests/test_depthwise_cuda.py).
"""

import contextlib
import ctypes
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import assert_close

import opzoo
from opzoo import _cpu, _device
from opzoo import reference as ref
from opzoo.reference.activation import activation_grad

ACTIVATION_NAMES = {code: name for name, code in opzoo._dispatch.ACTIVATIONS.items()}


class FakeGpuArray:
    """A CuPy-like array in host memory: the interface opzoo uses, nothing more."""

    __module__ = "cupy._core.core"

    def __init__(self, a):
        self._a = a
        self.device = SimpleNamespace(id=0)

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


def _fake_library():
    return SimpleNamespace(
        ascontiguousarray=lambda a: FakeGpuArray(np.ascontiguousarray(a._a)),
        empty=lambda shape, dtype: FakeGpuArray(np.full(shape, np.nan, dtype)),  # NaN: unwritten shows
        cuda=SimpleNamespace(Device=lambda device: contextlib.nullcontext(),
                             get_current_stream=lambda: SimpleNamespace(ptr=12345)),
    )


def _host(desc):
    """The array a descriptor names, as the real module would see it (dense, float32)."""
    ptr, shape, strides, dtype, device = desc
    assert dtype == "float32" and device == 0
    n = int(np.prod(shape))
    if n == 0:
        return np.empty(shape, np.float32)
    assert strides is None or list(strides) == list(np.empty(shape, np.float32).strides[i] // 4 for i in range(len(shape)))
    return np.frombuffer((ctypes.c_float * n).from_address(ptr), np.float32).reshape(shape)


class FakeCudaModule:
    """opzoo._cuda's functions, running the CPU kernels on host memory."""

    def __init__(self):
        self.streams = []

    def depthwise_forward(self, x, weight, bias, out, stride, padding, dilation, layout, activation, stream):
        self.streams.append(stream)
        _cpu.depthwise_forward(_host(x), _host(weight), None if bias is None else _host(bias), _host(out),
                               stride=stride, padding=padding, dilation=dilation, layout=layout, activation=activation)

    def depthwise_backward_input(self, grad_out, weight, grad_x, stride, padding, dilation, layout, stream):
        _cpu.depthwise_backward_input(_host(grad_out), _host(weight), _host(grad_x), stride=stride, padding=padding,
                                      dilation=dilation, layout=layout)

    def depthwise_backward_weight(self, grad_out, x, grad_weight, grad_bias, stride, padding, dilation, layout,
                                  stream):
        _cpu.depthwise_backward_weight(_host(grad_out), _host(x), _host(grad_weight), _host(grad_bias),
                                       stride=stride, padding=padding, dilation=dilation, layout=layout)

    def activation_backward(self, z, grad, out, activation, stream):
        _host(out)[...] = activation_grad(_host(z), _host(grad), ACTIVATION_NAMES[activation])


@pytest.fixture
def fake_gpu(monkeypatch):
    module = FakeCudaModule()
    monkeypatch.setitem(sys.modules, "cupy", _fake_library())
    monkeypatch.setattr(_device, "_cuda", module)
    return module


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

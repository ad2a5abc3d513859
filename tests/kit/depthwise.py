"""Depthwise conv2d's test-kit entries: random inputs, the NumPy reference, PyTorch's
conv2d(groups=C) as the peer, and what a user can get wrong."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo import reference

from . import BadInput, KitEntry


def make_inputs(rng, N, C, M, H, W, kh, kw, layout="NCHW", dtype=np.float32, bias=True):
    """x in `layout`, weight (C*M, 1, kh, kw) scaled to keep outputs near unit size, bias."""
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((C * M, 1, kh, kw)) / np.sqrt(kh * kw)).astype(dtype)
    b = rng.standard_normal(C * M).astype(dtype) if bias else None
    return x, w, b


def _forward_call(rng):
    C, M, k = int(rng.integers(1, 20)), int(rng.integers(1, 3)), int(rng.choice([1, 3, 5]))
    x, w, b = make_inputs(rng, int(rng.integers(1, 3)), C, M, int(rng.integers(k, 30)), int(rng.integers(k, 30)), k, k)
    params = dict(stride=int(rng.integers(1, 3)), padding=k // 2, dilation=1, activation=str(rng.choice(["silu", "sigmoid"])))
    return {"x": x, "weight": w, "bias": b}, params


def _backward_call(rng):
    arrays, params = _forward_call(rng)
    y = reference.depthwise_conv2d(**arrays, **params)
    return {"grad_out": rng.standard_normal(y.shape).astype(np.float32), **arrays}, params


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_forward(torch, x, weight, bias=None, stride=1, padding=0, dilation=1, activation=None):
    import torch.nn.functional as F

    y = F.conv2d(x, weight, bias, stride, padding, dilation, groups=x.shape[1])
    return y if activation is None else (torch.sigmoid if activation == "sigmoid" else getattr(F, activation))(y)


def _torch_peer_forward():
    torch = _torch()
    if torch is None:
        return None

    def peer(x, weight, bias=None, **params):
        t = [None if a is None else torch.from_numpy(a) for a in (x, weight, bias)]
        return _torch_forward(torch, *t, **params).numpy()

    return peer


def _torch_peer_backward():
    torch = _torch()
    if torch is None:
        return None

    def peer(grad_out, x, weight, bias=None, **params):
        t = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        _torch_forward(torch, *t, **params).backward(torch.from_numpy(grad_out))
        return tuple(a.grad.numpy() for a in t if a is not None)

    return peer


def _changed(name, value):
    """A change that sets one array (arrays[name] = value(arrays))."""
    return lambda arrays, params: ({**arrays, name: value(arrays)}, params)


def _param(**changes):
    return lambda arrays, params: (arrays, {**params, **changes})


# Changes to the valid call below: x (1, 4, 8, 8), weight (4, 1, 3, 3), bias (4,), padding 1.
_BAD_FORWARD = [
    BadInput("x 3-D", _changed("x", lambda a: a["x"][0]), ValueError, r"x: expected 4 dimensions"),
    BadInput("weight 3-D", _changed("weight", lambda a: a["weight"][:, 0]), ValueError, r"weight: expected 4 dimensions"),
    BadInput("weight not (C*M, 1, kh, kw)", _changed("weight", lambda a: a["weight"].reshape(2, 2, 3, 3)),
             ValueError, r"weight: expected shape \(C\*M, 1, kh, kw\)"),
    BadInput("weight channels", lambda a, p: ({**a, "weight": a["weight"][:3], "bias": a["bias"][:3]}, p),
             ValueError, r"multiple of the 4 input channels"),
    BadInput("bias shape", _changed("bias", lambda a: a["bias"][:3]), ValueError, r"bias: expected shape \(4,\)"),
    BadInput("x int64", _changed("x", lambda a: a["x"].astype(np.int64)), TypeError,
             r"x: expected dtype float32 or float64, got int64"),
    BadInput("x float16", _changed("x", lambda a: a["x"].astype(np.float16)), TypeError, r"float16"),
    BadInput("weight float64", _changed("weight", lambda a: a["weight"].astype(np.float64)), TypeError,
             r"weight: expected dtype float32"),
    BadInput("padding -1", _param(padding=-1), ValueError, r"padding must be >= 0"),
    BadInput("padding (1, -2, 0, 0)", _param(padding=(1, -2, 0, 0)), ValueError, r"padding must be >= 0"),
    BadInput("padding 'full'", _param(padding="full"), ValueError, r"padding: expected"),
    BadInput("padding 3 ints", _param(padding=(1, 2, 3)), ValueError, r"padding: expected an int, 2 ints \(ph, pw\), 4 ints"),
    BadInput("stride 0", _param(stride=0), ValueError, r"stride must be >= 1"),
    BadInput("dilation (1, 0)", _param(dilation=(1, 0)), ValueError, r"dilation must be >= 1"),
    BadInput("stride 1.5", _param(stride=1.5), TypeError, r"stride: expected an int"),
    BadInput("dilation too large", _param(dilation=4, padding=0), ValueError, r"spans more than the padded input"),
    BadInput("input too small", lambda a, p: ({**a, "x": a["x"][:, :, :2]}, {**p, "padding": 0}), ValueError,
             r"spans more than the padded input"),
    BadInput("layout 'NWHC'", _param(layout="NWHC"), ValueError, r"layout must be 'NCHW' or 'NHWC'"),
    BadInput("activation 'gelu'", _param(activation="gelu"), ValueError, r"activation must be one of"),
    BadInput("activation 3", _param(activation=3), TypeError, r"activation: expected None or a name"),
    BadInput("out shape", _param(out=np.empty((1, 4, 6, 5), np.float32)), ValueError, r"out: expected shape"),
    BadInput("out float64", _param(out=np.empty((1, 4, 8, 8), np.float64)), TypeError, r"out: expected dtype"),
    BadInput("out is x", lambda a, p: (a, {**p, "out": a["x"]}), ValueError, r"out: must not share memory with x"),
    BadInput("x a list", _changed("x", lambda a: a["x"].tolist()), TypeError, r"x: expected an array"),
    BadInput("bias a memoryview", _changed("bias", lambda a: memoryview(a["bias"])), None),  # buffer protocol: an array
]

_BAD_BACKWARD = [
    BadInput("grad_out shape", _changed("grad_out", lambda a: a["grad_out"][:, :, 1:]), ValueError,
             r"grad_out: expected shape \(1, 4, 8, 8\)"),
    BadInput("grad_out float64", _changed("grad_out", lambda a: a["grad_out"].astype(np.float64)), TypeError,
             r"grad_out: expected dtype float32"),
    BadInput("bias shape", _changed("bias", lambda a: a["bias"][:3]), ValueError, r"bias: expected shape \(4,\)"),
    BadInput("activation 'tanh'", _param(activation="tanh"), ValueError, r"activation must be one of"),
]


def _valid_forward(rng):
    x, w, b = make_inputs(rng, 1, 4, 1, 8, 8, 3, 3)
    return {"x": x, "weight": w, "bias": b}, {"padding": 1}


def _valid_backward(rng):
    arrays, params = _valid_forward(rng)
    return {"grad_out": rng.standard_normal((1, 4, 8, 8)).astype(np.float32), **arrays}, params


ENTRIES = [
    KitEntry("depthwise_conv2d", opzoo.depthwise_conv2d, _forward_call, reference.depthwise_conv2d,
             _torch_peer_forward, "torch", _valid_forward, _BAD_FORWARD),
    KitEntry("depthwise_conv2d_backward", opzoo.depthwise_conv2d_backward, _backward_call,
             reference.depthwise_conv2d_backward, _torch_peer_backward, "torch", _valid_backward, _BAD_BACKWARD,
             rtol=(1e-5, 1e-4, 1e-4)),
]

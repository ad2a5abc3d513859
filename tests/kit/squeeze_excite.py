"""Squeeze-excite's test-kit entries: random images in either layout, the NumPy
reference, timm's formulation in PyTorch as the peer, and what a user can get wrong."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo import reference

from . import ACTIVATIONS, BadInput, KitEntry, changed, param
from .torch_arrays import as_tensor, leaf, torch_op_table, torch_or_none, torch_or_skip


def make_inputs(rng, N, C, H, W, R, layout="NCHW", dtype=np.float32, biases=True):
    """x in `layout`, the two layers' weights scaled to keep the gate's input near unit size."""
    x = rng.standard_normal((N, C, H, W) if layout == "NCHW" else (N, H, W, C)).astype(dtype)
    arrays = {"x": x, "w_reduce": (rng.standard_normal((R, C)) / np.sqrt(max(C, 1))).astype(dtype),
              "w_expand": (rng.standard_normal((C, R)) / np.sqrt(max(R, 1))).astype(dtype),
              "b_reduce": None, "b_expand": None}
    if biases:
        arrays["b_reduce"] = rng.standard_normal(R).astype(dtype)
        arrays["b_expand"] = rng.standard_normal(C).astype(dtype)
    return arrays


def _forward_call(rng, activations=ACTIVATIONS):
    layout = str(rng.choice(["NCHW", "NHWC"]))
    arrays = make_inputs(rng, int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 12)),
                         int(rng.integers(1, 12)), int(rng.integers(1, 9)), layout, biases=rng.random() < 0.8)
    return arrays, {"activation": activations[int(rng.integers(len(activations)))], "layout": layout}


def _backward_call(rng):
    # Smooth activations only: at relu's kinks the float32 and float64 sides may differ.
    arrays, params = _forward_call(rng, [None, "silu", "sigmoid"])
    return {"grad_out": rng.standard_normal(arrays["x"].shape).astype(np.float32), **arrays}, params


def _torch_forward(torch, x, w_reduce, w_expand, b_reduce, b_expand, activation, layout):
    """timm's SqueezeExcite.forward on NCHW tensors (x.mean((2, 3)), two 1x1 convolutions as matrix products)."""
    import torch.nn.functional as F

    xn = x.permute(0, 3, 1, 2) if layout == "NHWC" else x
    z1 = xn.mean((2, 3)) @ w_reduce.T + (0 if b_reduce is None else b_reduce)
    h = z1 if activation is None else (torch.sigmoid if activation == "sigmoid" else getattr(F, activation))(z1)
    gate = torch.sigmoid(h @ w_expand.T + (0 if b_expand is None else b_expand))
    y = xn * gate[:, :, None, None]
    return y.permute(0, 2, 3, 1) if layout == "NHWC" else y


def _tensors(torch, arrays, names):
    return [None if arrays[n] is None else torch.tensor(arrays[n]) for n in names]


_PARAMS = ("w_reduce", "w_expand", "b_reduce", "b_expand")


def _torch_peer_forward():
    torch = torch_or_none()
    if torch is None:
        return None

    def peer(x, w_reduce, w_expand, b_reduce=None, b_expand=None, activation="silu", layout="NCHW"):
        arrays = {"x": x, "w_reduce": w_reduce, "w_expand": w_expand, "b_reduce": b_reduce, "b_expand": b_expand}
        return _torch_forward(torch, *_tensors(torch, arrays, ("x", *_PARAMS)), activation, layout).numpy()

    return peer


def _torch_peer_backward():
    torch = torch_or_none()
    if torch is None:
        return None

    def peer(grad_out, x, w_reduce, w_expand, b_reduce=None, b_expand=None, activation="silu", layout="NCHW"):
        C, R = w_expand.shape
        arrays = {"x": x, "w_reduce": w_reduce, "w_expand": w_expand,
                  "b_reduce": np.zeros(R, x.dtype) if b_reduce is None else b_reduce,
                  "b_expand": np.zeros(C, x.dtype) if b_expand is None else b_expand}
        leaves = [t.requires_grad_() for t in _tensors(torch, arrays, ("x", *_PARAMS))]
        _torch_forward(torch, *leaves, activation, layout).backward(torch.tensor(grad_out))
        return tuple(t.grad.numpy() for t in leaves)

    return peer


# Changes to the valid call below: x (2, 6, 5, 4), w_reduce (3, 6), w_expand (6, 3), biases.
_BAD_FORWARD = [
    BadInput("x 3-D", changed("x", lambda a: a["x"][0]), ValueError, r"x: expected 4 dimensions"),
    BadInput("w_reduce 4-D (a 1x1 conv's)", changed("w_reduce", lambda a: a["w_reduce"][:, :, None, None]), ValueError,
             r"w_reduce: expected 2 dimensions \(R, C\)"),
    BadInput("w_reduce channels", changed("w_reduce", lambda a: a["w_reduce"][:, :5]), ValueError,
             r"w_reduce: expected shape \(R, 6\) for x's 6 channels"),
    BadInput("w_expand transposed", changed("w_expand", lambda a: a["w_expand"].T.copy()), ValueError,
             r"w_expand: expected shape \(6, 3\) \(C, R\)"),
    BadInput("b_reduce shape", changed("b_reduce", lambda a: a["b_reduce"][:2]), ValueError,
             r"b_reduce: expected shape \(3,\)"),
    BadInput("b_expand shape", changed("b_expand", lambda a: a["b_expand"][:5]), ValueError,
             r"b_expand: expected shape \(6,\)"),
    BadInput("x int64", changed("x", lambda a: a["x"].astype(np.int64)), TypeError,
             r"x: expected dtype float32 or float64, got int64"),
    BadInput("w_expand float64", changed("w_expand", lambda a: a["w_expand"].astype(np.float64)), TypeError,
             r"w_expand: expected dtype float32"),
    BadInput("layout 'NWHC'", param(layout="NWHC"), ValueError, r"layout must be 'NCHW' or 'NHWC'"),
    BadInput("activation 'gelu'", param(activation="gelu"), ValueError, r"activation must be one of"),
    BadInput("activation None", param(activation=None), None),
    BadInput("out shape", param(out=np.empty((2, 6, 5, 3), np.float32)), ValueError, r"out: expected shape"),
    BadInput("out float64", param(out=np.empty((2, 6, 5, 4), np.float64)), TypeError, r"out: expected dtype"),
    BadInput("out is x (in place)", lambda a, p: (a, {**p, "out": a["x"]}), None),
    BadInput("out is w_reduce's memory", lambda a, p: _out_over_a_weight(a, p), ValueError,
             r"out: must not share memory with w_reduce"),
    BadInput("x a list", changed("x", lambda a: a["x"].tolist()), TypeError, r"x: expected an array"),
]

_BAD_BACKWARD = [
    BadInput("grad_out shape", changed("grad_out", lambda a: a["grad_out"][:, 1:]), ValueError,
             r"grad_out: expected shape \(2, 6, 5, 4\)"),
    BadInput("grad_out float64", changed("grad_out", lambda a: a["grad_out"].astype(np.float64)), TypeError,
             r"grad_out: expected dtype float32"),
    BadInput("w_reduce channels", changed("w_reduce", lambda a: a["w_reduce"][:, :5]), ValueError,
             r"w_reduce: expected shape \(R, 6\)"),
    BadInput("activation 'tanh'", param(activation="tanh"), ValueError, r"activation must be one of"),
]


def _out_over_a_weight(arrays, params):
    """w_reduce a view into the buffer out also views."""
    buf = np.zeros(2 * 6 * 5 * 4, np.float32)
    buf[:18] = arrays["w_reduce"].ravel()
    return {**arrays, "w_reduce": buf[:18].reshape(3, 6)}, {**params, "out": buf.reshape(2, 6, 5, 4)}


def _valid_forward(rng):
    return make_inputs(rng, 2, 6, 5, 4, 3), {"activation": "silu"}


def _valid_backward(rng):
    arrays, params = _valid_forward(rng)
    return {"grad_out": rng.standard_normal((2, 6, 5, 4)).astype(np.float32), **arrays}, params


def _zero_size_forward(rng):
    """N = 0; C = 0; R = 0; no pixels (NaN means, and no output to hold them)."""
    calls = []
    for N, C, H, W, R in [(0, 3, 4, 4, 2), (2, 0, 4, 4, 2), (2, 3, 4, 4, 0), (2, 3, 0, 4, 2)]:
        for layout in ("NCHW", "NHWC"):
            calls.append((make_inputs(rng, N, C, H, W, R, layout), {"layout": layout}))
    return calls


def _zero_size_backward(rng):
    """As the forward's, but with pixels: without, the parameter gradients are NaN (0 / 0 means)."""
    calls = []
    for arrays, params in _zero_size_forward(rng):
        if arrays["x"].size == 0 and arrays["x"].shape[0] and arrays["w_expand"].shape[0]:
            continue
        calls.append(({"grad_out": rng.standard_normal(arrays["x"].shape).astype(np.float32), **arrays}, params))
    return calls


def _torch_op_forward(x, w_reduce, w_expand, b_reduce=None, b_expand=None, activation="silu", layout="NCHW"):
    torch = torch_or_skip()
    import opzoo.torch

    t = [as_tensor(torch, a) for a in (x, w_reduce, w_expand, b_reduce, b_expand)]
    if layout == "NHWC" and isinstance(t[0], torch.Tensor) and t[0].dim() == 4:
        t[0] = t[0].permute(0, 3, 1, 2)
    y = opzoo.torch.squeeze_excite(*t, activation=activation)
    return (y.permute(0, 2, 3, 1) if layout == "NHWC" else y).detach().numpy()


def _torch_op_backward(grad_out, x, w_reduce, w_expand, b_reduce=None, b_expand=None, activation="silu",
                       layout="NCHW"):
    """The five gradients from autograd; zero biases collect the bias gradients when none are given."""
    torch = torch_or_skip()
    import opzoo.torch

    t = [leaf(as_tensor(torch, a)) for a in (x, w_reduce, w_expand, b_reduce, b_expand)]
    we = t[2]
    for i, dim in ((3, 1), (4, 0)):  # b_reduce (R,) and b_expand (C,), from w_expand (C, R)
        if t[i] is None and isinstance(we, torch.Tensor) and we.dim() == 2 and we.is_floating_point():
            t[i] = torch.zeros(we.shape[dim], dtype=we.dtype, requires_grad=True)
    xn = t[0].permute(0, 3, 1, 2) if layout == "NHWC" and isinstance(t[0], torch.Tensor) and t[0].dim() == 4 else t[0]
    y = opzoo.torch.squeeze_excite(xn, *t[1:], activation=activation)
    g = as_tensor(torch, grad_out)
    g = g.permute(0, 3, 1, 2) if layout == "NHWC" and g.dim() == 4 else g
    if g.shape != y.shape:  # autograd refuses it (RuntimeError) before any op sees it
        raise ValueError(f"grad_out: expected shape {tuple(y.shape)}, got {tuple(g.shape)}")
    y.backward(g)
    return tuple(a.grad.numpy() for a in t)


_TOLERANCES = (1e-5, 1e-4, 1e-4, 1e-4, 1e-4)  # sums over every pixel and image

ENTRIES = [
    KitEntry("squeeze_excite", opzoo.squeeze_excite, _forward_call, reference.squeeze_excite, _torch_peer_forward,
             "torch", _valid_forward, _BAD_FORWARD, dtypes=(np.float32, np.float64), optional=("b_reduce", "b_expand"),
             takes_out=True, out_may_be=("x",), zero_size_calls=_zero_size_forward,
             special_arrays=("x", "w_reduce", "b_expand")),
    KitEntry("squeeze_excite_backward", opzoo.squeeze_excite_backward, _backward_call, reference.squeeze_excite_backward,
             _torch_peer_backward, "torch", _valid_backward, _BAD_BACKWARD, rtol=_TOLERANCES,
             dtypes=(np.float32, np.float64), optional=("b_reduce", "b_expand"), zero_size_calls=_zero_size_backward,
             special_arrays=("grad_out", "x", "w_expand")),
    KitEntry("torch.squeeze_excite", _torch_op_forward, _forward_call, reference.squeeze_excite, _torch_peer_forward,
             "torch", _valid_forward, torch_op_table(_BAD_FORWARD), dtypes=(np.float32, np.float64),
             optional=("b_reduce", "b_expand"), zero_size_calls=_zero_size_forward,
             special_arrays=("x", "w_reduce", "b_expand"), array_library="torch"),
    KitEntry("torch.squeeze_excite autograd", _torch_op_backward, _backward_call, reference.squeeze_excite_backward,
             _torch_peer_backward, "torch", _valid_backward, torch_op_table(_BAD_BACKWARD), rtol=_TOLERANCES,
             dtypes=(np.float32, np.float64), optional=("b_reduce", "b_expand"), zero_size_calls=_zero_size_backward,
             special_arrays=("grad_out", "x", "w_expand"), array_library="torch",
             argument_arrays=("x", "w_reduce", "w_expand", "b_reduce", "b_expand")),
]

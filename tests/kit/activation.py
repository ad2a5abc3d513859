"""The bias-activation op's test-kit entries: random arrays of any rank with the bias
along a random axis, the NumPy reference, PyTorch's elementwise ops as the peer, and
what a user can get wrong."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo import reference

from . import ACTIVATIONS, BadInput, KitEntry, changed, param
from .torch_arrays import as_tensor, leaf, torch_op_table, torch_or_none, torch_or_skip


def _forward_call(rng, activations=ACTIVATIONS):
    ndim = int(rng.integers(1, 5))
    shape = tuple(int(rng.integers(1, 9)) for _ in range(ndim))
    axis = int(rng.integers(-ndim, ndim))
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    bias = rng.standard_normal(shape[axis]).astype(np.float32) if rng.random() < 0.8 else None
    residual = rng.standard_normal(shape).astype(np.float32) if rng.random() < 0.5 else None
    activation = activations[int(rng.integers(len(activations)))]
    return {"x": x, "bias": bias, "residual": residual}, {"activation": activation, "axis": axis}


def _backward_call(rng):
    # Smooth activations only: at relu's kinks the float32 and float64 sides may differ.
    arrays, params = _forward_call(rng, [None, "silu", "sigmoid"])
    arrays.pop("residual")
    return {"grad_out": rng.standard_normal(arrays["x"].shape).astype(np.float32), **arrays}, params


def _torch_activation(torch, z, activation):
    import torch.nn.functional as F

    return z if activation is None else (torch.sigmoid if activation == "sigmoid" else getattr(F, activation))(z)


def _torch_forward(torch, x, bias, activation, residual, axis):
    z = x if bias is None else x + bias.reshape((-1,) + (1,) * (x.dim() - 1 - axis % x.dim()))
    y = _torch_activation(torch, z, activation)
    return y if residual is None else y + residual


def _tensor(torch, a):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


def _torch_peer_forward():
    torch = torch_or_none()
    if torch is None:
        return None

    def peer(x, bias=None, residual=None, activation=None, axis=-1):
        t = [_tensor(torch, a) for a in (x, bias, residual)]
        return _torch_forward(torch, t[0], t[1], activation, t[2], axis).numpy()

    return peer


def _torch_peer_backward():
    torch = torch_or_none()
    if torch is None:
        return None

    def peer(grad_out, x, bias=None, activation=None, axis=-1):
        xt = torch.tensor(x, requires_grad=True)
        bt = torch.zeros(x.shape[axis], dtype=xt.dtype) if bias is None else torch.tensor(bias)
        bt.requires_grad_()
        _torch_forward(torch, xt, bt, activation, None, axis).backward(torch.from_numpy(np.ascontiguousarray(grad_out)))
        return xt.grad.numpy(), bt.grad.numpy()

    return peer


# Changes to the valid call below: x (2, 4, 3), bias (4,), residual (2, 4, 3), axis 1.
_BAD_FORWARD = [
    BadInput("axis 3", param(axis=3), ValueError, r"axis: expected an int in \[-3, 3\)"),
    BadInput("axis -4", param(axis=-4), ValueError, r"axis: expected an int in \[-3, 3\)"),
    BadInput("axis 2**63", param(axis=2**63), ValueError, r"axis: expected an int in \[-3, 3\).*got 9223372036854775808"),
    BadInput("axis -2**70", param(axis=-(2**70)), ValueError, r"axis: expected an int in \[-3, 3\)"),
    BadInput("axis 1.0", param(axis=1.0), TypeError, r"axis: expected an int"),
    BadInput("axis -2 (same as 1)", param(axis=-2), None),
    BadInput("bias shape", changed("bias", lambda a: a["bias"][:3]), ValueError, r"bias: expected shape \(4,\)"),
    BadInput("bias 2-D", changed("bias", lambda a: a["bias"][None]), ValueError, r"bias: expected shape \(4,\)"),
    BadInput("residual shape", changed("residual", lambda a: a["residual"][:1]), ValueError,
             r"residual: expected shape \(2, 4, 3\)"),
    BadInput("x int64", changed("x", lambda a: a["x"].astype(np.int64)), TypeError,
             r"x: expected dtype float32 or float64, got int64"),
    BadInput("bias float64", changed("bias", lambda a: a["bias"].astype(np.float64)), TypeError,
             r"bias: expected dtype float32"),
    BadInput("x 0-d", changed("x", lambda a: np.asarray(1.0, np.float32)), ValueError, r"x: expected at least 1 dimension"),
    BadInput("activation 'gelu'", param(activation="gelu"), ValueError, r"activation must be one of"),
    BadInput("activation 3", param(activation=3), TypeError, r"activation: expected None or a name"),
    BadInput("out shape", param(out=np.empty((2, 4, 2), np.float32)), ValueError, r"out: expected shape"),
    BadInput("out float64", param(out=np.empty((2, 4, 3), np.float64)), TypeError, r"out: expected dtype"),
    BadInput("out is x (in place)", lambda a, p: (a, {**p, "out": a["x"]}), None),
    BadInput("out is residual (in place)", lambda a, p: (a, {**p, "out": a["residual"]}), None),
    BadInput("out overlapping x", lambda a, p: _overlapping_out(a, p), ValueError, r"out: must not share memory with x"),
    BadInput("x a list", changed("x", lambda a: a["x"].tolist()), TypeError, r"x: expected an array"),
]

_BAD_BACKWARD = [
    BadInput("grad_out shape", changed("grad_out", lambda a: a["grad_out"][:, 1:]), ValueError,
             r"grad_out: expected shape \(2, 4, 3\)"),
    BadInput("grad_out float64", changed("grad_out", lambda a: a["grad_out"].astype(np.float64)), TypeError,
             r"grad_out: expected dtype float32"),
    BadInput("bias shape", changed("bias", lambda a: a["bias"][:3]), ValueError, r"bias: expected shape \(4,\)"),
    BadInput("axis 3", param(axis=3), ValueError, r"axis: expected an int in \[-3, 3\)"),
    BadInput("activation 'tanh'", param(activation="tanh"), ValueError, r"activation must be one of"),
]


def _overlapping_out(arrays, params):
    """x and out as views of one buffer, one element apart."""
    buf = np.concatenate([arrays["x"].ravel(), np.zeros(1, np.float32)])
    return {**arrays, "x": buf[:-1].reshape(2, 4, 3)}, {**params, "out": buf[1:].reshape(2, 4, 3)}


def _valid_forward(rng):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    arrays = {"x": x, "bias": rng.standard_normal(4).astype(np.float32),
              "residual": rng.standard_normal(x.shape).astype(np.float32)}
    return arrays, {"activation": "silu", "axis": 1}


def _valid_backward(rng):
    arrays, params = _valid_forward(rng)
    arrays.pop("residual")
    return {"grad_out": rng.standard_normal((2, 4, 3)).astype(np.float32), **arrays}, params


def _zero_size_forward(rng):
    calls = []
    for shape, axis in [((0,), 0), ((0, 5), -1), ((3, 0), 0), ((2, 0, 4), 1), ((2, 3, 0, 4), 1), ((0, 3, 2, 2), 1)]:
        x = rng.standard_normal(shape).astype(np.float32)
        calls.append(({"x": x, "bias": rng.standard_normal(shape[axis]).astype(np.float32),
                       "residual": rng.standard_normal(shape).astype(np.float32)}, {"activation": "relu", "axis": axis}))
    return calls


def _zero_size_backward(rng):
    calls = []
    for arrays, params in _zero_size_forward(rng):
        arrays.pop("residual")
        calls.append(({"grad_out": rng.standard_normal(arrays["x"].shape).astype(np.float32), **arrays}, params))
    return calls


ENTRIES = [
    KitEntry("bias_activation", opzoo.bias_activation, _forward_call, reference.bias_activation, _torch_peer_forward,
             "torch", _valid_forward, _BAD_FORWARD, dtypes=(np.float32, np.float64), optional=("bias", "residual"),
             takes_out=True, out_may_be=("x", "residual"), zero_size_calls=_zero_size_forward,
             special_arrays=("x", "bias", "residual")),
    KitEntry("bias_activation_backward", opzoo.bias_activation_backward, _backward_call,
             reference.bias_activation_backward, _torch_peer_backward, "torch", _valid_backward, _BAD_BACKWARD,
             rtol=(1e-5, 1e-5), dtypes=(np.float32, np.float64), optional=("bias",),
             zero_size_calls=_zero_size_backward, special_arrays=("grad_out", "x", "bias")),
]


# opzoo.torch's op, forward and through autograd, on the same calls (tensors sharing the
# arrays' memory; anything else reaches the op unchanged).


def _torch_op_forward(x, bias=None, residual=None, activation=None, axis=-1):
    torch = torch_or_skip()
    import opzoo.torch

    return opzoo.torch.bias_activation(as_tensor(torch, x), as_tensor(torch, bias), activation,
                                       residual=as_tensor(torch, residual), axis=axis).numpy()


def _torch_op_backward(grad_out, x, bias=None, activation=None, axis=-1):
    """grad_x and grad_bias from autograd; without a bias, a zero bias collects grad_bias."""
    torch = torch_or_skip()
    import opzoo.torch

    xt = leaf(as_tensor(torch, x))
    if bias is None and isinstance(xt, torch.Tensor) and xt.dim() > 0 and xt.is_floating_point():
        bt = torch.zeros(xt.shape[axis], dtype=xt.dtype, requires_grad=True)
    else:
        bt = leaf(as_tensor(torch, bias))
    y = opzoo.torch.bias_activation(xt, bt, activation, axis=axis)
    g = as_tensor(torch, grad_out)
    if g.shape != y.shape:  # autograd refuses it (RuntimeError) before any op sees it
        raise ValueError(f"grad_out: expected shape {tuple(y.shape)}, got {tuple(g.shape)}")
    y.backward(g)
    return xt.grad.numpy(), bt.grad.numpy()


ENTRIES += [
    KitEntry("torch.bias_activation", _torch_op_forward, _forward_call, reference.bias_activation,
             _torch_peer_forward, "torch", _valid_forward, torch_op_table(_BAD_FORWARD),
             dtypes=(np.float32, np.float64), optional=("bias", "residual"), zero_size_calls=_zero_size_forward,
             special_arrays=("x", "bias", "residual"), array_library="torch"),
    KitEntry("torch.bias_activation autograd", _torch_op_backward, _backward_call, reference.bias_activation_backward,
             _torch_peer_backward, "torch", _valid_backward, torch_op_table(_BAD_BACKWARD), rtol=(1e-5, 1e-5),
             dtypes=(np.float32, np.float64), optional=("bias",), zero_size_calls=_zero_size_backward,
             special_arrays=("grad_out", "x", "bias"), array_library="torch", argument_arrays=("x", "bias")),
]

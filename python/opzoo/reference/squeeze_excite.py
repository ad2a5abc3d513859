"""Squeeze-and-excitation in NumPy (float64): the channel means of each image, two small
fully connected layers, a sigmoid gate, and the input scaled by it."""

import warnings

import numpy as np

from .activation import activation_grad, apply_activation
from .layout import from_nchw, to_nchw


def _sigmoid(z):
    return apply_activation(z, "sigmoid")


def _forward_parts(x, w_reduce, w_expand, b_reduce, b_expand, activation):
    """x (N, C, H, W) float64: means s (N, C), z1 (N, R), h, z2 (N, C) and the gate."""
    with warnings.catch_warnings():  # no pixels: NaN means, as torch's x.mean((2, 3))
        warnings.simplefilter("ignore", RuntimeWarning)
        s = x.mean(axis=(2, 3))
    z1 = s @ np.asarray(w_reduce, np.float64).T + (0.0 if b_reduce is None else np.asarray(b_reduce, np.float64))
    h = apply_activation(z1, activation)
    z2 = h @ np.asarray(w_expand, np.float64).T + (0.0 if b_expand is None else np.asarray(b_expand, np.float64))
    return s, z1, h, z2, _sigmoid(z2)


def squeeze_excite(x, w_reduce, w_expand, b_reduce=None, b_expand=None, activation="silu", layout="NCHW"):
    """x * sigmoid(w_expand @ act(w_reduce @ mean_hw(x) + b_reduce) + b_expand), per image."""
    x = to_nchw(x, layout)
    with np.errstate(invalid="ignore", divide="ignore"):
        gate = _forward_parts(x, w_reduce, w_expand, b_reduce, b_expand, activation)[-1]
    return from_nchw(x * gate[:, :, None, None], layout)


def squeeze_excite_backward(grad_out, x, w_reduce, w_expand, b_reduce=None, b_expand=None, activation="silu",
                            layout="NCHW"):
    """(grad_x, grad_w_reduce, grad_w_expand, grad_b_reduce, grad_b_expand) of :func:`squeeze_excite`."""
    x, g = to_nchw(x, layout), to_nchw(grad_out, layout)
    w_reduce, w_expand = np.asarray(w_reduce, np.float64), np.asarray(w_expand, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        s, z1, h, z2, gate = _forward_parts(x, w_reduce, w_expand, b_reduce, b_expand, activation)
        dz2 = activation_grad(z2, (g * x).sum(axis=(2, 3)), "sigmoid")
        dz1 = activation_grad(z1, dz2 @ w_expand, activation)
        spread = dz1 @ w_reduce / (x.shape[2] * x.shape[3])
    grad_x = g * gate[:, :, None, None] + spread[:, :, None, None]
    return from_nchw(grad_x, layout), dz1.T @ s, dz2.T @ h, dz1.sum(axis=0), dz2.sum(axis=0)

"""The activations ops fuse, and their derivatives, in NumPy (float64)."""

import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def apply_activation(z, activation):
    """activation(z) for None, "relu", "relu6", "silu", "hardswish", "sigmoid"."""
    z = np.asarray(z, dtype=np.float64)
    if activation is None:
        return z
    if activation == "relu":
        return np.maximum(z, 0.0)
    if activation == "relu6":
        return np.clip(z, 0.0, 6.0)
    if activation == "silu":
        return z * _sigmoid(z)
    if activation == "hardswish":
        return z * np.clip(z + 3.0, 0.0, 6.0) / 6.0
    if activation == "sigmoid":
        return _sigmoid(z)
    raise ValueError(f"unknown activation {activation!r}")


def activation_grad(z, grad, activation):
    """grad * activation'(z), with PyTorch's choices at the kinks (0 at relu's 0,
    0 at relu6's 0 and 6, hardswish's slope (2z + 3) / 6 on [-3, 3])."""
    z = np.asarray(z, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if activation is None:
        return grad
    if activation == "relu":
        return grad * (z > 0)
    if activation == "relu6":
        return grad * ((z > 0) & (z < 6))
    if activation == "silu":
        s = _sigmoid(z)
        return grad * s * (1.0 + z * (1.0 - s))
    if activation == "hardswish":
        return grad * np.where(z < -3.0, 0.0, np.where(z <= 3.0, (2.0 * z + 3.0) / 6.0, 1.0))
    if activation == "sigmoid":
        s = _sigmoid(z)
        return grad * s * (1.0 - s)
    raise ValueError(f"unknown activation {activation!r}")


def _along(v, ndim, axis):
    """A vector as an array that broadcasts along `axis` of an ndim-D array."""
    axis = axis % ndim
    return np.asarray(v, dtype=np.float64).reshape((-1,) + (1,) * (ndim - 1 - axis))


def bias_activation(x, bias=None, activation=None, residual=None, axis=-1):
    """activation(x + bias along `axis`) + residual."""
    x = np.asarray(x, dtype=np.float64)
    z = x if bias is None else x + _along(bias, x.ndim, axis)
    y = apply_activation(z, activation)
    return y if residual is None else y + np.asarray(residual, dtype=np.float64)


def bias_activation_backward(grad_out, x, bias=None, activation=None, axis=-1):
    """(grad_x, grad_bias) of :func:`bias_activation`: grad_out * activation'(x + bias),
    and its sum over every axis but `axis`."""
    x = np.asarray(x, dtype=np.float64)
    z = x if bias is None else x + _along(bias, x.ndim, axis)
    grad_x = activation_grad(z, grad_out, activation)
    others = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
    return grad_x, grad_x.sum(axis=others)

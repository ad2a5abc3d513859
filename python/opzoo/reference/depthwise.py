"""Depthwise conv2d in NumPy: one multiply-add over shifted, strided slices of the
zero-padded input per kernel tap. Arguments as :func:`opzoo.depthwise_conv2d`."""

import numpy as np

from .activation import activation_grad, apply_activation
from .padding import pair, resolve_padding


def _nchw(a, layout):
    return np.asarray(a, dtype=np.float64) if layout == "NCHW" else np.asarray(a, np.float64).transpose(0, 3, 1, 2)


def _from_nchw(a, layout):
    return a if layout == "NCHW" else a.transpose(0, 2, 3, 1)


def _setup(x, weight, stride, padding, dilation, layout):
    x = _nchw(x, layout)
    w = np.asarray(weight, dtype=np.float64)[:, 0]
    N, C, H, W = x.shape
    M = w.shape[0] // C if C else 1
    kh, kw = w.shape[1:]
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    top, bottom, left, right = resolve_padding(padding, (H, W), (kh, kw), (sh, sw), (dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    xp = np.repeat(xp, M, axis=1)  # output channel c*M + m reads input channel c
    Ho = (H + top + bottom - (kh - 1) * dh - 1) // sh + 1
    Wo = (W + left + right - (kw - 1) * dw - 1) // sw + 1

    def window(i, j):  # the input pixels tap (i, j) meets, for every output pixel
        r, c = i * dh, j * dw
        return xp[:, :, r : r + sh * (Ho - 1) + 1 : sh, c : c + sw * (Wo - 1) + 1 : sw]

    return x, w, M, (top, bottom, left, right), xp, window, (Ho, Wo)


def _preactivation(w, bias, window, shape):
    z = np.zeros(shape)
    for i in range(w.shape[1]):
        for j in range(w.shape[2]):
            z += window(i, j) * w[None, :, i, j, None, None]
    if bias is not None:
        z += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return z


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *, layout="NCHW", activation=None):
    """Reference forward; float64 result."""
    x, w, M, _, xp, window, (Ho, Wo) = _setup(x, weight, stride, padding, dilation, layout)
    z = _preactivation(w, bias, window, (x.shape[0], w.shape[0], Ho, Wo))
    return _from_nchw(apply_activation(z, activation), layout)


def depthwise_conv2d_backward(
    grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1, *, layout="NCHW", activation=None
):
    """Reference (grad_x, grad_weight, grad_bias); float64 results."""
    x, w, M, (top, bottom, left, right), xp, window, (Ho, Wo) = _setup(x, weight, stride, padding, dilation, layout)
    N, C, H, W = x.shape
    g = _nchw(grad_out, layout)
    if activation is not None:
        g = activation_grad(_preactivation(w, bias, window, g.shape), g, activation)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    kh, kw = w.shape[1:]
    grad_w = np.zeros_like(w)
    grad_xp = np.zeros((N, C * M) + xp.shape[2:])
    for i in range(kh):
        for j in range(kw):
            grad_w[:, i, j] = (g * window(i, j)).sum(axis=(0, 2, 3))
            r, c = i * dh, j * dw
            grad_xp[:, :, r : r + sh * (Ho - 1) + 1 : sh, c : c + sw * (Wo - 1) + 1 : sw] += g * w[None, :, i, j, None, None]
    grad_xp = grad_xp.reshape(N, C, M, *xp.shape[2:]).sum(axis=2)
    grad_x = grad_xp[:, :, top : top + H, left : left + W]
    return _from_nchw(grad_x, layout), grad_w[:, None], g.sum(axis=(0, 2, 3))

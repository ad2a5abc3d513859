"""Depthwise conv2d in NumPy: per kernel tap, one multiply-add between the output pixels
whose window puts that tap inside the input and the input pixels it reads there (zero
padding contributes nothing). Arguments as :func:`opzoo.depthwise_conv2d`; any padding,
stride and dilation whose output fits in memory."""

import numpy as np

from .activation import activation_grad, apply_activation
from .layout import from_nchw, to_nchw
from .padding import pair, resolve_padding


def output_size(in_size, kernel, stride, padding, dilation):
    """Output extent of one axis for explicit pads (lo, hi), in exact integers; < 1 when
    the kernel spans more than the padded input."""
    return (in_size + padding[0] + padding[1] - (kernel - 1) * dilation - 1) // stride + 1


def _taps(in_size, out_size, k, stride, pad_lo, dilation):
    """For each tap i of one axis, the output positions whose window puts tap i inside
    the input, and the input positions it reads there. Index arithmetic only, so
    padding, stride and dilation of any size cost nothing."""
    out = np.arange(out_size, dtype=np.int64)
    taps = []
    for i in range(k):
        first = i * dilation - pad_lo  # input position of tap i at output 0 (exact int)
        if first >= in_size or first + (out_size - 1) * stride < 0:
            taps.append((out[:0], out[:0]))
            continue
        lo = 0 if first >= 0 else -(first // stride)  # first output whose tap is >= 0
        hi = min(out_size, (in_size - 1 - first) // stride + 1)  # past the last one < in_size
        o = out[lo:max(lo, hi)]
        taps.append((o, first + o * stride))
    return taps


def _setup(x, weight, stride, padding, dilation, layout):
    x = to_nchw(x, layout)
    w = np.asarray(weight, dtype=np.float64)[:, 0]
    N, C, H, W = x.shape
    M = w.shape[0] // C if C else 1
    kh, kw = w.shape[1:]
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    top, bottom, left, right = resolve_padding(padding, (H, W), (kh, kw), (sh, sw), (dh, dw))
    Ho = output_size(H, kh, sh, (top, bottom), dh)
    Wo = output_size(W, kw, sw, (left, right), dw)
    xr = np.repeat(x, M, axis=1)  # output channel c*M + m reads input channel c
    rows, cols = _taps(H, Ho, kh, sh, top, dh), _taps(W, Wo, kw, sw, left, dw)

    def window(i, j):  # (output index, input index) of the pixels tap (i, j) meets inside the input
        (oh, ih), (ow, iw) = rows[i], cols[j]
        return np.ix_(oh, ow), np.ix_(ih, iw)

    return x, w, M, xr, window, (Ho, Wo)


def _preactivation(w, bias, xr, window, shape):
    z = np.zeros(shape)
    for i in range(w.shape[1]):
        for j in range(w.shape[2]):
            out_at, in_at = window(i, j)
            z[(..., *out_at)] += xr[(..., *in_at)] * w[None, :, i, j, None, None]
    if bias is not None:
        z += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return z


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *, layout="NCHW", activation=None):
    """Reference forward; float64 result."""
    x, w, M, xr, window, (Ho, Wo) = _setup(x, weight, stride, padding, dilation, layout)
    z = _preactivation(w, bias, xr, window, (x.shape[0], w.shape[0], Ho, Wo))
    return from_nchw(apply_activation(z, activation), layout)


def depthwise_conv2d_backward(
    grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1, *, layout="NCHW", activation=None
):
    """Reference (grad_x, grad_weight, grad_bias); float64 results."""
    x, w, M, xr, window, _ = _setup(x, weight, stride, padding, dilation, layout)
    N, C, H, W = x.shape
    g = to_nchw(grad_out, layout)
    if activation is not None:
        g = activation_grad(_preactivation(w, bias, xr, window, g.shape), g, activation)
    kh, kw = w.shape[1:]
    grad_w = np.zeros_like(w)
    grad_xr = np.zeros((N, C * M, H, W))
    for i in range(kh):
        for j in range(kw):
            out_at, in_at = window(i, j)
            gt = g[(..., *out_at)]
            grad_w[:, i, j] = (gt * xr[(..., *in_at)]).sum(axis=(0, 2, 3))
            grad_xr[(..., *in_at)] += gt * w[None, :, i, j, None, None]  # one tap reads each pixel once
    grad_x = grad_xr.reshape(N, C, M, H, W).sum(axis=2)
    return from_nchw(grad_x, layout), grad_w[:, None], g.sum(axis=(0, 2, 3))

"""Depthwise 2-D convolution (EfficientNet, MobileNet, ThunderNet): forward and backward.

Semantics are those of ``torch.nn.functional.conv2d(x, weight, bias, stride, padding,
dilation, groups=C)``, plus TensorFlow's asymmetric ``"same"`` padding and a fused
activation.

Memory layout: the kernels run in NCHW or NHWC memory. ``layout`` names the axis
order of the arrays you pass; independently of it, an input whose memory is dense in
the other order (a ``torch.channels_last`` tensor, or a transposed NumPy view) is read
in place, and the output comes back in that same memory order, as PyTorch does.
Other strided inputs are copied once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _cpu, _device
from .._device import device_arrays, is_device_array
from .._dispatch import (
    activation_code,
    check_ndim,
    check_shape,
    float_dtype,
    host_arrays,
    int_tuple,
)
from .._padding import resolve_padding
from ..reference.activation import activation_grad

__all__ = ["depthwise_conv2d", "depthwise_conv2d_backward"]

_LAYOUTS = ("NCHW", "NHWC")
_PERMUTE = {("NCHW", "NHWC"): (0, 2, 3, 1), ("NHWC", "NCHW"): (0, 3, 1, 2)}


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 1 us per call
class _Geometry:
    """Every extent of one call, checked; shapes are given in the caller's layout."""

    layout: str
    N: int
    C: int
    H: int
    W: int
    M: int
    kh: int
    kw: int
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    dilation: tuple[int, int]
    Ho: int
    Wo: int

    @classmethod
    def parse(cls, x, weight, stride, padding, dilation, layout) -> "_Geometry":
        if layout not in _LAYOUTS:
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
        check_ndim(x, "x", 4, "(N, C, H, W)" if layout == "NCHW" else "(N, H, W, C)")
        check_ndim(weight, "weight", 4, "(C*M, 1, kh, kw)")
        if layout == "NCHW":
            N, C, H, W = x.shape
        else:
            N, H, W, C = x.shape
        CM, one, kh, kw = weight.shape
        if one != 1 or kh < 1 or kw < 1:
            raise ValueError(f"weight: expected shape (C*M, 1, kh, kw), got {weight.shape}")
        if (CM != 0) if C == 0 else (CM < C or CM % C):
            raise ValueError(
                f"weight: expected a multiple of the {C} input channels in dimension 0, got shape {weight.shape}"
            )
        stride = int_tuple(stride, "stride", 2)
        dilation = int_tuple(dilation, "dilation", 2)
        if min(stride) < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if min(dilation) < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation}")
        pads = resolve_padding(padding, (H, W), (kh, kw), stride, dilation)
        extents = []
        for n, lo, hi, k, s, d in zip((H, W), pads[0::2], pads[1::2], (kh, kw), stride, dilation):
            span = (k - 1) * d + 1
            if n + lo + hi < span:
                raise ValueError(
                    f"kernel ({kh}, {kw}) with dilation {dilation} spans more than the padded input "
                    f"({H + pads[0] + pads[1]}, {W + pads[2] + pads[3]})"
                )
            extents.append((n + lo + hi - span) // s + 1)
        return cls(layout, N, C, H, W, CM // C if C else 1, kh, kw, stride, pads, dilation, *extents)

    def output_shape(self, layout: str) -> tuple[int, int, int, int]:
        CM = self.C * self.M
        if layout == "NCHW":
            return (self.N, CM, self.Ho, self.Wo)
        return (self.N, self.Ho, self.Wo, CM)

    def kernel_args(self, kernel_layout: str) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, layout=kernel_layout)


def _other(layout: str) -> str:
    return "NHWC" if layout == "NCHW" else "NCHW"


def _to_layout(a: np.ndarray, src: str, dst: str) -> np.ndarray:
    return a if src == dst else a.transpose(_PERMUTE[(src, dst)])


def _kernel_input(a: np.ndarray, layout: str) -> tuple[np.ndarray, str]:
    """`a` (axes in `layout`) as a dense array in the memory order it already has, if any."""
    if a.flags.c_contiguous:
        return a, layout
    alt = _to_layout(a, layout, _other(layout))
    if alt.flags.c_contiguous:
        return alt, _other(layout)
    return np.ascontiguousarray(a), layout


def _dense(a: np.ndarray, layout: str, kernel_layout: str) -> np.ndarray:
    return np.ascontiguousarray(_to_layout(a, layout, kernel_layout))


def _check_out(out: np.ndarray, dtype: np.dtype, shape: tuple, inputs: dict) -> None:
    if out.dtype != dtype:
        raise TypeError(f"out: expected dtype {dtype}, got {out.dtype}")
    check_shape(out, "out", shape)
    if not out.flags.writeable:
        raise ValueError("out: array is read-only")
    for name, a in inputs.items():
        if a is not None and np.may_share_memory(out, a):
            raise ValueError(f"out: must not share memory with {name}")


def depthwise_conv2d(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    *,
    layout="NCHW",
    activation=None,
    out=None,
):
    """Depthwise 2-D convolution with fused bias and activation.

    Equal to ``torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation,
    groups=C)`` followed by ``activation``: output channel ``c * M + m`` is input
    channel ``c`` cross-correlated with ``weight[c * M + m, 0]``.

    Parameters
    ----------
    x : array, shape (N, C, H, W), or (N, H, W, C) with ``layout="NHWC"``
        On the CPU: float32 or float64; NumPy, PyTorch or any array with
        ``__array_interface__``/``__dlpack__``. On a CUDA device (a build with
        ``opzoo._cuda``): float32, float16 or bfloat16 (accumulated in float32);
        PyTorch, CuPy or Numba, run on the caller's current stream.
    weight : array, shape (C*M, 1, kh, kw)
        As PyTorch stores a depthwise convolution's weight; M >= 1 is the channel
        multiplier.
    bias : array, shape (C*M,), optional
    stride, dilation : int or (int, int)
    padding : int, (ph, pw), (top, bottom, left, right), "same" or "valid"
        ``"same"`` is TensorFlow's SAME: output ``ceil(H / stride)``, the extra pixel of
        padding at the bottom and right.
    layout : {"NCHW", "NHWC"}
        Axis order of ``x``, ``out`` and the result.
    activation : {None, "relu", "relu6", "silu", "hardswish", "sigmoid"}
        Applied after the bias, in the same pass.
    out : array, optional
        Where to write the result; same type, dtype and shape as the result would have.

    Returns
    -------
    y : array, shape (N, C*M, Ho, Wo), or (N, Ho, Wo, C*M) with ``layout="NHWC"``
        The type of ``x``, in the memory order of ``x`` (a channels_last tensor gives a
        channels_last result), or ``out``.

    Raises
    ------
    TypeError
        Unsupported or mixed dtypes, or arrays of different types.
    ValueError
        Wrong ranks or shapes, channel mismatch, negative padding, a kernel larger than
        the padded input, unknown layout or activation.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> x = np.random.default_rng(0).standard_normal((1, 8, 32, 32), dtype=np.float32)
    >>> w = np.random.default_rng(1).standard_normal((8, 1, 3, 3), dtype=np.float32)
    >>> opzoo.depthwise_conv2d(x, w, stride=2, padding="same", activation="silu").shape
    (1, 8, 16, 16)
    """
    if any(is_device_array(a) for a in (x, weight, bias, out)):
        return _forward_on_device(x, weight, bias, stride, padding, dilation, layout, activation, out)
    arrays, back = host_arrays(x=x, weight=weight, bias=bias, out=out)
    dtype = float_dtype(arrays, "x")
    xa, wa, ba, oa = arrays["x"], arrays["weight"], arrays["bias"], arrays["out"]
    geo = _Geometry.parse(xa, wa, stride, padding, dilation, layout)
    act = activation_code(activation)
    if ba is not None:
        check_shape(ba, "bias", (geo.C * geo.M,))
    if oa is not None:
        _check_out(oa, dtype, geo.output_shape(layout), {"x": xa, "weight": wa, "bias": ba})

    xk, kernel_layout = _kernel_input(xa, layout)
    y = _run_forward(geo, xk, kernel_layout, wa, ba, act, oa)
    if oa is not None:
        return out
    return back(_to_layout(y, kernel_layout, layout))


def _run_forward(geo, xk, kernel_layout, weight, bias, act, out=None):
    """Runs the kernel on `xk` (dense in kernel_layout); returns the kernel-layout result,
    written into `out` (caller's layout) when given."""
    yk = None
    if out is not None:
        view = _to_layout(out, geo.layout, kernel_layout)
        if view.flags.c_contiguous:
            yk = view
    in_place = yk is not None
    if not in_place:
        yk = np.empty(geo.output_shape(kernel_layout), dtype=xk.dtype)
    _cpu.depthwise_forward(
        xk,
        np.ascontiguousarray(weight),
        None if bias is None else np.ascontiguousarray(bias),
        yk,
        activation=act,
        **geo.kernel_args(kernel_layout),
    )
    if out is not None and not in_place:
        np.copyto(out, _to_layout(yk, kernel_layout, geo.layout))
    return yk


def depthwise_conv2d_backward(
    grad_out,
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    *,
    layout="NCHW",
    activation=None,
):
    """Gradients of :func:`depthwise_conv2d` with respect to x, weight and bias.

    Takes the forward's arguments. With an activation, the pre-activation output is
    recomputed from ``x``, ``weight`` and ``bias``, and ``grad_out`` is multiplied by the
    activation's derivative there (NumPy) before the convolution gradients.

    Parameters
    ----------
    grad_out : array, shape of the forward's output
        Gradient of the loss with respect to ``depthwise_conv2d(x, weight, ...)``.
    x, weight, bias, stride, padding, dilation, layout, activation
        As given to :func:`depthwise_conv2d`.

    Returns
    -------
    grad_x : array, shape and memory order of ``x``
    grad_weight : array, shape (C*M, 1, kh, kw)
    grad_bias : array, shape (C*M,)
        The gradient a bias would receive (the sum of the output gradient per channel),
        returned whether or not ``bias`` was given.

    Notes
    -----
    Deterministic: the weight and bias gradients are reduced in a fixed order (on the
    CPU one thread per channel, on CUDA one thread block per channel; no atomics), so
    results are bit-identical run to run and for any thread count.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 4, 9, 9), dtype=np.float32)
    >>> w = rng.standard_normal((4, 1, 3, 3), dtype=np.float32)
    >>> g = np.ones((2, 4, 9, 9), dtype=np.float32)
    >>> gx, gw, gb = opzoo.depthwise_conv2d_backward(g, x, w, padding=1)
    >>> gx.shape, gw.shape, gb.shape
    ((2, 4, 9, 9), (4, 1, 3, 3), (4,))
    """
    if any(is_device_array(a) for a in (grad_out, x, weight, bias)):
        return _backward_on_device(grad_out, x, weight, bias, stride, padding, dilation, layout, activation)
    arrays, back = host_arrays(grad_out=grad_out, x=x, weight=weight, bias=bias)
    dtype = float_dtype(arrays, "x")
    ga, xa, wa, ba = arrays["grad_out"], arrays["x"], arrays["weight"], arrays["bias"]
    geo = _Geometry.parse(xa, wa, stride, padding, dilation, layout)
    activation_code(activation)  # rejects unknown names before any work
    check_shape(ga, "grad_out", geo.output_shape(layout))
    if ba is not None:
        check_shape(ba, "bias", (geo.C * geo.M,))

    xk, kernel_layout = _kernel_input(xa, layout)
    gk = _dense(ga, layout, kernel_layout)
    wk = np.ascontiguousarray(wa)
    if activation is not None:
        z = _run_forward(geo, xk, kernel_layout, wk, ba, activation_code(None))
        gk = activation_grad(z, gk, activation).astype(dtype, copy=False)
    args = geo.kernel_args(kernel_layout)
    grad_x = np.empty_like(xk)
    grad_w = np.empty_like(wk)
    grad_b = np.empty(geo.C * geo.M, dtype=dtype)
    _cpu.depthwise_backward_input(gk, wk, grad_x, **args)
    _cpu.depthwise_backward_weight(gk, xk, grad_w, grad_b, **args)
    return back(_to_layout(grad_x, kernel_layout, layout)), back(grad_w), back(grad_b)


# ---------------------------------------------------------------------------------
# CUDA arrays (PyTorch, CuPy, Numba): the same steps through opzoo._cuda, with the
# caller's library allocating every result on the caller's device.


def _device_input(call, a, layout: str, name: str):
    """`a` (axes in `layout`) dense in the memory order it has, if any, else copied."""
    if call.is_dense(a) or call.library == "numba":
        return call.contiguous(a, name), layout
    alt = call.permute(a, _PERMUTE[(layout, _other(layout))])
    if call.is_dense(alt):
        return alt, _other(layout)
    return call.contiguous(a, name), layout


def _device_in_layout(call, a, src: str, dst: str, name: str):
    return call.contiguous(a if src == dst else call.permute(a, _PERMUTE[(src, dst)]), name)


def _device_forward(call, geo, xk, kernel_layout, wk, bk, act):
    yk = call.empty(geo.output_shape(kernel_layout), like=xk)
    _device._cuda.depthwise_forward(
        call.describe(xk),
        call.describe(wk),
        None if bk is None else call.describe(bk),
        call.describe(yk),
        activation=act,
        stream=call.stream,
        **geo.kernel_args(kernel_layout),
    )
    return yk


def _forward_on_device(x, weight, bias, stride, padding, dilation, layout, activation, out):
    call = device_arrays(x=x, weight=weight, bias=bias, out=out)
    geo = _Geometry.parse(x, weight, stride, padding, dilation, layout)
    act = activation_code(activation)
    if bias is not None:
        check_shape(bias, "bias", (geo.C * geo.M,))
    if out is not None:
        check_shape(out, "out", geo.output_shape(layout))
    xk, kernel_layout = _device_input(call, x, layout, "x")
    wk = call.contiguous(weight, "weight")
    bk = None if bias is None else call.contiguous(bias, "bias")
    yk = _device_forward(call, geo, xk, kernel_layout, wk, bk, act)
    y = yk if kernel_layout == layout else call.permute(yk, _PERMUTE[(kernel_layout, layout)])
    if out is None:
        return y
    call.copy_into(out, y)
    return out


def _backward_on_device(grad_out, x, weight, bias, stride, padding, dilation, layout, activation):
    call = device_arrays(grad_out=grad_out, x=x, weight=weight, bias=bias)
    geo = _Geometry.parse(x, weight, stride, padding, dilation, layout)
    act = activation_code(activation)
    check_shape(grad_out, "grad_out", geo.output_shape(layout))
    if bias is not None:
        check_shape(bias, "bias", (geo.C * geo.M,))
    xk, kernel_layout = _device_input(call, x, layout, "x")
    gk = _device_in_layout(call, grad_out, layout, kernel_layout, "grad_out")
    wk = call.contiguous(weight, "weight")
    if act:
        bk = None if bias is None else call.contiguous(bias, "bias")
        z = _device_forward(call, geo, xk, kernel_layout, wk, bk, activation_code(None))
        scaled = call.empty(tuple(gk.shape), like=gk)
        _device._cuda.activation_backward(
            call.describe(call.flat(z)), call.describe(call.flat(gk)), call.describe(call.flat(scaled)),
            activation=act, stream=call.stream,
        )
        gk = scaled
    args = dict(stream=call.stream, **geo.kernel_args(kernel_layout))
    grad_x = call.empty(tuple(xk.shape), like=xk)
    grad_w = call.empty(tuple(wk.shape), like=wk)
    grad_b = call.empty((geo.C * geo.M,), like=wk)
    _device._cuda.depthwise_backward_input(call.describe(gk), call.describe(wk), call.describe(grad_x), **args)
    _device._cuda.depthwise_backward_weight(
        call.describe(gk), call.describe(xk), call.describe(grad_w), call.describe(grad_b), **args
    )
    gx = grad_x if kernel_layout == layout else call.permute(grad_x, _PERMUTE[(kernel_layout, layout)])
    return gx, grad_w, grad_b

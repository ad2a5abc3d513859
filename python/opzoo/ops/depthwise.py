"""Depthwise 2-D convolution (EfficientNet, MobileNet, ThunderNet): forward and backward.

Semantics are those of ``torch.nn.functional.conv2d(x, weight, bias, stride, padding,
dilation, groups=C)``, plus TensorFlow's asymmetric ``"same"`` padding and a fused
activation. Memory layouts follow :mod:`opzoo._layout`: ``layout`` names the axis order
of the arrays you pass, and an input dense in the other memory order is read in place,
its result returned in that order, as PyTorch does.

Every array type runs the same steps: the back end for the arguments
(:mod:`opzoo._dispatch`), the output shape from the kernel module's own shape rules
(``opzoo._cpu.depthwise_output_shape``, which checks every argument), the input in the
memory order it has, and the kernels.
"""

from __future__ import annotations

from .. import _cpu
from .._args import conv2d_params
from .._dispatch import backend_for
from .._layout import Output, check_shape, dense_in_layout, dense_in_memory_order, to_layout

__all__ = ["depthwise_conv2d", "depthwise_conv2d_backward"]


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
    be, (x_, weight_, bias_, out_) = backend_for(("bias", "out"), x=x, weight=weight, bias=bias, out=out)
    return forward_on(be, x_, weight_, bias_, conv2d_params(stride, padding, dilation), layout, activation, out, out_)


def forward_on(be, x, weight, bias, params, layout, activation, out=None, out_view=None):
    """:func:`depthwise_conv2d` on back end `be`'s views of its arrays, `params` the
    normalised (stride, padding, dilation); `out` the caller's argument, `out_view` its view."""
    # Positional arguments to the kernel module: keywords cost pybind11 0.4 us a call.
    shape = _cpu.depthwise_output_shape(x.shape, weight.shape, *params, layout)
    xk, memory = dense_in_memory_order(be, x, layout, "x")
    y = Output(be, out, out_view, shape, layout, memory, like=xk, inputs={"x": x, "weight": weight, "bias": bias})
    be.run("depthwise_forward", (xk, be.contiguous(weight, "weight"), be.contiguous(bias, "bias"), y.array),
           *params, memory, activation)
    return y.result()


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
    activation's derivative there (a kernel, on the CPU and on CUDA devices) before the
    convolution gradients.

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
    return backward(grad_out, x, weight, bias, stride, padding, dilation, layout, activation)


def backward(grad_out, x, weight, bias, stride, padding, dilation, layout, activation, input_grad=True,
             weight_grad=True):
    """:func:`depthwise_conv2d_backward`, computing only the gradients asked for: grad_x when
    `input_grad`, grad_weight and grad_bias when `weight_grad`; None in place of the others."""
    be, (x_, g_, weight_, bias_) = backend_for(("bias",), x=x, grad_out=grad_out, weight=weight, bias=bias)
    return backward_on(be, g_, x_, weight_, bias_, conv2d_params(stride, padding, dilation), layout, activation,
                       input_grad, weight_grad)


def backward_on(be, g_, x_, weight_, bias_, params, layout, activation, input_grad, weight_grad):
    """:func:`backward` on back end `be`'s views of its arrays, `params` the normalised
    (stride, padding, dilation)."""
    shape = _cpu.depthwise_output_shape(x_.shape, weight_.shape, *params, layout)
    check_shape(g_, "grad_out", shape)
    if bias_ is not None:
        check_shape(bias_, "bias", (weight_.shape[0],))
    xk, memory = dense_in_memory_order(be, x_, layout, "x")
    gk = dense_in_layout(be, g_, layout, memory, "grad_out")
    wk = be.contiguous(weight_, "weight")
    if activation is not None:  # grad_out through the activation, at the recomputed pre-activation
        z = be.empty(tuple(gk.shape), like=gk)
        be.run("depthwise_forward", (xk, wk, be.contiguous(bias_, "bias"), z), *params, memory, None)
        gz = be.empty(tuple(gk.shape), like=gk)
        be.run("activation_backward", (z, gk, gz), activation)
        gk = gz
    grad_x = be.empty(tuple(xk.shape), like=xk) if input_grad else None
    grad_w = be.empty(tuple(wk.shape), like=wk) if weight_grad else None
    grad_b = be.empty((wk.shape[0],), like=wk) if weight_grad else None
    be.run("depthwise_backward", (gk, xk, wk, grad_x, grad_w, grad_b), *params, memory)
    return (None if grad_x is None else be.wrap(to_layout(be, grad_x, memory, layout)),
            None if grad_w is None else be.wrap(grad_w), None if grad_b is None else be.wrap(grad_b))

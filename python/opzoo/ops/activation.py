"""Bias, activation and residual in one pass: the epilogue of a matrix product or a
convolution (EfficientNet's pointwise convolutions as GEMMs), and its backward.

``bias_activation(x, bias, activation, residual=r)`` is ``activation(x + bias) + r`` with
the bias along one axis of ``x`` (the last by default, as NumPy broadcasting adds a
vector; ``axis=1`` for NCHW). Arrays are read in the memory order they have: a 4-D array
dense in channels-last memory (a ``torch.channels_last`` tensor) is read in place and
its result comes back in that order, as PyTorch's elementwise ops do; other strided
inputs are copied once. The kernel module's own rules check the axis and the bias
(``opzoo._cpu.bias_activation_axis``).
"""

from __future__ import annotations

import operator

from .. import _cpu
from .._dispatch import backend_for
from .._layout import PERMUTE, Output, check_shape, dense_in_layout, dense_in_memory_order, to_layout

__all__ = ["bias_activation", "bias_activation_backward"]

# The layout helpers name axis orders: a 4-D array's own order is "NCHW" and its
# channels-last memory "NHWC"; arrays of other ranks keep the order they are given in,
# named "NCHW" too, which the helpers never permute.
_GIVEN = "NCHW"


def _dense(be, a, name):
    """`a` dense in the memory order it has, and that order."""
    if len(a.shape) == 4:
        return dense_in_memory_order(be, a, _GIVEN, name)
    return be.contiguous(a, name), _GIVEN


def _kernel_axis(axis: int, memory: str) -> int:
    return axis if memory == _GIVEN else PERMUTE[(_GIVEN, memory)].index(axis)


def int_axis(axis) -> int:
    """`axis` as an int (anything with __index__ but a bool); TypeError otherwise."""
    try:
        if isinstance(axis, bool):
            raise TypeError
        return operator.index(axis)
    except TypeError:
        raise TypeError(f"axis: expected an int, got {type(axis).__name__}") from None


def check_axis(x, bias, axis) -> int:
    """`axis` of x, normalised to 0 <= axis < x.ndim; TypeError or ValueError as the op raises them."""
    axis = int_axis(axis)
    return _cpu.bias_activation_axis(tuple(x.shape), None if bias is None else tuple(bias.shape), axis)


def bias_activation(x, bias=None, activation=None, *, residual=None, axis=-1, out=None):
    """``activation(x + bias) + residual`` in one pass over memory.

    Parameters
    ----------
    x : array, any shape with at least one axis
        float32 or float64 on the CPU; NumPy, PyTorch or any array with
        ``__array_interface__``/``__dlpack__``.
    bias : array, shape (x.shape[axis],), optional
        Added along `axis` before the activation.
    activation : {None, "relu", "relu6", "silu", "hardswish", "sigmoid"}
    residual : array, shape of x, optional
        Added after the activation (a residual block's shortcut).
    axis : int
        The axis the bias runs along; negative counts from the end.
    out : array, optional
        Where to write the result; may be ``x`` or ``residual`` itself (in place).

    Returns
    -------
    y : array, shape of x
        The type of ``x``, in the memory order of ``x``, or ``out``.

    Raises
    ------
    TypeError
        Unsupported or mixed dtypes, arrays of different types, an axis that is not an int.
    ValueError
        An axis out of range, a bias or residual of the wrong shape, an unknown
        activation, an ``out`` that overlaps an input other than being it.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> x = np.array([[-1.0, 0.5], [2.0, -3.0]], dtype=np.float32)
    >>> opzoo.bias_activation(x, np.array([0.5, 0.5], dtype=np.float32), "relu")
    array([[0. , 1. ],
           [2.5, 0. ]], dtype=float32)
    """
    be, (x_, bias_, residual_, out_) = backend_for(("bias", "residual", "out"), x=x, bias=bias, residual=residual,
                                                  out=out)
    axis_ = check_axis(x_, bias_, axis)
    shape = tuple(x_.shape)
    if residual_ is not None:
        check_shape(residual_, "residual", shape)
    xk, memory = _dense(be, x_, "x")
    rk = None if residual_ is None else dense_in_layout(be, residual_, _GIVEN, memory, "residual")
    # out may be x or residual itself: the kernel reads each element before writing it.
    inputs = {name: a for name, a in (("x", x_), ("bias", bias_), ("residual", residual_)) if a is not out_}
    y = Output(be, out, out_, shape, _GIVEN, memory, like=xk, inputs=inputs)
    be.run("bias_activation", (xk, be.contiguous(bias_, "bias"), rk, y.array), _kernel_axis(axis_, memory), activation)
    return y.result()


def bias_activation_backward(grad_out, x, bias=None, activation=None, *, axis=-1):
    """Gradients of :func:`bias_activation` with respect to x and the bias.

    Takes the forward's arguments (the residual's gradient is ``grad_out`` itself).

    Parameters
    ----------
    grad_out : array, shape of x
    x, bias, activation, axis
        As given to :func:`bias_activation`.

    Returns
    -------
    grad_x : array, shape and memory order of x
        ``grad_out * activation'(x + bias)``, with PyTorch's values at the kinks.
    grad_bias : array, shape (x.shape[axis],)
        The sum of grad_x over every other axis, in an order fixed by the shape (the same
        bits for any thread count); returned whether or not `bias` was given.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> x = np.array([[-1.0, 0.5], [2.0, -3.0]], dtype=np.float32)
    >>> gx, gb = opzoo.bias_activation_backward(np.ones_like(x), x, activation="relu")
    >>> gx, gb
    (array([[0., 1.],
           [1., 0.]], dtype=float32), array([1., 1.], dtype=float32))
    """
    return backward(grad_out, x, bias, activation, axis)


def backward(grad_out, x, bias, activation, axis, input_grad=True, bias_grad=True):
    """:func:`bias_activation_backward`, computing only what is asked for: grad_x when
    `input_grad`, grad_bias when `bias_grad`; None in place of the other."""
    be, (x_, g_, bias_) = backend_for(("bias",), x=x, grad_out=grad_out, bias=bias)
    axis_ = check_axis(x_, bias_, axis)
    check_shape(g_, "grad_out", tuple(x_.shape))
    xk, memory = _dense(be, x_, "x")
    gk = dense_in_layout(be, g_, _GIVEN, memory, "grad_out")
    grad_x = be.empty(tuple(xk.shape), like=xk) if input_grad else None
    grad_b = be.empty((x_.shape[axis_],), like=xk) if bias_grad else None
    be.run("bias_activation_backward", (gk, xk, be.contiguous(bias_, "bias"), grad_x, grad_b),
           _kernel_axis(axis_, memory), activation)
    return (None if grad_x is None else be.wrap(to_layout(be, grad_x, memory, _GIVEN)),
            None if grad_b is None else be.wrap(grad_b))

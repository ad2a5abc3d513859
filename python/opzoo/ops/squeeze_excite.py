"""Squeeze-and-excitation (SENet; the blocks of EfficientNet and MobileNetV3): forward and
backward in one op.

Per image, the channel means ``s = mean_hw(x)`` go through two small fully connected
layers, ``h = activation(w_reduce @ s + b_reduce)`` and ``g = sigmoid(w_expand @ h +
b_expand)``, and the result is ``x * g``, the gate broadcast over the pixels: one pass
over x for the means and one for the product. The weights are those of PyTorch's 1x1
convolutions (timm's ``conv_reduce`` and ``conv_expand``) without the trailing 1x1.
Memory layouts follow :mod:`opzoo._layout`, as for depthwise conv; the kernel module's
own rules check every shape (``opzoo._cpu.squeeze_excite_check``).
"""

from __future__ import annotations

from .. import _cpu
from .._dispatch import backend_for
from .._layout import Output, check_shape, dense_in_layout, dense_in_memory_order, to_layout

__all__ = ["squeeze_excite", "squeeze_excite_backward"]

_OPTIONAL = ("b_reduce", "b_expand")


def check_shapes(x, w_reduce, w_expand, b_reduce, b_expand, layout) -> None:
    """The kernel module's rules for these arrays' shapes (ValueError naming the first that does not fit)."""
    _cpu.squeeze_excite_check(tuple(x.shape), tuple(w_reduce.shape), None if b_reduce is None else tuple(b_reduce.shape),
                              tuple(w_expand.shape), None if b_expand is None else tuple(b_expand.shape), layout)


def squeeze_excite(x, w_reduce, w_expand, b_reduce=None, b_expand=None, *, activation="silu", layout="NCHW",
                   out=None):
    """Squeeze-and-excitation: ``x * sigmoid(w_expand @ activation(w_reduce @ mean_hw(x) +
    b_reduce) + b_expand)``, per image and channel.

    Parameters
    ----------
    x : array, shape (N, C, H, W), or (N, H, W, C) with ``layout="NHWC"``
        float32 or float64 on the CPU; NumPy, PyTorch or any array with
        ``__array_interface__``/``__dlpack__``. On a CUDA device: float32, float16 or
        bfloat16 (computed in float32).
    w_reduce : array, shape (R, C)
        The squeeze layer (timm's ``se.conv_reduce.weight`` without its 1x1).
    w_expand : array, shape (C, R)
        The excitation layer (``se.conv_expand.weight``).
    b_reduce : array, shape (R,), optional
    b_expand : array, shape (C,), optional
    activation : {None, "relu", "relu6", "silu", "hardswish", "sigmoid"}
        Between the two layers (EfficientNet: "silu"; SENet, MobileNetV3: "relu").
    layout : {"NCHW", "NHWC"}
        Axis order of ``x``, ``out`` and the result.
    out : array, optional
        Where to write the result; may be ``x`` itself (in place).

    Returns
    -------
    y : array, the shape of x
        The type of ``x``, in the memory order of ``x``, or ``out``. An image without
        pixels has NaN means (as ``x.mean((2, 3))`` in torch and NumPy), and no output.

    Raises
    ------
    TypeError
        Unsupported or mixed dtypes, or arrays of different types.
    ValueError
        Wrong ranks or shapes (each named with what was expected), an unknown layout or
        activation, an ``out`` that overlaps x other than being it.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 16, 7, 7), dtype=np.float32)
    >>> w_reduce = rng.standard_normal((4, 16), dtype=np.float32)
    >>> w_expand = rng.standard_normal((16, 4), dtype=np.float32)
    >>> opzoo.squeeze_excite(x, w_reduce, w_expand).shape
    (2, 16, 7, 7)
    """
    be, (x_, wr_, we_, br_, bb_, out_) = backend_for(
        (*_OPTIONAL, "out"), x=x, w_reduce=w_reduce, w_expand=w_expand, b_reduce=b_reduce, b_expand=b_expand,
        out=out)
    check_shapes(x_, wr_, we_, br_, bb_, layout)
    xk, memory = dense_in_memory_order(be, x_, layout, "x")
    params = {"w_reduce": wr_, "w_expand": we_, "b_reduce": br_, "b_expand": bb_}
    # out may be x itself: the kernel has read all of x (the means) before it writes.
    inputs = params if x_ is out_ else {"x": x_, **params}
    y = Output(be, out, out_, tuple(x_.shape), layout, memory, like=xk, inputs=inputs)
    c = {name: be.contiguous(a, name) for name, a in params.items()}
    be.run("squeeze_excite_forward", (xk, c["w_reduce"], c["b_reduce"], c["w_expand"], c["b_expand"], y.array), memory,
           activation)
    return y.result()


def squeeze_excite_backward(grad_out, x, w_reduce, w_expand, b_reduce=None, b_expand=None, *, activation="silu",
                            layout="NCHW"):
    """Gradients of :func:`squeeze_excite` with respect to x and its four parameters.

    Takes the forward's arguments; the gate is recomputed from x.

    Parameters
    ----------
    grad_out : array, the shape of x
    x, w_reduce, w_expand, b_reduce, b_expand, activation, layout
        As given to :func:`squeeze_excite`.

    Returns
    -------
    grad_x : array, shape and memory order of x
        ``grad_out * g`` plus the means' gradient spread over each image's pixels.
    grad_w_reduce : array, shape (R, C)
    grad_w_expand : array, shape (C, R)
    grad_b_reduce : array, shape (R,)
    grad_b_expand : array, shape (C,)
        Returned whether or not the biases were given. Sums over pixels and images run in
        an order fixed by the shape alone: the same bits for any number of threads.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 16, 7, 7), dtype=np.float32)
    >>> w_reduce = rng.standard_normal((4, 16), dtype=np.float32)
    >>> w_expand = rng.standard_normal((16, 4), dtype=np.float32)
    >>> grads = opzoo.squeeze_excite_backward(np.ones_like(x), x, w_reduce, w_expand)
    >>> [g.shape for g in grads]
    [(2, 16, 7, 7), (4, 16), (16, 4), (4,), (16,)]
    """
    return backward(grad_out, x, w_reduce, w_expand, b_reduce, b_expand, activation, layout)


def backward(grad_out, x, w_reduce, w_expand, b_reduce, b_expand, activation, layout, input_grad=True,
             weight_grad=True):
    """:func:`squeeze_excite_backward`, computing only what is asked for: grad_x when
    `input_grad`, the four parameter gradients when `weight_grad`; None in place of the others."""
    be, (x_, g_, wr_, we_, br_, bb_) = backend_for(_OPTIONAL, x=x, grad_out=grad_out, w_reduce=w_reduce,
                                                  w_expand=w_expand, b_reduce=b_reduce, b_expand=b_expand)
    check_shapes(x_, wr_, we_, br_, bb_, layout)
    xk, memory = dense_in_memory_order(be, x_, layout, "x")
    check_shape(g_, "grad_out", tuple(x_.shape))
    gk = dense_in_layout(be, g_, layout, memory, "grad_out")
    wr, we = be.contiguous(wr_, "w_reduce"), be.contiguous(we_, "w_expand")
    R, C = tuple(wr.shape)
    grad_x = be.empty(tuple(xk.shape), like=xk) if input_grad else None
    grads = [be.empty(shape, like=wr) for shape in ((R, C), (C, R), (R,), (C,))] if weight_grad else [None] * 4
    be.run("squeeze_excite_backward", (gk, xk, wr, be.contiguous(br_, "b_reduce"), we, be.contiguous(bb_, "b_expand"),
                                       grad_x, grads[0], grads[2], grads[1], grads[3]), memory, activation)
    return (None if grad_x is None else be.wrap(to_layout(be, grad_x, memory, layout)),
            *(None if g is None else be.wrap(g) for g in grads))

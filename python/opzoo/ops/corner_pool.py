"""Corner pooling (CornerNet) and center pooling (CenterNet, Duan et al.), forward and
backward.

Each pool is one pass over memory: a running maximum along one axis of every (H, W)
plane, kept in registers across the contiguous axis; a corner's two pools (top + left,
or bottom + right) run fused; center pooling adds each column's maximum of one input
to each row's maximum of the other. Gradients go to the arg-max of each window, on ties
to the one torch.cummax reports (the nearest: mmcv's CornerPool and autograd through
flips and cummax agree); the original CornerNet CUDA backward picks the farthest one
instead. NaN counts as larger than every number, as in torch.cummax. Memory layouts
follow :mod:`opzoo._layout`; the kernel module checks every shape
(``opzoo._cpu.corner_pool_check``).
"""

from __future__ import annotations

from .. import _cpu
from .._device import type_name
from .._dispatch import backend_for
from .._layout import Output, dense_in_layout, dense_in_memory_order, to_layout

__all__ = ["center_pool", "center_pool_backward", "corner_pool", "corner_pool_backward", "corner_pool_pair",
           "corner_pool_pair_backward"]


def _name(value, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what}: expected a name, got {type_name(value)}")
    return value


def _check(arrays: dict, layout: str) -> None:
    _cpu.corner_pool_check([tuple(a.shape) for a in arrays.values()], list(arrays), layout)


def _forward(kernel: str, names: tuple[str, ...], arrays: tuple, params: tuple, layout: str, out, out_):
    """One output of the inputs' shape, in the first input's memory order."""
    be, inputs = arrays[0], dict(zip(names, arrays[1]))
    _check(inputs, layout)
    first, *others = inputs.items()
    xk, memory = dense_in_memory_order(be, first[1], layout, first[0])
    ks = [xk] + [dense_in_layout(be, a, layout, memory, name) for name, a in others]
    y = Output(be, out, out_, tuple(first[1].shape), layout, memory, like=xk, inputs=inputs)
    be.run(kernel, (*ks, y.array), *params, memory)
    return y.result()


def _backward(kernel: str, names: tuple[str, ...], be, arrays: tuple, params: tuple, layout: str):
    """The gradients of the inputs after grad_out, in the first input's memory order."""
    inputs = dict(zip(names, arrays))
    _check(inputs, layout)
    (g_name, g), (x_name, x), *others = inputs.items()
    xk, memory = dense_in_memory_order(be, x, layout, x_name)
    ks = [dense_in_layout(be, g, layout, memory, g_name), xk]
    ks += [dense_in_layout(be, a, layout, memory, name) for name, a in others]
    grads = [be.empty(tuple(xk.shape), like=xk) for _ in range(1 + len(others))]
    be.run(kernel, (*ks, *grads), *params, memory)
    return [be.wrap(to_layout(be, gr, memory, layout)) for gr in grads]


def corner_pool(x, direction, *, layout="NCHW", out=None):
    """CornerNet's directional max pooling: the running maximum along one axis.

    Parameters
    ----------
    x : array, shape (N, C, H, W), or (N, H, W, C) with ``layout="NHWC"``
        float32 or float64; NumPy, PyTorch or any array with ``__array_interface__``/``__dlpack__``.
    direction : {"top", "bottom", "left", "right"}
        top: ``out[i, j] = max(x[i:, j])``; bottom: ``max(x[:i+1, j])``; left:
        ``max(x[i, j:])``; right: ``max(x[i, :j+1])`` (mmcv's CornerPool modes).
    layout : {"NCHW", "NHWC"}
    out : array, optional
        Where to write the result; must not overlap x.

    Returns
    -------
    y : array, the shape, type and memory order of x (or ``out``)

    Raises
    ------
    TypeError
        Unsupported dtypes, arrays of different types, a direction that is not a str.
    ValueError
        Not 4-D, an unknown direction or layout, an ``out`` of another shape or overlapping x.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> x = np.array([[[[1., 3., 2.], [0., 1., 5.]]]], dtype=np.float32)
    >>> opzoo.corner_pool(x, "left")[0, 0]
    array([[3., 3., 2.],
           [5., 5., 5.]], dtype=float32)
    """
    direction = _name(direction, "direction")
    be, (x_, out_) = backend_for(("out",), x=x, out=out)
    return _forward("corner_pool_forward", ("x",), (be, (x_,)), (direction,), layout, out, out_)


def corner_pool_pair(a, b, corner="top_left", *, layout="NCHW", out=None):
    """A corner's two pools summed in one pass: ``corner_pool(a, "top") + corner_pool(b,
    "left")`` for ``"top_left"``, ``corner_pool(a, "bottom") + corner_pool(b, "right")``
    for ``"bottom_right"`` (CornerNet's corner pooling module).

    Parameters
    ----------
    a, b : arrays of one shape (N, C, H, W) (or (N, H, W, C) with ``layout="NHWC"``), dtype and type
    corner : {"top_left", "bottom_right"}
    layout : {"NCHW", "NHWC"}
    out : array, optional
        Must not overlap a or b.

    Returns
    -------
    y : array, the shape of a, in a's memory order

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((2, 1, 8, 4, 4), dtype=np.float32)
    >>> y = opzoo.corner_pool_pair(a, b)
    >>> bool(np.allclose(y, opzoo.corner_pool(a, "top") + opzoo.corner_pool(b, "left")))
    True
    """
    corner = _name(corner, "corner")
    be, (a_, b_, out_) = backend_for(("out",), a=a, b=b, out=out)
    return _forward("corner_pool_pair_forward", ("a", "b"), (be, (a_, b_)), (corner,), layout, out, out_)


def center_pool(a, b, *, layout="NCHW", out=None):
    """CenterNet's center (cross) pooling: ``out[..., i, j] = max(a[..., :, j]) +
    max(b[..., i, :])``, i.e. BottomPool(TopPool(a)) + RightPool(LeftPool(b)).

    Parameters
    ----------
    a, b : arrays of one shape (N, C, H, W) (or (N, H, W, C) with ``layout="NHWC"``), dtype and type
    layout : {"NCHW", "NHWC"}
    out : array, optional
        Must not overlap a or b.

    Returns
    -------
    y : array, the shape of a, in a's memory order

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> a = np.array([[[[1., 4.], [2., 0.]]]], dtype=np.float32)
    >>> opzoo.center_pool(a, a)[0, 0]
    array([[6., 8.],
           [4., 6.]], dtype=float32)
    """
    be, (a_, b_, out_) = backend_for(("out",), a=a, b=b, out=out)
    return _forward("center_pool_forward", ("a", "b"), (be, (a_, b_)), (), layout, out, out_)


def corner_pool_backward(grad_out, x, direction, *, layout="NCHW"):
    """grad_x of :func:`corner_pool`: each ``grad_out`` element added at the arg-max of its
    window, on ties the nearest one (torch.cummax's index; CornerNet's CUDA backward takes
    the farthest).

    Parameters
    ----------
    grad_out : array, the shape of x
    x, direction, layout
        As given to :func:`corner_pool`.

    Returns
    -------
    grad_x : array, the shape and memory order of x

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> x = np.array([[[[1., 3., 3.]]]], dtype=np.float32)
    >>> opzoo.corner_pool_backward(np.ones_like(x), x, "right")[0, 0]
    array([[1., 1., 1.]], dtype=float32)
    """
    direction = _name(direction, "direction")
    be, arrays = backend_for(grad_out=grad_out, x=x)
    return _backward("corner_pool_backward", ("grad_out", "x"), be, arrays, (direction,), layout)[0]


def corner_pool_pair_backward(grad_out, a, b, corner="top_left", *, layout="NCHW"):
    """(grad_a, grad_b) of :func:`corner_pool_pair`, each as :func:`corner_pool_backward`.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal((2, 1, 2, 5, 5), dtype=np.float32)
    >>> grad_a, grad_b = opzoo.corner_pool_pair_backward(np.ones_like(a), a, b)
    >>> float(grad_a.sum()), float(grad_b.sum())
    (50.0, 50.0)
    """
    corner = _name(corner, "corner")
    be, arrays = backend_for(grad_out=grad_out, a=a, b=b)
    return tuple(_backward("corner_pool_pair_backward", ("grad_out", "a", "b"), be, arrays, (corner,), layout))


def center_pool_backward(grad_out, a, b, *, layout="NCHW"):
    """(grad_a, grad_b) of :func:`center_pool`, as autograd routes them through
    BottomPool(TopPool(a)) + RightPool(LeftPool(b)) under torch.cummax's tie rule: the
    gradient of output row i goes to the first arg-max of its column at or below row i,
    or to the column's last arg-max when none lies at or below it (rows likewise, left to
    right). Without ties, all of a column's gradient goes to its maximum.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> a = np.array([[[[1., 4.], [2., 0.]]]], dtype=np.float32)
    >>> grad_a, grad_b = opzoo.center_pool_backward(np.ones_like(a), a, a)
    >>> grad_a[0, 0]
    array([[0., 2.],
           [2., 0.]], dtype=float32)
    """
    be, arrays = backend_for(grad_out=grad_out, a=a, b=b)
    return tuple(_backward("center_pool_backward", ("grad_out", "a", "b"), be, arrays, (), layout))

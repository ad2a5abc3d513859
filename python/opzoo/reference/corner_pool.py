"""Corner and center pooling in NumPy (float64): running maxima along one axis of each
plane (CornerNet), the maxima of whole columns and rows (CenterNet's center pooling),
and their gradients under torch.cummax's rules.

NaN counts as larger than every number and equal to every NaN, as in torch.cummax: a
running maximum that has met a NaN is NaN, and its arg-max the latest NaN met."""

import numpy as np

from .layout import from_nchw, to_nchw


DIRECTIONS = ("top", "bottom", "left", "right")
CORNERS = {"top_left": ("top", "left"), "bottom_right": ("bottom", "right")}


def _axis(direction):
    """The axis a direction scans (of NCHW), and whether its maximum comes from the far end."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return (2 if direction in ("top", "bottom") else 3), direction in ("top", "left")


def _pool(x, direction):
    axis, from_far_end = _axis(direction)
    if from_far_end:
        return np.flip(np.maximum.accumulate(np.flip(x, axis), axis), axis)
    return np.maximum.accumulate(x, axis)


def _pool_backward(g, x, direction):
    """Each g element added at its window's arg-max: the latest position in scan order
    whose value is >= the running maximum (or is NaN), as torch.cummax reports it."""
    axis, from_far_end = _axis(direction)
    xs, gs = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    if from_far_end:
        xs, gs = xs[..., ::-1], gs[..., ::-1]
    shape = xs.shape
    if xs.size == 0:
        return np.zeros(x.shape)
    xs, gs = xs.reshape(-1, shape[-1]), gs.reshape(-1, shape[-1])
    rows, L = xs.shape
    best = np.full(rows, -np.inf)
    at = np.zeros(rows, dtype=np.int64)
    arg = np.empty((rows, L), dtype=np.int64)
    for p in range(L):
        v = xs[:, p]
        with np.errstate(invalid="ignore"):
            take = np.isnan(v) | (~np.isnan(best) & (v >= best))
        best = np.where(take, v, best)
        at = np.where(take, p, at)
        arg[:, p] = at
    gx = np.zeros((rows, L))
    np.add.at(gx, (np.repeat(np.arange(rows), L), arg.ravel()), gs.ravel())
    gx = gx.reshape(shape)
    if from_far_end:
        gx = gx[..., ::-1]
    return np.moveaxis(gx, -1, axis)


def corner_pool(x, direction, layout="NCHW"):
    """top: out[i, j] = max_{k >= i} x[k, j]; bottom: max_{k <= i}; left: max_{k >= j}
    x[i, k]; right: max_{k <= j}."""
    return from_nchw(_pool(to_nchw(x, layout), direction), layout)


def corner_pool_backward(grad_out, x, direction, layout="NCHW"):
    """grad_x of :func:`corner_pool`."""
    return from_nchw(_pool_backward(to_nchw(grad_out, layout), to_nchw(x, layout), direction), layout)


def corner_pool_pair(a, b, corner="top_left", layout="NCHW"):
    """TopPool(a) + LeftPool(b) (top_left) or BottomPool(a) + RightPool(b) (bottom_right)."""
    vertical, horizontal = CORNERS[corner]
    return from_nchw(_pool(to_nchw(a, layout), vertical) + _pool(to_nchw(b, layout), horizontal), layout)


def corner_pool_pair_backward(grad_out, a, b, corner="top_left", layout="NCHW"):
    """(grad_a, grad_b) of :func:`corner_pool_pair`."""
    vertical, horizontal = CORNERS[corner]
    g = to_nchw(grad_out, layout)
    return (from_nchw(_pool_backward(g, to_nchw(a, layout), vertical), layout),
            from_nchw(_pool_backward(g, to_nchw(b, layout), horizontal), layout))


def center_pool(a, b, layout="NCHW"):
    """BottomPool(TopPool(a)) + RightPool(LeftPool(b)): each column's maximum of a plus
    each row's maximum of b."""
    a, b = to_nchw(a, layout), to_nchw(b, layout)
    return from_nchw(_pool(_pool(a, "top"), "bottom") + _pool(_pool(b, "left"), "right"), layout)


def center_pool_backward(grad_out, a, b, layout="NCHW"):
    """(grad_a, grad_b) of :func:`center_pool`, through the composition it is defined by."""
    g, a, b = to_nchw(grad_out, layout), to_nchw(a, layout), to_nchw(b, layout)
    grad_a = _pool_backward(_pool_backward(g, _pool(a, "top"), "bottom"), a, "top")
    grad_b = _pool_backward(_pool_backward(g, _pool(b, "left"), "right"), b, "left")
    return from_nchw(grad_a, layout), from_nchw(grad_b, layout)

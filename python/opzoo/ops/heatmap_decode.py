"""CenterNet's detection decoding (xingyizhou/CenterNet ``ctdet_decode``) in one pass
over the heatmap: the 3x3 peak keep, the top K of each image over all classes and
pixels, and the boxes from the size and offset maps."""

from __future__ import annotations

from .. import _cpu
from .._args import int_tuple
from .._dispatch import backend_for
from .._layout import dense_in_layout, dense_in_memory_order

__all__ = ["heatmap_decode"]


def heatmap_decode(heat, wh, reg=None, K=100, *, layout="NCHW"):
    """Detections from CenterNet's heads, as its ``ctdet_decode``.

    A score is kept where it equals the maximum of its 3x3 neighbourhood (so plateaus
    survive), others become ``heat * 0``; the K best of each image over C*H*W scores are
    taken in score-descending, then index-ascending order (index ``c*H*W + y*W + x``;
    NaN ranks first, as in torch.topk); each becomes a box around its pixel plus the
    offset in ``reg``.

    Parameters
    ----------
    heat : array, shape (N, C, H, W), or (N, H, W, C) with ``layout="NHWC"``
        Class scores (after the sigmoid): float32 or float64 on the CPU; float32,
        float16 or bfloat16 on a CUDA device (boxes computed in float32, rounded once).
    wh : array, shape (N, 2, H, W) (or (N, H, W, 2))
        Box width and height at each pixel, in heatmap pixels.
    reg : array, shape of wh, optional
        Sub-pixel offset (x, y) of each centre; without it, centres sit at the pixel
        centre (+0.5), as CenterNet's decode does with ``reg=None``.
    K : int
        Detections per image, 0 <= K <= C*H*W.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    boxes : array, shape (N, K, 6), heat's dtype and type
        ``x1, y1, x2, y2, score, class`` in output-stride coordinates (multiply by the
        network's stride for image pixels).

    Raises
    ------
    TypeError
        Unsupported or mixed dtypes, a K that is not an int.
    ValueError
        Wrong ranks or shapes, K out of range, an unknown layout.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> heat = np.zeros((1, 2, 4, 4), np.float32); heat[0, 1, 2, 1] = 0.9
    >>> wh = np.full((1, 2, 4, 4), 2, np.float32); reg = np.zeros_like(wh)
    >>> opzoo.heatmap_decode(heat, wh, reg, K=1)
    array([[[0. , 1. , 2. , 3. , 0.9, 1. ]]], dtype=float32)
    """
    (K,) = int_tuple(K, "K", 1, "an int")
    be, (h_, wh_, reg_) = backend_for(("reg",), heat=heat, wh=wh, reg=reg)
    shape = _cpu.heatmap_decode_shape(tuple(h_.shape), tuple(wh_.shape), None if reg_ is None else tuple(reg_.shape),
                                      K, layout)
    hk, memory = dense_in_memory_order(be, h_, layout, "heat")
    whk = dense_in_layout(be, wh_, layout, memory, "wh")
    regk = None if reg_ is None else dense_in_layout(be, reg_, layout, memory, "reg")
    boxes = be.empty(tuple(shape), like=hk)
    be.run("heatmap_decode", (hk, whk, regk, boxes), K, memory)
    return be.wrap(boxes)

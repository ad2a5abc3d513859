"""CornerNet's and CenterNet's pooling modules and CenterNet's decoder on opzoo's ops.

- :class:`CornerPooling`: CornerNet's (Law & Deng, princeton-vl/CornerNet) top-left and
  bottom-right corner pooling modules, ``pool(dim, TopPool, LeftPool)`` and
  ``pool(dim, BottomPool, RightPool)``; with ``cascade=True``, CenterNet's (Duan et al.,
  Duan-kaiwen/CenterNet) cascade corner pooling, which first adds to each branch the
  other direction's pool of a look-around branch.
- :class:`CenterPooling`: CenterNet's center pooling module ``pool_cross(dim, TopPool,
  LeftPool, BottomPool, RightPool)``.
- :class:`CenterNetDecoder`: CenterNet's (Zhou et al., xingyizhou/CenterNet) heads to
  detections in the input image's pixels.

The modules load the state_dict of the authors' PyTorch modules under their key names
(relative to the module; ``prefix`` selects one inside a whole network's state_dict,
e.g. ``"module.tl_cnvs.0."``):

===================================  =========================================================
``p1_conv1``, ``p2_conv1``           ``convolution(3, dim, 128)``: ``.conv.weight`` (bias-free),
                                     ``.bn.*`` (eval-mode batch norm), ReLU
``p_conv1.weight``, ``p_bn1.*``      3x3 convolution 128 -> dim of the pooled sum, batch norm
``conv1.weight``, ``bn1.*``          1x1 convolution dim -> dim of the input, batch norm
``conv2``                            ``convolution(3, dim, dim)`` after ReLU(p_bn1 + bn1)
``look_conv1``, ``look_conv2``       cascade only: ``convolution(3, dim, 128)``
``P1_look_conv``, ``P2_look_conv``   cascade only: 3x3 convolution 128 -> 128, bias-free
===================================  =========================================================

Convolutions run as matrix products on NHWC patches (batch norm folded in, bias and
activation fused, as :mod:`opzoo.nn.efficientnet`); the pools are opzoo's NHWC kernels,
a corner's two fused in one pass. Inputs and outputs are NCHW float32 NumPy arrays.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..ops.activation import bias_activation
from ..ops.corner_pool import center_pool, corner_pool, corner_pool_pair
from ..ops.heatmap_decode import heatmap_decode
from ._blas import single_threaded_blas
from ._layers import Params, RandomWeights, StateDict, Workspace, conv_patches, folded_conv, pointwise

__all__ = ["CenterNetDecoder", "CenterPooling", "CornerPooling"]

_BN_EPS = 1e-5  # nn.BatchNorm2d's default, which the authors' modules keep
_MID = 128  # the branches' width in both papers' modules
_CORNERS = {"top_left": ("top", "left"), "bottom_right": ("bottom", "right")}


class _PoolingModule:
    """What both modules share: their convolutions (name -> folded weight, bias, kernel
    size) read from the state_dict, and the tail after the pooled sum, which each
    module's ``_branches(x)`` computes (NHWC in, NHWC out)."""

    _BLOCKS: tuple[str, ...] = ("p1_conv1", "p2_conv1")

    def __init__(self, dim: int, params: Params, kernels: dict[str, int]):
        self.dim = dim
        self._params, self._kernels = params, kernels
        self._workspace = Workspace()

    @classmethod
    def _read(cls, state_dict: Mapping[str, Any], prefix: str, what: str, blocks: tuple[str, ...],
              plain: tuple[str, ...] = ()):
        sd = StateDict({k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
                       if isinstance(state_dict, Mapping) else state_dict, what)
        dim = sd.shape("conv1.weight")[0]
        arrays, kernels = {}, {}

        def conv(name, key, bn, c_out, c_in, k):
            arrays[name + ".w"], arrays[name + ".b"] = folded_conv(sd, key, bn, c_out, c_in, k, _BN_EPS)
            kernels[name] = k

        for name in blocks:  # convolution(3, dim, 128): conv, batch norm, ReLU
            conv(name, name + ".conv.weight", name + ".bn", _MID, dim, 3)
        for name in plain:  # bias-free 3x3 convolutions 128 -> 128
            conv(name, name + ".weight", None, _MID, _MID, 3)
        conv("p_conv1", "p_conv1.weight", "p_bn1", dim, _MID, 3)
        conv("conv1", "conv1.weight", "bn1", dim, dim, 1)
        conv("conv2", "conv2.conv.weight", "conv2.bn", dim, dim, 3)
        sd.check_all_used()
        return dim, Params(arrays), kernels

    def _conv(self, x, name: str, activation: str | None, residual=None):
        """Convolution `name` of NHWC x (pads k // 2, stride 1), NHWC, in a workspace array."""
        p, ws, k = self._params.host, self._workspace, self._kernels[name]
        if k == 1:
            return pointwise(np, ws, x, p[name + ".w"], p[name + ".b"], activation, residual)
        pad = k // 2
        patches = conv_patches(np, ws, x.transpose(0, 3, 1, 2), k, 1, (pad, pad, pad, pad))
        y = pointwise(np, ws, patches, p[name + ".w"], p[name + ".b"], activation, residual)
        ws.give(patches)
        return y

    def _check_input(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x: expected a NumPy array, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.dim:
            raise ValueError(f"x: expected shape (N, {self.dim}, H, W), got {tuple(x.shape)}")
        if x.dtype != np.float32:
            raise TypeError(f"x: expected dtype float32, got {x.dtype}")
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))

    def __call__(self, x):
        """The module's output for x (N, dim, H, W) float32: (N, dim, H, W), NCHW axes over
        channels-last memory (a transposed view of the NHWC result)."""
        x = self._check_input(x)
        with single_threaded_blas():
            pooled = self._branches(x)
            shortcut = self._conv(x, "conv1", None)
            h = self._conv(pooled, "p_conv1", None, residual=shortcut)
            bias_activation(h, None, "relu", out=h)
            self._workspace.give(pooled, shortcut)
            y = self._conv(h, "conv2", "relu")
            self._workspace.give(h)
        return y.transpose(0, 3, 1, 2)


class CornerPooling(_PoolingModule):
    """CornerNet's corner pooling module, or CenterNet's cascade corner pooling.

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> from opzoo.nn.cornernet import random_pooling_state_dict
    >>> sd = random_pooling_state_dict(16)
    >>> module = opzoo.nn.CornerPooling.from_state_dict(sd, "top_left")
    >>> module(np.zeros((1, 16, 8, 8), np.float32)).shape
    (1, 16, 8, 8)
    """

    def __init__(self, dim, params, kernels, corner: str, cascade: bool):
        super().__init__(dim, params, kernels)
        self.corner, self.cascade = corner, cascade

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Any], corner: str = "top_left", *, cascade: bool = False,
                        prefix: str = "") -> "CornerPooling":
        """The module from the state_dict of the authors' ``pool`` (or, with `cascade`,
        CenterNet's cascade ``pool``); the width ``dim`` is read off ``conv1.weight``.

        Parameters
        ----------
        state_dict : mapping of str to tensors or arrays
        corner : {"top_left", "bottom_right"}
            ``tl_pool`` (TopPool, LeftPool) or ``br_pool`` (BottomPool, RightPool).
        cascade : bool
            CenterNet's cascade corner pooling (its extra ``look_conv*`` and ``P*_look_conv``).
        prefix : str
            Where the module's keys start in `state_dict`.

        Raises
        ------
        ValueError
            An unknown corner, an entry of the wrong shape or one the module has no place for.
        KeyError
            A missing entry.
        """
        if corner not in _CORNERS:
            raise ValueError(f"corner: expected one of {', '.join(_CORNERS)}, got {corner!r}")
        blocks = cls._BLOCKS + (("look_conv1", "look_conv2") if cascade else ())
        plain = ("P1_look_conv", "P2_look_conv") if cascade else ()
        what = ("CenterNet's cascade corner pooling" if cascade else "CornerNet's corner pooling") + f" ({corner})"
        return cls(*cls._read(state_dict, prefix, what, blocks, plain), corner, cascade)

    def _branches(self, x):
        ws = self._workspace
        vertical, horizontal = _CORNERS[self.corner]
        a = self._conv(x, "p1_conv1", "relu")
        b = self._conv(x, "p2_conv1", "relu")
        if self.cascade:  # each branch first takes the other direction's pool of its look-around branch
            for branch, look, direction in ((a, "look_conv1", horizontal), (b, "look_conv2", vertical)):
                around = self._conv(x, look, "relu")
                pooled_around = corner_pool(around, direction, layout="NHWC", out=ws.take(np, around.shape))
                np.add(branch, pooled_around, out=branch)
                ws.give(around, pooled_around)
            a2, b2 = self._conv(a, "P1_look_conv", None), self._conv(b, "P2_look_conv", None)
            ws.give(a, b)
            a, b = a2, b2
        pooled = corner_pool_pair(a, b, self.corner, layout="NHWC", out=ws.take(np, a.shape))
        ws.give(a, b)
        return pooled


class CenterPooling(_PoolingModule):
    """CenterNet's center pooling module: the column maximum of one branch plus the row
    maximum of the other (TopPool then BottomPool, LeftPool then RightPool).

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> from opzoo.nn.cornernet import random_pooling_state_dict
    >>> module = opzoo.nn.CenterPooling.from_state_dict(random_pooling_state_dict(16))
    >>> module(np.zeros((1, 16, 8, 8), np.float32)).shape
    (1, 16, 8, 8)
    """

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Any], *, prefix: str = "") -> "CenterPooling":
        """The module from the state_dict of CenterNet's ``pool_cross`` (keys as
        :class:`CornerPooling`'s without the cascade; errors likewise)."""
        return cls(*cls._read(state_dict, prefix, "CenterNet's center pooling", cls._BLOCKS))

    def _branches(self, x):
        ws = self._workspace
        a, b = self._conv(x, "p1_conv1", "relu"), self._conv(x, "p2_conv1", "relu")
        pooled = center_pool(a, b, layout="NHWC", out=ws.take(np, a.shape))
        ws.give(a, b)
        return pooled


class CenterNetDecoder:
    """CenterNet's heads to detections: the sigmoid of the heatmap logits, then
    :func:`opzoo.heatmap_decode` (the 3x3 peak keep, the K best over classes and pixels,
    boxes from the size and offset heads), in the input image's pixels: the heatmap's
    coordinates times the network's output stride (``down_ratio``, 4 in CenterNet).

    Parameters
    ----------
    K : int
        Detections per image (CenterNet's ``K``, 100).
    down_ratio : float
        Input pixels per heatmap pixel.

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> hm = np.full((1, 2, 8, 8), -9, np.float32); hm[0, 1, 3, 2] = 3
    >>> wh, reg = np.full((1, 2, 8, 8), 2, np.float32), np.zeros((1, 2, 8, 8), np.float32)
    >>> opzoo.nn.CenterNetDecoder(K=1)(hm, wh, reg).round(3)
    array([[[ 4.   ,  8.   , 12.   , 16.   ,  0.953,  1.   ]]], dtype=float32)
    """

    def __init__(self, K: int = 100, down_ratio: float = 4.0):
        if not isinstance(K, int) or isinstance(K, bool) or K < 0:
            raise ValueError(f"K: expected an int >= 0, got {K!r}")
        if not down_ratio > 0:
            raise ValueError(f"down_ratio: expected a positive number, got {down_ratio!r}")
        self.K, self.down_ratio = K, float(down_ratio)

    def __call__(self, hm, wh, reg=None, *, layout: str = "NCHW"):
        """Detections (N, K, 6): x1, y1, x2, y2 in input pixels, score, class.

        Parameters
        ----------
        hm : array, shape (N, C, H, W) (or NHWC with ``layout="NHWC"``)
            The heatmap head's logits (before the sigmoid), as CenterNet's ``output["hm"]``.
        wh, reg : arrays, shape (N, 2, H, W)
            The size and offset heads (reg optional: centres at pixel centres without it).
        """
        heat = bias_activation(hm, None, "sigmoid")
        boxes = heatmap_decode(heat, wh, reg, self.K, layout=layout)
        boxes[..., :4] *= boxes.dtype.type(self.down_ratio)
        return boxes


def random_pooling_state_dict(dim: int, *, cascade: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """A state_dict of the authors' pooling modules (``pool``, cascade ``pool`` or
    ``pool_cross``) of width `dim` with random values (batch-norm statistics included),
    for examples and tests that need no download."""
    w = RandomWeights(np.random.default_rng(seed))
    conv, bn = w.conv, w.batch_norm
    for name in ("p1_conv1", "p2_conv1") + (("look_conv1", "look_conv2") if cascade else ()):
        conv(name + ".conv.weight", _MID, dim, 3)
        bn(name + ".bn", _MID)
    if cascade:
        conv("P1_look_conv.weight", _MID, _MID, 3)
        conv("P2_look_conv.weight", _MID, _MID, 3)
    conv("p_conv1.weight", dim, _MID, 3)
    bn("p_bn1", dim)
    conv("conv1.weight", dim, dim, 1)
    bn("bn1", dim)
    conv("conv2.conv.weight", dim, dim, 3)
    bn("conv2.bn", dim)
    return w.state_dict

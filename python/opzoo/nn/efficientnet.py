"""EfficientNet-B0..B7 (Tan & Le, 2019) on timm's weights, built from opzoo's ops and the
BLAS library's matrix products.

The architecture is timm's ``efficientnet_b*`` and ``tf_efficientnet_b*`` (timm's
``_gen_efficientnet``; the TF ports pad as TensorFlow's SAME and use batch-norm eps 1e-3,
the others pad k // 2 and use 1e-5): a 3x3 stride-2 stem, seven stages of MBConv blocks
(depthwise-separable in the first, inverted residuals with expansion 6 after), squeeze-
and-excitation in every block, a 1x1 head and a linear classifier, with SiLU throughout.
Channels scale by the variant's width multiplier (rounded to multiples of 8 as timm's
``round_channels``: to the nearest, but never below 90% of the scaled count), block
counts by its depth multiplier (rounded up).

Inference runs in NHWC: every batch norm is folded into the convolution before it when
the weights are loaded; the stem, the pointwise convolutions and the head are matrix
products whose bias, SiLU and residual are one opzoo pass; the depthwise convolutions
and squeeze-excite are opzoo's kernels with the SiLU fused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .. import _cpu
from ..ops.depthwise import depthwise_conv2d
from ..ops.squeeze_excite import squeeze_excite
from ._blas import single_threaded_blas
from ._layers import Clock, Params, RandomWeights, StateDict, Workspace, array_module, as_float32, bias_activation, \
    conv_patches, folded_conv, pointwise

__all__ = ["EfficientNet", "VARIANTS"]

#: Variant name -> (width multiplier, depth multiplier), as timm's efficientnet_b* and
#: tf_efficientnet_b* (the paper's compound scaling).
VARIANTS = {
    **{f"efficientnet_b{i}": m for i, m in enumerate(
        [(1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8), (1.6, 2.2), (1.8, 2.6), (2.0, 3.1)])},
}
VARIANTS.update({f"tf_{name}": m for name, m in list(VARIANTS.items())})

# The stages of EfficientNet-B0: (repeats, kernel, stride of the first block, expansion,
# output channels); squeeze-excite ratio 0.25 of the block's input channels throughout.
_STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
           (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
_STEM, _HEAD, _SE_RATIO = 32, 1280, 0.25


def round_channels(channels: float, divisor: int = 8) -> int:
    """The nearest multiple of `divisor` (at least `divisor`), or the next one up where
    the nearest would lose more than 10% (timm's make_divisible)."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


@dataclass
class _Block:
    prefix: str
    kind: str  # "ds" (depthwise separable) or "ir" (inverted residual)
    c_in: int
    c_mid: int
    c_out: int
    c_se: int
    kernel: int
    stride: int

    @property
    def has_skip(self) -> bool:
        return self.stride == 1 and self.c_in == self.c_out


def _blocks(width: float, depth: float) -> list[_Block]:
    blocks, c_in = [], round_channels(_STEM * width)
    for stage, (repeats, k, stride, expansion, c) in enumerate(_STAGES):
        c_out = round_channels(c * width)
        for i in range(int(math.ceil(repeats * depth))):
            c_mid = c_in if expansion == 1 else round_channels(c_in * expansion)
            # timm: SE channels from the block's input, round(c_mid * ratio / expansion).
            blocks.append(_Block(f"blocks.{stage}.{i}", "ds" if expansion == 1 else "ir", c_in, c_mid, c_out,
                                 round(c_mid * (_SE_RATIO / expansion)), k, stride if i == 0 else 1))
            c_in = c_out
    return blocks


class EfficientNet:
    """EfficientNet inference on NumPy (CPU) or CuPy (GPU) arrays, from timm's weights.

    Build it with :meth:`from_state_dict`. ``model(x)`` returns the logits,
    ``model.features(x)`` the last feature map (after the head convolution and its
    SiLU), for any input of at least 32 x 32 pixels.

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> from opzoo.nn.efficientnet import random_state_dict
    >>> model = opzoo.nn.EfficientNet.from_state_dict(random_state_dict("efficientnet_b0"), "efficientnet_b0")
    >>> model(np.zeros((1, 3, 64, 64), np.float32)).shape
    (1, 1000)
    """

    def __init__(self, variant: str, blocks: list[_Block], params: Params, tf_padding: bool, num_classes: int):
        self.variant = variant
        self.num_classes = num_classes
        self._blocks = blocks
        self._params = params
        self._tf_padding = tf_padding
        self._workspaces: dict = {}

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Any], variant: str) -> "EfficientNet":
        """The model of timm's `variant` with the weights of `state_dict`.

        Parameters
        ----------
        state_dict : mapping of str to torch.Tensor or numpy.ndarray
            As ``timm.create_model(variant).state_dict()`` gives it (its keys and shapes;
            ``num_batches_tracked`` entries are ignored). The classifier may have any
            number of classes.
        variant : str
            One of :data:`VARIANTS`: ``"efficientnet_b0"`` .. ``"efficientnet_b7"`` and
            ``"tf_efficientnet_b0"`` .. ``"tf_efficientnet_b7"``.

        Raises
        ------
        ValueError
            An unknown variant, an entry whose shape is not the one `variant` has
            (naming the key and both shapes), or an entry it has no place for (naming
            the key): a state_dict of another variant.
        KeyError
            An entry the variant needs is missing (naming it).
        TypeError
            `state_dict` is not a mapping, or an entry is not a tensor or an array.
        """
        if variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
        width, depth = VARIANTS[variant]
        tf = variant.startswith("tf_")
        eps = 1e-3 if tf else 1e-5
        sd = StateDict(state_dict, variant)
        blocks = _blocks(width, depth)
        arrays: dict[str, np.ndarray] = {}

        def conv(key, bn, c_out, c_in, k):
            return folded_conv(sd, key, bn, c_out, c_in, k, eps)

        stem = round_channels(_STEM * width)
        arrays["stem.w"], arrays["stem.b"] = conv("conv_stem.weight", "bn1", stem, 3, 3)
        for b in blocks:
            p = b.prefix
            if b.kind == "ir":
                arrays[p + ".pw.w"], arrays[p + ".pw.b"] = conv(p + ".conv_pw.weight", p + ".bn1", b.c_mid, b.c_in, 1)
            dw_bn, out_bn = (p + ".bn1", p + ".bn2") if b.kind == "ds" else (p + ".bn2", p + ".bn3")
            arrays[p + ".dw.w"], arrays[p + ".dw.b"] = conv(p + ".conv_dw.weight", dw_bn, b.c_mid, None, b.kernel)
            arrays[p + ".se.wr"] = as_float32(sd.get(p + ".se.conv_reduce.weight", (b.c_se, b.c_mid, 1, 1))[:, :, 0, 0])
            arrays[p + ".se.br"] = as_float32(sd.get(p + ".se.conv_reduce.bias", (b.c_se,)))
            arrays[p + ".se.we"] = as_float32(sd.get(p + ".se.conv_expand.weight", (b.c_mid, b.c_se, 1, 1))[:, :, 0, 0])
            arrays[p + ".se.be"] = as_float32(sd.get(p + ".se.conv_expand.bias", (b.c_mid,)))
            key = p + (".conv_pw.weight" if b.kind == "ds" else ".conv_pwl.weight")
            arrays[p + ".out.w"], arrays[p + ".out.b"] = conv(key, out_bn, b.c_out, b.c_mid, 1)
        head = round_channels(_HEAD * width)
        arrays["head.w"], arrays["head.b"] = conv("conv_head.weight", "bn2", head, blocks[-1].c_out, 1)
        num_classes = sd.shape("classifier.weight")[0]
        arrays["fc.w"] = as_float32(sd.get("classifier.weight", (num_classes, head)).T)
        arrays["fc.b"] = as_float32(sd.get("classifier.bias", (num_classes,)))
        sd.check_all_used()
        return cls(variant, blocks, Params(arrays), tf, num_classes)

    def _pads(self, size, k, stride):
        padding = "same" if self._tf_padding else (k // 2, k // 2, k // 2, k // 2)
        return _cpu.conv_pads(size, (k, k), (stride, stride), padding, (1, 1))

    def _check_input(self, x):
        xp, device = array_module(x)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x: expected shape (N, 3, H, W), got {tuple(x.shape)}")
        if x.dtype != np.float32:
            raise TypeError(f"x: expected dtype float32, got {x.dtype}")
        if min(x.shape[2:]) < 32:
            raise ValueError(f"x: expected images of at least 32 x 32 pixels, got {x.shape[2]} x {x.shape[3]}")
        return xp, device

    def _workspace(self, xp, device) -> Workspace:
        key = (xp.__name__, device)
        if key not in self._workspaces:
            self._workspaces[key] = Workspace()
        return self._workspaces[key]

    def _forward_features(self, x, xp, ws: Workspace, p: dict, clock: Clock):
        """The head's output, NHWC, in a workspace array."""
        pads = self._pads(tuple(x.shape[2:]), 3, 2)
        patches = conv_patches(xp, ws, x, 3, 2, pads)
        clock.lap("rest")
        h = pointwise(xp, ws, patches, p["stem.w"], p["stem.b"], "silu")
        ws.give(patches)
        clock.lap("pointwise")
        for b in self._blocks:
            q = b.prefix
            t = h
            if b.kind == "ir":
                t = pointwise(xp, ws, h, p[q + ".pw.w"], p[q + ".pw.b"], "silu")
                clock.lap("pointwise")
            w, pads = p[q + ".dw.w"], self._pads(tuple(t.shape[1:3]), b.kernel, b.stride)
            params = ((b.stride, b.stride), pads, (1, 1))
            d = ws.take(xp, _cpu.depthwise_output_shape(tuple(t.shape), tuple(w.shape), *params, "NHWC"))
            depthwise_conv2d(t, w, p[q + ".dw.b"], *params, layout="NHWC", activation="silu", out=d)
            if t is not h:
                ws.give(t)
            clock.lap("depthwise")
            squeeze_excite(d, p[q + ".se.wr"], p[q + ".se.we"], p[q + ".se.br"], p[q + ".se.be"], activation="silu",
                           layout="NHWC", out=d)
            clock.lap("squeeze_excite")
            out = pointwise(xp, ws, d, p[q + ".out.w"], p[q + ".out.b"], None, residual=h if b.has_skip else None)
            ws.give(d, h)
            h = out
            clock.lap("pointwise")
        head = pointwise(xp, ws, h, p["head.w"], p["head.b"], "silu")
        ws.give(h)
        clock.lap("pointwise")
        return head

    def _run(self, x, timings, logits: bool):
        xp, device = self._check_input(x)
        ws, p, clock = self._workspace(xp, device), self._params.on(xp, device), Clock(timings, xp)
        with single_threaded_blas():
            h = self._forward_features(x, xp, ws, p, clock)
            if not logits:
                return h.transpose(0, 3, 1, 2)  # the caller's now: not given back
            pooled = h.mean(axis=(1, 2), dtype=xp.float32)
            ws.give(h)
            out = bias_activation(xp.matmul(pooled, p["fc.w"]), p["fc.b"])
            clock.lap("rest")
            return out

    def features(self, x, timings: dict | None = None):
        """The last feature map, after the head convolution and its SiLU.

        Parameters
        ----------
        x : numpy.ndarray or cupy.ndarray, shape (N, 3, H, W), float32
            Normalised as the weights expect (timm: ImageNet mean and std); H, W >= 32.
        timings : dict, optional
            Seconds spent per stage are added to it: "depthwise", "pointwise" (the
            matrix products with their bias, activation and residual pass, the stem's
            included), "squeeze_excite" and "rest" (the stem's patches, and for the
            logits the pooling and the classifier).

        Returns
        -------
        array, shape (N, C_head, ceil(H / 32), ceil(W / 32)), float32
            NCHW axes over channels-last memory (a transposed view of the NHWC result).
        """
        return self._run(x, timings, logits=False)

    def __call__(self, x, timings: dict | None = None):
        """The logits, (N, num_classes) float32, of images x (N, 3, H, W) float32 (see
        :meth:`features` for `x` and `timings`)."""
        return self._run(x, timings, logits=True)


def random_state_dict(variant: str, num_classes: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """A state_dict of `variant` with timm's keys and shapes and random values (batch-norm
    statistics included), for examples and tests that need no download."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    width, depth = VARIANTS[variant]
    w = RandomWeights(np.random.default_rng(seed))
    rng, sd, conv, bn = w.rng, w.state_dict, w.conv, w.batch_norm
    blocks = _blocks(width, depth)
    conv("conv_stem.weight", round_channels(_STEM * width), 3, 3)
    bn("bn1", round_channels(_STEM * width))
    for b in blocks:
        p = b.prefix
        if b.kind == "ir":
            conv(p + ".conv_pw.weight", b.c_mid, b.c_in, 1)
            bn(p + ".bn1", b.c_mid)
        conv(p + ".conv_dw.weight", b.c_mid, 1, b.kernel)
        bn(p + (".bn1" if b.kind == "ds" else ".bn2"), b.c_mid)
        conv(p + ".se.conv_reduce.weight", b.c_se, b.c_mid, 1)
        sd[p + ".se.conv_reduce.bias"] = rng.normal(0, 0.1, b.c_se).astype(np.float32)
        conv(p + ".se.conv_expand.weight", b.c_mid, b.c_se, 1)
        sd[p + ".se.conv_expand.bias"] = rng.normal(0, 0.1, b.c_mid).astype(np.float32)
        conv(p + (".conv_pw.weight" if b.kind == "ds" else ".conv_pwl.weight"), b.c_out, b.c_mid, 1)
        bn(p + (".bn2" if b.kind == "ds" else ".bn3"), b.c_out)
    head = round_channels(_HEAD * width)
    conv("conv_head.weight", head, blocks[-1].c_out, 1)
    bn("bn2", head)
    sd["classifier.weight"] = (rng.standard_normal((num_classes, head)) / math.sqrt(head)).astype(np.float32)
    sd["classifier.bias"] = np.zeros(num_classes, np.float32)
    return sd

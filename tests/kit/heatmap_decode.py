"""Heatmap decoding's test-kit entry: CenterNet-like heatmaps (a noisy floor, planted
peaks, plateaus) in either layout, the NumPy reference, CenterNet's formulation in torch
(max_pool2d, keep where equal, a stable sort standing in for topk so that ties come out
in index order) as the peer, and what a user can get wrong."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo import reference

from . import BadInput, KitEntry, changed, huge_ints, param
from .torch_arrays import as_tensor, torch_op_table, torch_or_none, torch_or_skip


def make_maps(rng, N, C, H, W, layout="NCHW", plateaus=True, dtype=np.float32):
    """heat in [0, 1) with flat patches (ties), wh in [0, 20), reg in [0, 1), in `layout`."""
    heat = rng.random((N, C, H, W))
    if plateaus:
        heat = np.maximum(heat, 0.3)
    wh = rng.random((N, 2, H, W)) * 20
    reg = rng.random((N, 2, H, W))
    arrays = {"heat": heat, "wh": wh, "reg": reg}
    if layout == "NHWC":
        arrays = {k: a.transpose(0, 2, 3, 1) for k, a in arrays.items()}
    return {k: np.ascontiguousarray(a, dtype=dtype) for k, a in arrays.items()}


def _random_call(rng):
    layout = str(rng.choice(["NCHW", "NHWC"]))
    N, C, H, W = (int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 16)), int(rng.integers(1, 16)))
    arrays = make_maps(rng, N, C, H, W, layout)
    if rng.random() < 0.3:
        arrays["reg"] = None
    return arrays, {"K": int(rng.integers(0, C * H * W + 1)), "layout": layout}


def torch_decode(torch, heat, wh, reg, K, layout="NCHW"):
    """CenterNet's _nms and top-K on NCHW tensors, the gathers by flat index."""
    import torch.nn.functional as F

    if layout == "NHWC":
        heat, wh, reg = (None if t is None else t.permute(0, 3, 1, 2) for t in (heat, wh, reg))
    N, C, H, W = heat.shape
    hmax = F.max_pool2d(heat, 3, stride=1, padding=1)
    score = (heat * (hmax == heat).to(heat.dtype)).reshape(N, -1)
    scores, index = torch.sort(score, dim=1, descending=True, stable=True)
    scores, index = scores[:, :K], index[:, :K]
    pix = index % (H * W)
    ys, xs = (pix // W).to(heat.dtype), (pix % W).to(heat.dtype)
    if reg is None:
        xs, ys = xs + 0.5, ys + 0.5
    else:
        r = reg.reshape(N, 2, -1)
        xs, ys = xs + torch.gather(r[:, 0], 1, pix), ys + torch.gather(r[:, 1], 1, pix)
    s = wh.reshape(N, 2, -1)
    w, h = torch.gather(s[:, 0], 1, pix), torch.gather(s[:, 1], 1, pix)
    return torch.stack([xs - w / 2, ys - h / 2, xs + w / 2, ys + h / 2, scores, (index // (H * W)).to(heat.dtype)], 2)


def _peer():
    torch = torch_or_none()
    if torch is None:
        return None

    def peer(heat, wh, reg=None, K=100, layout="NCHW"):
        t = [None if a is None else torch.tensor(a) for a in (heat, wh, reg)]
        return torch_decode(torch, *t, K, layout).numpy()

    return peer


def _valid(rng):
    return make_maps(rng, 2, 3, 5, 6), {"K": 10}


_BAD = [
    BadInput("heat 3-D", changed("heat", lambda a: a["heat"][0]), ValueError, r"heat: expected 4 dimensions \(N, C, H, W\)"),
    BadInput("wh 3 channels", changed("wh", lambda a: np.concatenate([a["wh"], a["wh"][:, :1]], 1)), ValueError,
             r"wh: expected shape \(2, 2, 5, 6\) \(N, 2, H, W\)"),
    BadInput("reg of another size", changed("reg", lambda a: a["reg"][:, :, 1:]), ValueError,
             r"reg: expected shape \(2, 2, 5, 6\)"),
    BadInput("reg None", changed("reg", lambda a: None), None),
    BadInput("K larger than C*H*W", param(K=91), ValueError, r"K: expected K <= C\*H\*W = 90 \(the scores of one image\), got 91"),
    BadInput("K negative", param(K=-1), ValueError, r"K: expected K >= 0, got -1"),
    BadInput("K a float", param(K=2.0), TypeError, r"K: expected an int, got float"),
    BadInput("K 2**70", param(K=2**70), ValueError, r"K: \d+ does not fit in 64 bits"),
    BadInput("K all scores", param(K=90), None),
    BadInput("heat float64", changed("heat", lambda a: a["heat"].astype(np.float64)), TypeError,
             r"wh: expected dtype float64 \(the dtype of heat\), got float32"),
    BadInput("wh int64", changed("wh", lambda a: a["wh"].astype(np.int64)), TypeError, r"wh: expected dtype float32"),
    BadInput("layout 'NWHC'", param(layout="NWHC"), ValueError, r"layout must be 'NCHW' or 'NHWC'"),
    BadInput("heat a list", changed("heat", lambda a: a["heat"].tolist()), TypeError, r"heat: expected an array"),
]


def _zero_size(rng):
    """No images; no classes, rows or columns with K = 0."""
    calls = []
    for (N, C, H, W) in [(0, 3, 4, 4), (2, 0, 4, 4), (2, 3, 0, 4), (2, 3, 4, 0)]:
        for layout in ("NCHW", "NHWC"):
            calls.append((make_maps(rng, N, C, H, W, layout), {"K": 0 if N else 5, "layout": layout}))
    return calls


def _int_calls():
    """Small maps, K from kit.huge_ints."""
    from hypothesis import strategies as st

    @st.composite
    def calls(draw):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        layout = draw(st.sampled_from(["NCHW", "NHWC"]))
        arrays = make_maps(rng, draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 6)),
                           draw(st.integers(1, 6)), layout)
        return arrays, {"K": draw(huge_ints()), "layout": layout}

    return calls()


def _int_outcome(call):
    arrays, params = call
    shape = arrays["heat"].shape
    return "ok" if 0 <= params["K"] <= int(np.prod(shape[1:])) else "error"


def _torch_op(heat, wh, reg=None, K=100, layout="NCHW"):
    """opzoo.torch.heatmap_decode on the call's arrays, NHWC ones as channels_last tensors
    (huge K: the functional entry's, through the same binding)."""
    torch = torch_or_skip()
    import opzoo.torch

    def nchw(a):
        t = as_tensor(torch, a)
        return t.permute(0, 3, 1, 2) if layout == "NHWC" and isinstance(t, torch.Tensor) and t.dim() == 4 else t

    return opzoo.torch.heatmap_decode(nchw(heat), nchw(wh), None if reg is None else nchw(reg), K).numpy()


ENTRIES = [
    KitEntry("heatmap_decode", opzoo.heatmap_decode, _random_call, reference.heatmap_decode, _peer, "torch", _valid,
             _BAD, dtypes=(np.float32, np.float64), optional=("reg",), zero_size_calls=_zero_size,
             special_arrays=("heat", "wh", "reg"), int_calls=_int_calls, int_outcome=_int_outcome),
    KitEntry("torch.heatmap_decode", _torch_op, _random_call, reference.heatmap_decode, _peer, "torch", _valid,
             torch_op_table(_BAD, refused=(("wh", "a list"),)), dtypes=(np.float32, np.float64), optional=("reg",),
             zero_size_calls=_zero_size, special_arrays=("heat", "wh", "reg"), array_library="torch"),
]

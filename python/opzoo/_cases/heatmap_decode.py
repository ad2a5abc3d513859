"""Heatmap decoding's benchmark case and demo: PERF.md case D (CenterNet's heads on a
512x512 image: heat 1x80x128x128 with 60 planted objects, K=100), against CenterNet's
own ``ctdet_decode`` in torch (3x3 max_pool2d keep, a top-K per class then over the
classes, gathers), a single torch.topk over C*H*W (given NCHW, and given channels_last,
where torch's pool is fastest: PERF.md's best peer) and NumPy's argpartition, the
formulations of ../shared/peers/baseline.py."""

from __future__ import annotations

import importlib.util

import numpy as np

from .. import reference
from ..ops.heatmap_decode import heatmap_decode
from . import BenchCase, Row, as_numpy, register_case, register_demo

CASE_D = dict(C=80, H=128, W=128, K=100, objects=60)
QUICK_D = dict(C=8, H=32, W=32, K=20, objects=6)
OPZOO, CTDET, TOPK, NUMPY = "opzoo", "torch ctdet_decode", "torch single topk", "NumPy argpartition"


def case_d_inputs(C, H, W, K, objects, seed=0):
    """heat = sigmoid(N(-2, 1) logits plus Gaussian bumps of 3-6 at random centres and
    classes), wh uniform in [0, 40), reg uniform in [0, 1): PERF.md's case D."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((1, C, H, W), dtype=np.float32) - 2.0
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(objects):
        c, cy, cx = rng.integers(C), rng.uniform(0, H), rng.uniform(0, W)
        amp, sigma = rng.uniform(3, 6), rng.uniform(1.0, 3.0)
        logits[0, c] += (amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))).astype(np.float32)
    heat = (1 / (1 + np.exp(-logits))).astype(np.float32)
    wh = rng.random((1, 2, H, W), dtype=np.float32) * 40
    reg = rng.random((1, 2, H, W), dtype=np.float32)
    return heat, wh, reg


def _numpy_decode(heat, wh, reg, K):
    """baseline.py's NumPy formulation: a padded 3x3 max, argpartition, a stable sort."""
    _, C, H, W = heat.shape
    padded = np.pad(heat[0], ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    hmax = heat[0].copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(hmax, padded[:, dy:dy + H, dx:dx + W], out=hmax)
    flat = (heat[0] * (hmax == heat[0])).ravel()
    idx = np.argpartition(flat, -K)[-K:]
    idx = idx[np.argsort(-flat[idx], kind="stable")]
    cls, pix = idx // (H * W), idx % (H * W)
    ys, xs = (pix // W).astype(np.float32), (pix % W).astype(np.float32)
    xs, ys = xs + reg[0, 0].ravel()[pix], ys + reg[0, 1].ravel()[pix]
    w, h = wh[0, 0].ravel()[pix], wh[0, 1].ravel()[pix]
    return np.stack([xs - w / 2, ys - h / 2, xs + w / 2, ys + h / 2, flat[idx], cls.astype(np.float32)], axis=1)[None]


def _torch_decoders(torch):
    import torch.nn.functional as F

    def gather(feat, ind):  # (N, HW, D) rows at (N, K)
        return feat.gather(1, ind.unsqueeze(2).expand(ind.size(0), ind.size(1), feat.size(2)))

    def transpose_gather(feat, ind):
        return gather(feat.permute(0, 2, 3, 1).reshape(feat.size(0), -1, feat.size(1)), ind)

    def ctdet_decode(heat, wh, reg, K):
        """xingyizhou/CenterNet's ctdet_decode: _nms, the two-stage _topk, the gathers."""
        keep = (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).float()
        heat = heat * keep
        batch, cat, height, width = heat.size()
        topk_scores, topk_inds = torch.topk(heat.reshape(batch, cat, -1), K)
        topk_inds = topk_inds % (height * width)
        topk_ys = torch.div(topk_inds, width, rounding_mode="floor").float()
        topk_xs = (topk_inds % width).float()
        score, ind = torch.topk(topk_scores.view(batch, -1), K)
        clses = torch.div(ind, K, rounding_mode="floor").float().view(batch, K, 1)
        inds = gather(topk_inds.view(batch, -1, 1), ind).view(batch, K)
        ys = gather(topk_ys.view(batch, -1, 1), ind).view(batch, K, 1)
        xs = gather(topk_xs.view(batch, -1, 1), ind).view(batch, K, 1)
        r, s = transpose_gather(reg, inds), transpose_gather(wh, inds)
        xs, ys = xs + r[..., 0:1], ys + r[..., 1:2]
        return torch.cat([xs - s[..., 0:1] / 2, ys - s[..., 1:2] / 2, xs + s[..., 0:1] / 2, ys + s[..., 1:2] / 2,
                          score.view(batch, K, 1), clses], dim=2)

    def single_topk(heat, wh, reg, K):
        """One topk over C*H*W of the kept scores (baseline.py's flat_decode)."""
        _, C, H, W = heat.shape
        kept = torch.where(F.max_pool2d(heat, 3, stride=1, padding=1) == heat, heat, 0.0).contiguous()
        scores, idx = torch.topk(kept.view(-1), K)
        cls = torch.div(idx, H * W, rounding_mode="floor")
        pix = idx - cls * (H * W)
        ys = torch.div(pix, W, rounding_mode="floor")
        xs, ys = (pix - ys * W).float() + reg.reshape(2, -1)[0, pix], ys.float() + reg.reshape(2, -1)[1, pix]
        w, h = wh.reshape(2, -1)[0, pix], wh.reshape(2, -1)[1, pix]
        return torch.stack([xs - w / 2, ys - h / 2, xs + w / 2, ys + h / 2, scores, cls.float()], dim=1)[None]

    return ctdet_decode, single_topk


def detections_error(expected: np.ndarray):
    """A check: max error relative to the boxes' scale, after putting both sets of
    detections in (score desc, class, y1, x1) order (CenterNet's two-stage topk leaves
    equal scores in an order of its own)."""

    def ordered(boxes):
        b = boxes.reshape(-1, 6).astype(np.float64)
        return b[np.lexsort((b[:, 0], b[:, 1], b[:, 5], -b[:, 4]))]

    def check(result) -> float:
        got, want = ordered(as_numpy(result)), ordered(expected)
        return float(np.abs(got - want).max() / (np.abs(want).max() + 1.0))

    return check


def case_d_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    p = QUICK_D if quick else CASE_D
    K = p["K"]
    heat, wh, reg = case_d_inputs(**p, seed=seed)
    heat_nhwc, wh_nhwc, reg_nhwc = (np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in (heat, wh, reg))
    nchw = {OPZOO: lambda: heatmap_decode(heat, wh, reg, K)}
    nhwc = {OPZOO: lambda: heatmap_decode(heat_nhwc, wh_nhwc, reg_nhwc, K, layout="NHWC")}
    if importlib.util.find_spec("torch") is not None:
        import torch

        ctdet_decode, single_topk = _torch_decoders(torch)
        th, twh, treg = (torch.from_numpy(x) for x in (heat, wh, reg))
        th_cl = th.contiguous(memory_format=torch.channels_last)
        nchw[CTDET] = lambda: ctdet_decode(th, twh, treg, K)
        nchw[TOPK] = lambda: single_topk(th, twh, treg, K)
        nhwc[CTDET] = lambda: ctdet_decode(th_cl, twh, treg, K)
        nhwc[TOPK] = lambda: single_topk(th_cl, twh, treg, K)
    nchw[NUMPY] = lambda: _numpy_decode(heat, wh, reg, K)
    check = detections_error(reference.heatmap_decode(heat, wh, reg, K))
    label = f"K={K} heat "
    return [Row(label + "NCHW", nchw, check), Row(label + "NHWC (torch: channels_last)", nhwc, check)]


register_case(BenchCase(
    "D", "CenterNet heatmap decoding, heat {shape}, K={K}, float32", case_d_rows,
    [OPZOO, CTDET, TOPK, NUMPY], [(OPZOO, TOPK), (OPZOO, CTDET), (OPZOO, NUMPY)],
    params=lambda quick: {"shape": "1x{C}x{H}x{W}".format(**(QUICK_D if quick else CASE_D)),
                          "K": (QUICK_D if quick else CASE_D)["K"]}))


def case_d_gpu_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    """Case D on the GPU (float32 torch tensors): opzoo's CUDA decoding against CenterNet's
    ctdet_decode and a single topk in torch, NCHW and channels_last."""
    import torch

    p = QUICK_D if quick else CASE_D
    K = p["K"]
    arrays = case_d_inputs(**p, seed=seed)
    check = detections_error(reference.heatmap_decode(*arrays, K))
    th, twh, treg = (torch.from_numpy(x).cuda() for x in arrays)
    th_cl, twh_cl, treg_cl = (t.contiguous(memory_format=torch.channels_last) for t in (th, twh, treg))
    nhwc = [t.permute(0, 2, 3, 1) for t in (th_cl, twh_cl, treg_cl)]  # dense (N, H, W, C) views
    ctdet_decode, single_topk = _torch_decoders(torch)
    label = f"K={K} heat "
    return [
        Row(label + "NCHW", {OPZOO: lambda: heatmap_decode(th, twh, treg, K),
                             CTDET: lambda: ctdet_decode(th, twh, treg, K), TOPK: lambda: single_topk(th, twh, treg, K)},
            check),
        Row(label + "NHWC (torch: channels_last)", {OPZOO: lambda: heatmap_decode(*nhwc, K, layout="NHWC"),
                                                    CTDET: lambda: ctdet_decode(th_cl, twh, treg, K),
                                                    TOPK: lambda: single_topk(th_cl, twh, treg, K)}, check),
    ]


register_case(BenchCase(
    "D", "CenterNet heatmap decoding, heat {shape}, K={K}, float32, against torch on the GPU", case_d_gpu_rows,
    [OPZOO, CTDET, TOPK], [(OPZOO, TOPK), (OPZOO, CTDET)],
    params=lambda quick: {"shape": "1x{C}x{H}x{W}".format(**(QUICK_D if quick else CASE_D)),
                          "K": (QUICK_D if quick else CASE_D)["K"]}, device="gpu"))


def _demo() -> tuple[str, bool]:
    heat, wh, reg = case_d_inputs(**QUICK_D, seed=1)
    boxes = heatmap_decode(heat, wh, reg, K=5)
    err = detections_error(reference.heatmap_decode(heat, wh, reg, K=5))(boxes)
    return f"heat{heat.shape} K=5 -> boxes{boxes.shape}, best score {boxes[0, 0, 4]:.3f}  error vs reference {err:.2e}", err < 1e-5


register_demo("heatmap_decode", _demo)

"""opzoo.heatmap_decode against the NumPy reference at every SIMD level (random shapes,
plateaus, both layouts, reg or none), against CenterNet's own ctdet_decode in torch, and
the same boxes for any thread count; the contract suite (tests/kit/heatmap_decode.py)
runs the rest."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import assert_close
from kit.heatmap_decode import make_maps

import opzoo
from opzoo import reference


def _centernet_heat(rng, C, H, W, peaks=60):
    """Case D's kind of heatmap: sigmoid of a noisy floor with planted Gaussian peaks."""
    logits = rng.standard_normal((1, C, H, W)) - 2.0
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(peaks):
        c, cy, cx = rng.integers(C), rng.uniform(0, H), rng.uniform(0, W)
        logits[0, c] += rng.uniform(3, 6) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(1, 3) ** 2))
    return (1 / (1 + np.exp(-logits))).astype(np.float32)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(N=st.integers(1, 3), C=st.integers(1, 20), H=st.integers(1, 30), W=st.integers(1, 30),
       layout=st.sampled_from(["NCHW", "NHWC"]), plateaus=st.booleans(), with_reg=st.booleans(),
       fraction=st.floats(0, 1))
def test_matches_reference_on_random_shapes(simd_level, rng, N, C, H, W, layout, plateaus, with_reg, fraction):
    arrays = make_maps(rng, N, C, H, W, layout, plateaus)
    if not with_reg:
        arrays["reg"] = None
    K = int(fraction * C * H * W)
    boxes = opzoo.heatmap_decode(**arrays, K=K, layout=layout)
    assert boxes.shape == (N, K, 6) and boxes.dtype == np.float32
    assert_close(boxes, reference.heatmap_decode(**arrays, K=K, layout=layout), 1e-6)


def test_plateaus_survive_and_ties_come_in_index_order(simd_level):
    heat = np.zeros((1, 2, 5, 5), np.float32)
    heat[0, 1, 1:3, 1:3] = 0.8  # a 2x2 plateau: all four are peaks
    heat[0, 0, 4, 4] = 0.8
    wh = np.zeros((1, 2, 5, 5), np.float32)
    boxes = opzoo.heatmap_decode(heat, wh, None, K=6)
    index = boxes[0, :, 5] * 25 + (boxes[0, :, 1] - 0.5) * 5 + boxes[0, :, 0] - 0.5
    np.testing.assert_array_equal(index, [24, 31, 32, 36, 37, 0])  # class 0's (4, 4), class 1's plateau, then zeros
    np.testing.assert_array_equal(boxes[0, :, 4], np.float32([0.8] * 5 + [0]))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_centernet_sized_maps(simd_level, rng, layout):
    heat = _centernet_heat(rng, 20, 64, 64)
    wh = rng.random((1, 2, 64, 64), dtype=np.float32) * 40
    reg = rng.random((1, 2, 64, 64), dtype=np.float32)
    want = reference.heatmap_decode(heat, wh, reg, 100)
    if layout == "NHWC":
        heat, wh, reg = (a.transpose(0, 2, 3, 1).copy() for a in (heat, wh, reg))
    assert_close(opzoo.heatmap_decode(heat, wh, reg, 100, layout=layout), want, 1e-6)


def test_same_boxes_for_any_thread_count(rng):
    arrays = make_maps(rng, 2, 7, 33, 29)
    before = opzoo.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 5):
            opzoo.set_num_threads(threads)
            results.append(opzoo.heatmap_decode(**arrays, K=500))
    finally:
        opzoo.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_against_centernet_ctdet_decode(rng):
    """xingyizhou/CenterNet's ctdet_decode (_nms, the two-stage _topk, the gathers) in torch."""
    torch = pytest.importorskip("torch", reason="the peer is CenterNet's decode in torch")
    import torch.nn.functional as F

    heat = _centernet_heat(rng, 10, 48, 40)
    wh = rng.random((1, 2, 48, 40), dtype=np.float32) * 30
    reg = rng.random((1, 2, 48, 40), dtype=np.float32)
    K = 50
    th, twh, treg = (torch.from_numpy(a) for a in (heat, wh, reg))
    keep = (F.max_pool2d(th, 3, stride=1, padding=1) == th).float()
    scored = (th * keep).view(1, 10, -1)
    scores, inds = torch.topk(scored, K)  # per class, then over the classes' best
    top, top_ind = torch.topk(scores.view(1, -1), K)
    pix = inds.view(1, -1).gather(1, top_ind) % (48 * 40)
    cls = (top_ind // K).float()
    ys, xs = (pix // 40).float(), (pix % 40).float()
    xs, ys = xs + treg.view(1, 2, -1)[:, 0].gather(1, pix), ys + treg.view(1, 2, -1)[:, 1].gather(1, pix)
    w, h = twh.view(1, 2, -1)[:, 0].gather(1, pix), twh.view(1, 2, -1)[:, 1].gather(1, pix)
    want = torch.stack([xs - w / 2, ys - h / 2, xs + w / 2, ys + h / 2, top, cls], 2).numpy()
    np.testing.assert_allclose(opzoo.heatmap_decode(heat, wh, reg, K), want, rtol=1e-6, atol=1e-6)


def test_channels_last_tensor(rng):
    torch = pytest.importorskip("torch", reason="channels_last tensors need torch")
    arrays = make_maps(rng, 1, 4, 9, 11)
    t = {k: torch.from_numpy(a) for k, a in arrays.items()}
    t["heat"] = t["heat"].contiguous(memory_format=torch.channels_last)
    boxes = opzoo.heatmap_decode(**t, K=20)
    assert isinstance(boxes, torch.Tensor)
    assert_close(boxes.numpy(), reference.heatmap_decode(**arrays, K=20), 1e-6)

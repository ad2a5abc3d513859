"""Corner and center pooling (opzoo.corner_pool, corner_pool_pair, center_pool and their
backward passes) against the NumPy reference at every SIMD level: random shapes in both
layouts, ties and constant planes (the tie rule), one-row and one-column maps,
non-contiguous inputs, channels_last tensors, determinism, and torch.cummax (mmcv's
formulation) with autograd; the contract suite (tests/kit/corner_pool.py) runs the rest."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import assert_close
from kit.corner_pool import make_maps, torch_pool

import opzoo
from opzoo import reference

DIRECTIONS = ["top", "bottom", "left", "right"]
CORNERS = ["top_left", "bottom_right"]


def _check_all(a, b, g, layout):
    """Every op and gradient against the reference: the pools exactly, sums within float32 rounding."""
    for d in DIRECTIONS:
        np.testing.assert_array_equal(opzoo.corner_pool(a, d, layout=layout), reference.corner_pool(a, d, layout))
        assert_close(opzoo.corner_pool_backward(g, a, d, layout=layout),
                     reference.corner_pool_backward(g, a, d, layout), 1e-5, f"grad {d}")
    for corner in CORNERS:
        assert_close(opzoo.corner_pool_pair(a, b, corner, layout=layout),
                     reference.corner_pool_pair(a, b, corner, layout), 1e-6, corner)
        for name, got, want in zip("ab", opzoo.corner_pool_pair_backward(g, a, b, corner, layout=layout),
                                   reference.corner_pool_pair_backward(g, a, b, corner, layout)):
            assert_close(got, want, 1e-5, f"{corner} grad_{name}")
    assert_close(opzoo.center_pool(a, b, layout=layout), reference.center_pool(a, b, layout), 1e-6, "center")
    for name, got, want in zip("ab", opzoo.center_pool_backward(g, a, b, layout=layout),
                               reference.center_pool_backward(g, a, b, layout)):
        assert_close(got, want, 1e-5, f"center grad_{name}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(N=st.integers(1, 2), C=st.integers(1, 40), H=st.integers(1, 40), W=st.integers(1, 40),
       layout=st.sampled_from(["NCHW", "NHWC"]), levels=st.sampled_from([0, 2, 4]))
def test_matches_reference_on_random_shapes(simd_level, rng, N, C, H, W, layout, levels):
    """levels > 0 rounds the maps to that many values per unit: ties everywhere."""
    a, b, g = make_maps(rng, N, C, H, W, layout, levels)
    _check_all(a, b, g, layout)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("shape", [(1, 3, 1, 37), (2, 5, 37, 1), (1, 1, 1, 1), (2, 17, 16, 32), (1, 33, 35, 49)])
def test_rows_columns_and_tile_edges(simd_level, rng, layout, shape):
    """One-row and one-column maps, one pixel, whole tiles, and tiles with remainders."""
    _check_all(*make_maps(rng, *shape, layout), layout)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_constant_planes_follow_the_tie_rule(simd_level, rng, layout):
    """All values equal: each gradient goes to its own position (the nearest arg-max),
    center pooling's to the first row and column at or after it."""
    a = np.full((1, 3, 6, 5), 0.5, np.float32)
    a = a if layout == "NCHW" else a.transpose(0, 2, 3, 1).copy()
    g = rng.standard_normal(a.shape).astype(np.float32)
    for d in DIRECTIONS:
        np.testing.assert_array_equal(opzoo.corner_pool_backward(g, a, d, layout=layout), g)
    grad_a, grad_b = opzoo.center_pool_backward(g, a, a, layout=layout)
    np.testing.assert_array_equal(grad_a, g)
    np.testing.assert_array_equal(grad_b, g)
    _check_all(a, a, g, layout)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_large_outputs_streamed_or_not(simd_level, rng, layout):
    """Outputs of 8 MB and more on 64-byte lines are written past the caches; in an `out`
    off the lines, by plain stores: the same values either way."""
    a, b, _ = make_maps(rng, 1, 32, 256, 256, layout)
    want = {"pair": reference.corner_pool_pair(a, b, "top_left", layout),
            "top": reference.corner_pool(a, "top", layout), "center": reference.center_pool(a, b, layout)}
    off_lines = np.empty(a.size + 1, np.float32)[1:].reshape(a.shape)
    for out in (None, off_lines):
        assert_close(opzoo.corner_pool_pair(a, b, "top_left", layout=layout, out=out), want["pair"], 1e-6, "pair")
        np.testing.assert_array_equal(opzoo.corner_pool(a, "top", layout=layout, out=out), want["top"])
        assert_close(opzoo.center_pool(a, b, layout=layout, out=out), want["center"], 1e-6, "center")


def test_strided_and_transposed_inputs(rng):
    a, b, g = make_maps(rng, 2, 6, 20, 24, "NCHW")
    views = (a[:, ::2, 1::2, ::3], b[:, 1::2, ::2, 1::3], g[:, ::2, ::2, ::3])
    _check_all(*views, "NCHW")
    # A transposed view is dense in the other order: read in place, the result in that order.
    t = a.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)
    y = opzoo.corner_pool(t, "top")
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(y, reference.corner_pool(a, "top"))


def _flat(results):
    return np.concatenate([np.ravel(x) for r in results for x in (r if isinstance(r, tuple) else (r,))])


def test_same_bits_for_any_thread_count(rng):
    a, b, g = make_maps(rng, 2, 24, 33, 31, "NHWC", 2)
    before = opzoo.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            opzoo.set_num_threads(threads)
            results.append(_flat([opzoo.center_pool_backward(g, a, b, layout="NHWC"),
                                  opzoo.corner_pool_pair_backward(g, a, b, layout="NHWC"),
                                  opzoo.corner_pool_pair(a, b, "bottom_right", layout="NHWC")]))
    finally:
        opzoo.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_out(rng):
    a, b, _ = make_maps(rng, 1, 4, 9, 8, "NCHW")
    out = np.empty_like(a)
    assert opzoo.corner_pool_pair(a, b, out=out) is out
    assert_close(out, reference.corner_pool_pair(a, b), 1e-6)
    with pytest.raises(ValueError, match="out: must not share memory with x"):
        opzoo.corner_pool(a, "top", out=a)


@pytest.mark.parametrize("call, error, match", [
    (lambda a: opzoo.corner_pool(a[0], "top"), ValueError, r"x: expected 4 dimensions \(N, C, H, W\)"),
    (lambda a: opzoo.corner_pool(a, "up"), ValueError, r"direction must be 'top', 'bottom', 'left' or 'right', got 'up'"),
    (lambda a: opzoo.corner_pool(a, 2), TypeError, r"direction: expected a name, got int"),
    (lambda a: opzoo.corner_pool_pair(a, a[:, :, 1:]), ValueError, r"b: expected shape \(2, 3, 5, 6\)"),
    (lambda a: opzoo.corner_pool_pair(a, a, "top_right"), ValueError, r"corner must be 'top_left' or 'bottom_right'"),
    (lambda a: opzoo.center_pool(a, a.astype(np.float64)), TypeError, r"b: expected dtype float32"),
    (lambda a: opzoo.center_pool_backward(a[:, :1], a, a), ValueError, r"a: expected shape \(2, 1, 5, 6\)"),
    (lambda a: opzoo.corner_pool(a, "top", layout="CHWN"), ValueError, r"layout must be 'NCHW' or 'NHWC'"),
])
def test_bad_inputs(rng, call, error, match):
    with pytest.raises(error, match=match):
        call(rng.standard_normal((2, 3, 5, 6)).astype(np.float32))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_against_torch_cummax_and_autograd(rng, layout):
    """mmcv's CornerPool (flip, cummax, flip) and autograd through it, ties included."""
    torch = pytest.importorskip("torch", reason="the peer is torch.cummax")
    a, b, g = make_maps(rng, 2, 5, 13, 11, layout, 2)
    for d in DIRECTIONS:
        ta = torch.tensor(a, requires_grad=True)
        y = torch_pool(torch, ta, d, layout)
        y.backward(torch.tensor(g))
        np.testing.assert_array_equal(opzoo.corner_pool(a, d, layout=layout), y.detach().numpy())
        assert_close(opzoo.corner_pool_backward(g, a, d, layout=layout), ta.grad.numpy(), 1e-6, d)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    y = torch_pool(torch, torch_pool(torch, ta, "top", layout), "bottom", layout) + torch_pool(
        torch, torch_pool(torch, tb, "left", layout), "right", layout)
    y.backward(torch.tensor(g))
    assert_close(opzoo.center_pool(a, b, layout=layout), y.detach().numpy(), 1e-6, "center")
    for got, want in zip(opzoo.center_pool_backward(g, a, b, layout=layout), (ta.grad, tb.grad)):
        assert_close(got, want.numpy(), 1e-6, "center grad")


def test_torch_tensors_keep_channels_last(rng):
    torch = pytest.importorskip("torch", reason="channels_last tensors need torch")
    a, b, _ = make_maps(rng, 2, 6, 7, 9, "NCHW")
    ta = torch.from_numpy(a).contiguous(memory_format=torch.channels_last)
    y = opzoo.corner_pool_pair(ta, torch.from_numpy(b))
    assert isinstance(y, torch.Tensor) and y.is_contiguous(memory_format=torch.channels_last)
    assert_close(y.numpy(), reference.corner_pool_pair(a, b), 1e-6)

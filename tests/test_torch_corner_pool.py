"""opzoo.torch's corner and center pooling and heatmap decoding: the custom ops
(autograd, torch.compile, opcheck), their eager paths, CornerPool as mmcv's module, and
float32 against mmcv's formulation (torch.cummax on flipped tensors) under autograd, ties
included. The contract suite (tests/kit/corner_pool.py) runs the ops as well."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="opzoo.torch needs torch (pip install torch)")

from kit.corner_pool import torch_pool  # noqa: E402

import opzoo  # noqa: E402
import opzoo.torch as ot  # noqa: E402

FORMATS = {"NCHW": torch.contiguous_format, "channels_last": torch.channels_last}
DIRECTIONS = ["top", "bottom", "left", "right"]
CORNERS = {"top_left": ("top", "left"), "bottom_right": ("bottom", "right")}


def _maps(shape, dtype, memory_format, levels=0, count=2):
    """Leaves of `shape`; with levels > 0, rounded to 1/levels so that ties abound."""
    maps = [torch.randn(shape, dtype=dtype) for _ in range(count)]
    if levels:
        maps = [torch.round(m * levels) / levels for m in maps]
    return [m.contiguous(memory_format=memory_format).requires_grad_() for m in maps]


def _mmcv_center(a, b):
    """Center pooling as CenterNet's authors compose it: BottomPool(TopPool(a)) + RightPool(LeftPool(b))."""
    return torch_pool(torch, torch_pool(torch, a, "top"), "bottom") + torch_pool(torch, torch_pool(torch, b, "left"),
                                                                                  "right")


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_gradcheck_float64(memory_format):
    a, b = _maps((2, 3, 5, 4), torch.float64, FORMATS[memory_format])
    for d in DIRECTIONS:
        assert torch.autograd.gradcheck(lambda x: ot.corner_pool(x, d), (a,))
    for corner in CORNERS:
        assert torch.autograd.gradcheck(lambda x, y: ot.corner_pool_pair(x, y, corner), (a, b))
    assert torch.autograd.gradcheck(ot.center_pool, (a, b))


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
@pytest.mark.parametrize("levels", [0, 2], ids=["distinct", "ties"])
def test_float32_against_mmcv_cummax_autograd(memory_format, levels):
    a, b = _maps((2, 5, 9, 7), torch.float32, FORMATS[memory_format], levels)
    cases = [(lambda x, y, d=d: ot.corner_pool(x, d), lambda x, y, d=d: torch_pool(torch, x, d), (a,))
             for d in DIRECTIONS]
    cases += [(lambda x, y, c=c: ot.corner_pool_pair(x, y, c),
               lambda x, y, c=c: torch_pool(torch, x, CORNERS[c][0]) + torch_pool(torch, y, CORNERS[c][1]), (a, b))
              for c in CORNERS]
    cases.append((ot.center_pool, _mmcv_center, (a, b)))
    for ours, theirs, leaves in cases:
        y, want = ours(a, b), theirs(a, b)
        torch.testing.assert_close(y, want, rtol=1e-6, atol=1e-6)
        assert y.stride() == a.stride()
        g = torch.randn_like(want)
        for got, exp in zip(torch.autograd.grad(y, leaves, g), torch.autograd.grad(want, leaves, g)):
            torch.testing.assert_close(got, exp, rtol=1e-5, atol=1e-5)
            assert got.stride() == a.stride()


def test_eager_path_and_custom_op_agree_bit_for_bit():
    a, b = _maps((2, 4, 6, 5), torch.float32, torch.channels_last, levels=2)
    for ours, op in ((lambda: ot.corner_pool_pair(a, b, "bottom_right"),
                      lambda: torch.ops.opzoo.corner_pool_pair(a, b, "bottom_right")),
                     (lambda: ot.center_pool(a, b), lambda: torch.ops.opzoo.center_pool(a, b)),
                     (lambda: ot.corner_pool(a, "left"), lambda: torch.ops.opzoo.corner_pool(a, "left"))):
        y1, y2 = ours(), op()
        assert torch.equal(y1, y2) and y1.stride() == y2.stride()
        g = torch.randn_like(y1)
        for x1, x2 in zip(torch.autograd.grad(y1, (a, b), g, allow_unused=True),
                          torch.autograd.grad(y2, (a, b), g, allow_unused=True)):
            assert (x1 is None and x2 is None) or torch.equal(x1, x2)


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_opcheck(memory_format):
    a, b = (t.detach() for t in _maps((2, 3, 5, 4), torch.float32, FORMATS[memory_format]))
    g = torch.randn_like(a)
    ops = torch.ops.opzoo
    torch.library.opcheck(ops.corner_pool.default, (a.requires_grad_(), "top"))
    a = a.detach()
    torch.library.opcheck(ops.corner_pool_backward.default, (g, a, "right"))
    torch.library.opcheck(ops.corner_pool_pair.default, (a, b, "bottom_right"))
    torch.library.opcheck(ops.corner_pool_pair_backward.default, (g, a, b, "top_left"))
    torch.library.opcheck(ops.center_pool.default, (a, b))
    torch.library.opcheck(ops.center_pool_backward.default, (g, a, b))
    heat = torch.rand(2, 3, 5, 4).contiguous(memory_format=FORMATS[memory_format])
    torch.library.opcheck(ops.heatmap_decode.default, (heat, torch.rand(2, 2, 5, 4), torch.rand(2, 2, 5, 4), 7))
    torch.library.opcheck(ops.heatmap_decode.default, (heat, torch.rand(2, 2, 5, 4), None, 3))


def test_torch_compile_fullgraph():
    torch._dynamo.reset()
    a, b = _maps((2, 4, 7, 6), torch.float32, torch.channels_last)

    def step(x, y):
        p = ot.corner_pool_pair(torch.relu(x), y, "top_left") + ot.center_pool(x, y)
        return (ot.corner_pool(p, "bottom") * 2).square().sum()

    loss = torch.compile(step, fullgraph=True)(a, b)
    got = torch.autograd.grad(loss, (a, b))
    want_loss = step(a, b)
    torch.testing.assert_close(loss, want_loss)
    for x, e in zip(got, torch.autograd.grad(want_loss, (a, b))):
        torch.testing.assert_close(x, e)


def test_corner_pool_module_is_mmcvs():
    x = _maps((1, 3, 6, 5), torch.float32, torch.contiguous_format, levels=2, count=1)[0]
    for mode in DIRECTIONS:
        pool = ot.CornerPool(mode)
        assert pool.state_dict() == {} and pool.mode == mode and repr(pool) == f"CornerPool(mode='{mode}')"
        torch.testing.assert_close(pool(x), torch_pool(torch, x, mode))
    with pytest.raises(ValueError, match="mode: expected one of top, bottom, left, right, got 'up'"):
        ot.CornerPool("up")


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_heatmap_decode_matches_the_functional_op(memory_format):
    rng = np.random.default_rng(3)
    heat, wh, reg = (rng.random(shape, dtype=np.float32) for shape in ((2, 6, 9, 11), (2, 2, 9, 11), (2, 2, 9, 11)))
    want = opzoo.heatmap_decode(heat, wh, reg, K=20)
    th = torch.from_numpy(heat).contiguous(memory_format=FORMATS[memory_format]).requires_grad_()
    got = ot.heatmap_decode(th, torch.from_numpy(wh), torch.from_numpy(reg), K=20)
    assert not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), want)
    compiled = torch.compile(lambda h, s: ot.heatmap_decode(h.detach() * 1, s, None, 5), fullgraph=True)
    np.testing.assert_array_equal(compiled(th, torch.from_numpy(wh)).numpy(), opzoo.heatmap_decode(heat, wh, None, 5))


def test_bad_inputs_raise_the_functional_errors():
    a, b = (t.detach() for t in _maps((1, 2, 4, 4), torch.float32, torch.contiguous_format))
    with pytest.raises(ValueError, match="direction"):
        ot.corner_pool(a, "up")
    with pytest.raises(TypeError, match="b: expected a torch.Tensor, got list"):
        ot.corner_pool_pair(a, b.tolist())
    with pytest.raises(ValueError, match="b: expected shape"):
        ot.center_pool(a, b[:, :, :3])
    with pytest.raises(ValueError, match="K"):
        ot.heatmap_decode(a, torch.zeros(1, 2, 4, 4), None, K=33)
    with pytest.raises(TypeError, match="wh: expected a torch.Tensor, got NoneType"):
        ot.heatmap_decode(a, None)


def test_docstring_examples_run():
    import doctest
    import sys

    failures, _ = doctest.testmod(sys.modules["opzoo.torch.corner_pool"])
    assert failures == 0

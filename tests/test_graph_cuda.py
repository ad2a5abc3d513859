"""Graph message passing on CUDA arrays: PyTorch and CuPy (or, in the emulated build,
host-memory stand-ins for CuPy arrays) against the NumPy reference in float32, float16
and bfloat16 (float32 arithmetic): aggregate with every reduce, with per-edge and
per-head weights, its backward, SDDMM and the edge softmax with theirs; the Graph's CSR
copied to the device once. Skipped, with the reason, where no CUDA device or emulated
module is there."""

import numpy as np
import pytest
from kit import assert_close
from kit.fake_gpu import FakeGpuArray, from_fake_gpu
from kit.gpu import TOLERANCE, rounded

import opzoo
from opzoo.reference import graph as ref

pytestmark = pytest.mark.cuda


def _graph(rng, nodes=37, edges=300):
    ei = rng.integers(0, nodes - 2, (2, edges))  # two isolated nodes
    ei[1, :5] = ei[0, :5]
    ei[1, 5:60] = 3  # a hub
    return ei


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("reduce", ref.REDUCES)
@pytest.mark.parametrize("heads", [None, 3])
def test_aggregate_matches_reference(lib, rng, dtype, reduce, heads):
    name, to_dev, to_np = lib
    if name == "cupy" and dtype == "bfloat16":
        pytest.skip("CuPy has no bfloat16 dtype")
    ei = _graph(rng)
    g = opzoo.Graph(ei, 37)
    shape = (37, heads, 5) if heads else (37, 40)
    x = rounded(rng.standard_normal(shape).astype(np.float32), dtype)
    w = rounded(rng.standard_normal((300, heads) if heads else 300).astype(np.float32), dtype)
    go = rounded(rng.standard_normal(shape).astype(np.float32), dtype)
    tol = max(TOLERANCE[dtype], 1e-5) * 4
    out = opzoo.aggregate(g, to_dev(x, dtype), reduce, to_dev(w, dtype))
    assert_close(to_np(out), ref.aggregate(ei, 37, x, reduce, w), tol, "out")
    gx, gw = opzoo.aggregate_backward(g, to_dev(go, dtype), to_dev(x, dtype), reduce, to_dev(w, dtype))
    want_gx, want_gw = ref.aggregate_backward(ei, 37, go, x, reduce, w)
    if dtype == "float32" or reduce in ("sum", "mean"):  # rounded products may tie where float64 does not
        assert_close(to_np(gx), want_gx, tol, "grad_x")
        assert_close(to_np(gw), want_gw, tol, "grad_edge_weight")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_sddmm_and_softmax_match_reference(lib, rng, dtype):
    _, to_dev, to_np = lib
    ei = _graph(rng)
    g = opzoo.Graph(ei, 37)
    a, b = (rounded(rng.standard_normal((37, 2, 24)).astype(np.float32), dtype) for _ in range(2))
    tol = max(TOLERANCE[dtype], 1e-5) * 4
    dots = opzoo.sddmm(g, to_dev(a, dtype), to_dev(b, dtype))
    assert_close(to_np(dots), ref.sddmm(ei, a, b), tol, "sddmm")
    gd = rounded(rng.standard_normal((300, 2)).astype(np.float32), dtype)
    ga, gb = opzoo.sddmm_backward(g, to_dev(gd, dtype), to_dev(a, dtype), to_dev(b, dtype))
    want_ga, want_gb = ref.sddmm_backward(ei, 37, gd, a, b)
    assert_close(to_np(ga), want_ga, tol, "grad_a")
    assert_close(to_np(gb), want_gb, tol, "grad_b")
    s = rounded(rng.standard_normal((300, 2)).astype(np.float32), dtype)
    y = opzoo.edge_softmax(g, to_dev(s, dtype))
    assert_close(to_np(y), ref.edge_softmax(ei, 37, s), tol, "edge_softmax")
    y32 = rounded(to_np(y), dtype)
    gs = opzoo.edge_softmax_backward(g, to_dev(gd, dtype), to_dev(y32, dtype))
    assert_close(to_np(gs), ref.edge_softmax_backward(ei, 37, gd, y32), tol, "edge_softmax_backward")


def test_device_arrays_take_the_cuda_path(fake_gpu, rng):
    ei = _graph(rng)
    g = opzoo.Graph(ei, 37)
    x = rng.standard_normal((37, 8)).astype(np.float32)
    out = opzoo.aggregate(g, FakeGpuArray(x), "mean")
    assert isinstance(out, FakeGpuArray)
    assert_close(from_fake_gpu(out), ref.aggregate(ei, 37, x, "mean"), 1e-5)
    gx, gw = opzoo.aggregate_backward(g, FakeGpuArray(np.ones_like(x)), FakeGpuArray(x), "mean")
    assert gw is None
    assert_close(from_fake_gpu(gx), ref.aggregate_backward(ei, 37, np.ones_like(x), x, "mean")[0], 1e-5)
    assert fake_gpu.streams
    first = g.csr_for(opzoo.ops.graph.backend_for(x=FakeGpuArray(x))[0])
    assert first is g.csr_for(opzoo.ops.graph.backend_for(x=FakeGpuArray(x))[0])  # copied once, kept
    with pytest.raises(ValueError, match="mixed devices"):
        opzoo.aggregate(g, FakeGpuArray(x), "sum", np.ones(300, np.float32))


def test_torch_layers_on_cuda_tensors(rng):
    torch = pytest.importorskip("torch", reason="the torch layers need torch")
    from kit.gpu import cuda_available

    if not (cuda_available() and torch.cuda.is_available()):
        pytest.skip("no CUDA device here")
    import opzoo.torch as ot

    ei = torch.from_numpy(_graph(rng))
    x = torch.randn(37, 8)
    for layer in (ot.GCNConv(8, 4), ot.SAGEConv(8, 4, aggr="max"), ot.GATConv(8, 4, heads=2)):
        want = layer(x, ei)
        xc = x.cuda().requires_grad_()
        got = layer.cuda()(xc, ei)
        assert got.is_cuda
        torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-5)
        got.sum().backward()
        assert xc.grad is not None and xc.grad.is_cuda

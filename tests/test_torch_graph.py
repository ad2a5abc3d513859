"""opzoo.torch's graph ops (gradcheck, opcheck, torch.compile, the eager path against the
custom op) and GCNConv / SAGEConv / GATConv against PyTorch Geometric's layers with the
same weights, forward and backward, and state_dicts loading both ways."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="opzoo.torch needs torch (pip install torch)")

import opzoo  # noqa: E402
import opzoo.torch as ot  # noqa: E402
from opzoo.torch.graph import _aggregate, _csr_tensors  # noqa: E402

_AggregateEager = _aggregate.eager


def _graph(nodes=12, edges=50, seed=0):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, nodes, (2, edges))
    ei[1, :6] = ei[0, :6]  # self-loops, and a duplicate of one
    ei[:, 6] = ei[:, 0]
    ei[:, 7:9] = [[1, 1], [2, 2]]  # node 1's self-loop twice
    return torch.from_numpy(ei)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("weights", [None, "edge", "head"])
def test_aggregate_gradcheck_float64(reduce, weights):
    ei = _graph()
    shape = (12, 3, 4) if weights == "head" else (12, 5)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    w = None
    if weights:
        w = torch.randn((50, 3) if weights == "head" else (50,), dtype=torch.float64, requires_grad=True)
    g = opzoo.Graph(ei)
    args = (x,) if w is None else (x, w)
    assert torch.autograd.gradcheck(lambda *t: ot.aggregate(g, t[0], reduce, t[1] if len(t) > 1 else None), args)


def test_sddmm_and_softmax_gradcheck_float64():
    g = opzoo.Graph(_graph())
    a, b = (torch.randn(12, 2, 6, dtype=torch.float64, requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(lambda a, b: ot.sddmm(g, a, b), (a, b))
    s = torch.randn(50, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: ot.edge_softmax(g, s), (s,))


def test_eager_path_and_custom_op_agree_bit_for_bit():
    g = opzoo.Graph(_graph())
    csr = _csr_tensors(g, torch.device('cpu'))
    x = torch.randn(12, 7, requires_grad=True)
    w = torch.randn(50, requires_grad=True)
    for reduce in ("sum", "mean", "max"):
        y1 = _AggregateEager.apply(*csr, x, w, reduce)
        y2 = torch.ops.opzoo.graph_aggregate(*csr, x, w, reduce)
        assert torch.equal(y1, y2)
        gy = torch.randn_like(y1)
        for a, e in zip(torch.autograd.grad(y1, (x, w), gy), torch.autograd.grad(y2, (x, w), gy)):
            assert torch.equal(a, e)


def test_opcheck():
    g = opzoo.Graph(_graph())
    csr = _csr_tensors(g, torch.device('cpu'))
    x, w = torch.randn(12, 2, 3, requires_grad=True), torch.randn(50, 2, requires_grad=True)
    for reduce in ("sum", "max"):
        torch.library.opcheck(torch.ops.opzoo.graph_aggregate.default, (*csr, x, w, reduce))
        torch.library.opcheck(torch.ops.opzoo.graph_aggregate.default, (*csr, x.detach()[:, 0], None, reduce))
    torch.library.opcheck(torch.ops.opzoo.sddmm.default, (*csr, x, x.detach().clone().requires_grad_()))
    torch.library.opcheck(torch.ops.opzoo.edge_softmax.default, (*csr, w))


def test_torch_compile_fullgraph():
    torch._dynamo.reset()
    g = opzoo.Graph(_graph())
    csr = _csr_tensors(g, torch.device('cpu'))
    x, w = torch.randn(12, 5, requires_grad=True), torch.randn(50, requires_grad=True)

    def step(x, w):
        alpha = torch.ops.opzoo.edge_softmax(*csr, w)
        return torch.ops.opzoo.graph_aggregate(*csr, torch.relu(x), alpha, "sum").square().sum()

    loss = torch.compile(step, fullgraph=True)(x, w)
    want = step(x, w)
    torch.testing.assert_close(loss, want)
    for a, e in zip(torch.autograd.grad(loss, (x, w)), torch.autograd.grad(want, (x, w))):
        torch.testing.assert_close(a, e)


def _pyg():
    return pytest.importorskip("torch_geometric.nn", reason="compares with PyTorch Geometric (pip install torch-geometric)")


def _compare(ours, theirs, x, ei, *extra, rtol=1e-5, atol=1e-5):
    ours.load_state_dict(theirs.state_dict())
    xo, xt = x.clone().requires_grad_(), x.clone().requires_grad_()
    yo, yt = ours(xo, ei, *extra), theirs(xt, ei, *extra)
    torch.testing.assert_close(yo, yt, rtol=rtol, atol=atol)
    g = torch.randn_like(yo)
    go = torch.autograd.grad(yo, [xo, *ours.parameters()], g)
    gt = torch.autograd.grad(yt, [xt, *theirs.parameters()], g)
    for a, e in zip(go, gt):
        torch.testing.assert_close(a, e, rtol=rtol * 10, atol=atol * 10)
    theirs.load_state_dict(ours.state_dict())  # and back
    assert ours.state_dict().keys() == theirs.state_dict().keys()


@pytest.mark.parametrize("options", [{}, {"improved": True}, {"add_self_loops": False}, {"bias": False},
                                     {"normalize": False, "add_self_loops": False}])
@pytest.mark.parametrize("weighted", [False, True])
def test_gcnconv_matches_pyg(options, weighted):
    pyg = _pyg()
    torch.manual_seed(0)
    ei = _graph(30, 200)
    w = torch.rand(200) + 0.1 if weighted else None
    _compare(ot.GCNConv(8, 6, **options), pyg.GCNConv(8, 6, **options), torch.randn(30, 8), ei, w)


def test_gcnconv_edge_weight_gradient_and_graph_input():
    pyg = _pyg()
    torch.manual_seed(1)
    ei = _graph(20, 90)
    # No node with two self-loops: of those, the last one's weight is the loop's, and
    # only it gets a gradient here, where torch's index_put backward gives one to each.
    ei[:, 6] = torch.tensor([3, 4])
    ours, theirs = ot.GCNConv(5, 4), pyg.GCNConv(5, 4)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(20, 5)
    wo, wt = (torch.rand(90).add(0.1).requires_grad_() for _ in range(2))
    with torch.no_grad():
        wt.copy_(wo)
    yo, yt = ours(x, opzoo.Graph(ei), wo), theirs(x, ei, wt)
    torch.testing.assert_close(yo, yt, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(yo)
    torch.testing.assert_close(torch.autograd.grad(yo, wo, g)[0], torch.autograd.grad(yt, wt, g)[0], rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"aggr": "max"}, {"aggr": "sum"}, {"root_weight": False},
                                     {"normalize": True}, {"bias": False}])
def test_sageconv_matches_pyg(options):
    pyg = _pyg()
    torch.manual_seed(2)
    _compare(ot.SAGEConv(8, 6, **options), pyg.SAGEConv(8, 6, **options), torch.randn(30, 8), _graph(30, 200))


@pytest.mark.parametrize("options", [{}, {"heads": 3}, {"heads": 2, "concat": False}, {"add_self_loops": False},
                                     {"negative_slope": 0.1, "bias": False}])
def test_gatconv_matches_pyg(options):
    pyg = _pyg()
    torch.manual_seed(3)
    _compare(ot.GATConv(8, 5, **options), pyg.GATConv(8, 5, **options), torch.randn(30, 8), _graph(30, 200))


def test_layers_refuse_what_they_do_not_offer():
    with pytest.raises(ValueError, match="project=True is not offered"):
        ot.SAGEConv(4, 4, project=True)
    with pytest.raises(ValueError, match="edge_dim, residual and bipartite"):
        ot.GATConv(4, 4, edge_dim=3)
    with pytest.raises(ValueError, match="reduce: expected one of"):
        ot.SAGEConv(4, 4, aggr="lstm")
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        ot.aggregate(_graph(), np.ones((12, 3), np.float32))

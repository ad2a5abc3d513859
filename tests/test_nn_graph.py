"""opzoo.nn's GCNConv, SAGEConv and GATConv against PyTorch Geometric's layers (eval
mode) with the same random weights, on graphs with self-loops, duplicates and isolated
nodes, given as an opzoo.Graph or an edge_index array; and their errors."""

import numpy as np
import pytest

import opzoo
import opzoo.nn
from kit import assert_close

torch = pytest.importorskip("torch", reason="compares with PyTorch Geometric (pip install torch torch-geometric)")
pyg = pytest.importorskip("torch_geometric.nn", reason="compares with PyTorch Geometric (pip install torch-geometric)")


def _graph(rng, nodes=40, edges=300):
    ei = rng.integers(0, nodes - 3, (2, edges))  # the last three nodes isolated
    ei[1, :10] = ei[0, :10]
    ei[:, 10] = ei[:, 0]
    return ei


def _check(ours, theirs, x, ei, *extra):
    theirs.eval()
    with torch.no_grad():
        want = theirs(torch.from_numpy(x), torch.from_numpy(ei), *(torch.from_numpy(e) for e in extra)).numpy()
    assert_close(ours(x, ei, *extra), want, 1e-5)
    assert_close(ours(x, opzoo.Graph(ei, len(x)), *extra), want, 1e-5)


@pytest.mark.parametrize("options", [{}, {"improved": True}, {"add_self_loops": False}, {"bias": False},
                                     {"normalize": False, "add_self_loops": False}])
@pytest.mark.parametrize("weighted", [False, True])
def test_gcnconv(rng, options, weighted):
    torch.manual_seed(0)
    theirs = pyg.GCNConv(16, 8, **options)
    torch.nn.init.normal_(theirs.bias) if theirs.bias is not None else None
    config = {k: v for k, v in options.items() if k != "bias"}
    ours = opzoo.nn.GCNConv.from_state_dict(theirs.state_dict(), **config)
    ei = _graph(rng)
    extra = (rng.random(ei.shape[1]).astype(np.float32) + 0.1,) if weighted else ()
    _check(ours, theirs, rng.standard_normal((40, 16)).astype(np.float32), ei, *extra)


@pytest.mark.parametrize("options", [{}, {"aggr": "max"}, {"aggr": "sum"}, {"root_weight": False},
                                     {"normalize": True}, {"bias": False}])
def test_sageconv(rng, options):
    torch.manual_seed(1)
    theirs = pyg.SAGEConv(16, 8, **options)
    config = {k: v for k, v in options.items() if k in ("aggr", "normalize")}
    ours = opzoo.nn.SAGEConv.from_state_dict(theirs.state_dict(), **config)
    _check(ours, theirs, rng.standard_normal((40, 16)).astype(np.float32), _graph(rng))


@pytest.mark.parametrize("options", [{}, {"heads": 4}, {"heads": 3, "concat": False}, {"add_self_loops": False},
                                     {"heads": 2, "negative_slope": 0.1, "bias": False}])
def test_gatconv(rng, options):
    torch.manual_seed(2)
    theirs = pyg.GATConv(16, 8, **options)
    if theirs.bias is not None:
        torch.nn.init.normal_(theirs.bias)
    config = {k: v for k, v in options.items() if k in ("negative_slope", "add_self_loops")}
    if "bias" in options:
        config["concat"] = options.get("concat", True)
    ours = opzoo.nn.GATConv.from_state_dict(theirs.state_dict(), **config)
    _check(ours, theirs, rng.standard_normal((40, 16)).astype(np.float32), _graph(rng))


def test_errors(rng):
    sd = pyg.GCNConv(16, 8).state_dict()
    conv = opzoo.nn.GCNConv.from_state_dict(sd)
    with pytest.raises(ValueError, match=r"x: expected 16 channels, got shape \(40, 15\)"):
        conv(np.zeros((40, 15), np.float32), _graph(rng))
    with pytest.raises(ValueError, match=r"got 39 at .* \(x has 30 rows, one per node\)"):
        conv(np.zeros((30, 16), np.float32), np.array([[0, 39], [1, 2]]))
    with pytest.raises(TypeError, match="x: expected a NumPy array"):
        conv(torch.zeros(40, 16), _graph(rng))
    with pytest.raises(ValueError, match="not an entry of GCNConv"):
        opzoo.nn.GCNConv.from_state_dict({**sd, "extra": torch.zeros(1)})
    with pytest.raises(KeyError, match="lin_l.weight: missing"):
        opzoo.nn.SAGEConv.from_state_dict(sd)

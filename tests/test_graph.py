"""opzoo.Graph, aggregate, sddmm and edge_softmax (and their backward) against the NumPy
reference at every SIMD level on random graphs (empty, self-loops, duplicate edges,
isolated nodes, one node, skewed degrees, per-head weights), PyTorch Geometric's scatter
and softmax forward and backward, bit-identical repeats and thread counts, the CSR
against a plain sort, and bad inputs; the contract suite (tests/kit/graph.py) runs the
rest."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import assert_close

import opzoo
from opzoo import _cpu
from opzoo.reference import graph as ref


def random_graph(rng, nodes, edges, skew=False, dtype=np.int64):
    """Uniform sources; targets uniform or Zipf-like (a few hubs take most edges)."""
    if nodes == 0:
        return np.zeros((2, 0), dtype)
    source = rng.integers(0, nodes, edges)
    if skew:
        target = np.minimum(rng.zipf(1.5, edges) - 1, nodes - 1)
    else:
        target = rng.integers(0, nodes, edges)
    return np.stack([source, target]).astype(dtype)


GRAPHS = st.tuples(st.integers(0, 40), st.integers(0, 200), st.booleans())
FEATURES = st.lists(st.integers(1, 70), min_size=0, max_size=2)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=GRAPHS, features=FEATURES, reduce=st.sampled_from(ref.REDUCES), weighted=st.sampled_from([None, 1, 3]))
def test_aggregate_matches_reference(simd_level, rng, graph, features, reduce, weighted):
    nodes, edges, skew = graph
    edges = edges if nodes else 0
    ei = random_graph(rng, nodes, edges, skew)
    shape = (nodes, *features)
    w = None
    if weighted == 3:
        shape = (nodes, 3, *features)
        w = rng.standard_normal((edges, 3)).astype(np.float32)
    elif weighted == 1:
        w = rng.standard_normal(edges).astype(np.float32)
    x = rng.standard_normal(shape).astype(np.float32)
    g = opzoo.Graph(ei, nodes)
    out = opzoo.aggregate(g, x, reduce, edge_weight=w)
    assert out.shape == x.shape and out.dtype == np.float32
    assert_close(out, ref.aggregate(ei, nodes, x, reduce, w), 1e-5)
    go = rng.standard_normal(shape).astype(np.float32)
    gx, gw = opzoo.aggregate_backward(g, go, x, reduce, edge_weight=w)
    want_gx, want_gw = ref.aggregate_backward(ei, nodes, go, x, reduce, w)
    assert_close(gx, want_gx, 1e-5)
    if w is None:
        assert gw is None
    else:
        assert gw.shape == w.shape
        assert_close(gw, want_gw, 1e-5)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=GRAPHS, heads=st.lists(st.integers(1, 4), min_size=0, max_size=1), f=st.integers(1, 40))
def test_sddmm_and_softmax_match_reference(simd_level, rng, graph, heads, f):
    nodes, edges, skew = graph
    edges = edges if nodes else 0
    ei = random_graph(rng, nodes, edges, skew)
    g = opzoo.Graph(ei, nodes)
    a, b = (rng.standard_normal((nodes, *heads, f)).astype(np.float32) for _ in range(2))
    out = opzoo.sddmm(g, a, b)
    assert out.shape == (edges, *heads)
    assert_close(out, ref.sddmm(ei, a, b), 1e-5)
    go = rng.standard_normal(out.shape).astype(np.float32)
    ga, gb = opzoo.sddmm_backward(g, go, a, b)
    want_ga, want_gb = ref.sddmm_backward(ei, nodes, go, a, b)
    assert_close(ga, want_ga, 1e-5)
    assert_close(gb, want_gb, 1e-5)
    scores = (rng.standard_normal((edges, *heads)) * 3).astype(np.float32)
    y = opzoo.edge_softmax(g, scores)
    assert_close(y, ref.edge_softmax(ei, nodes, scores), 1e-5)
    assert_close(opzoo.edge_softmax_backward(g, go, y), ref.edge_softmax_backward(ei, nodes, go, y), 1e-5)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64, np.uint8, np.int16])
def test_csr_is_a_stable_sort_by_target(rng, index_dtype):
    ei = random_graph(rng, 50, 3000, skew=True, dtype=index_dtype)
    g = opzoo.Graph(ei)
    rowptr, col, edge = g.csr
    order = np.argsort(ei[1], kind="stable")
    np.testing.assert_array_equal(edge, order)
    np.testing.assert_array_equal(col, ei[0][order])
    np.testing.assert_array_equal(rowptr, np.concatenate([[0], np.cumsum(np.bincount(ei[1], minlength=g.num_nodes))]))
    _, col_s, edge_s = g.csr_by_source
    order = np.argsort(ei[0], kind="stable")
    np.testing.assert_array_equal(edge_s, order)
    np.testing.assert_array_equal(col_s, ei[1][order])
    assert g.num_nodes == int(ei.max()) + 1 and g.num_edges == 3000


def test_large_graph_builds_in_parallel_and_matches_sort(rng):
    ei = random_graph(rng, 20000, 300000, skew=True)
    _, col, edge = opzoo.Graph(ei).csr
    order = np.argsort(ei[1], kind="stable")
    np.testing.assert_array_equal(edge, order)
    np.testing.assert_array_equal(col, ei[0][order])


def test_special_graphs(rng):
    # one node with a self-loop, duplicates; isolated nodes give 0 for every reduce
    ei = np.array([[0, 0, 2, 2], [0, 0, 1, 1]])
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for reduce in ref.REDUCES:
        out = opzoo.aggregate(ei, x, reduce)
        assert_close(out, ref.aggregate(ei, 4, x, reduce), 1e-6)
        np.testing.assert_array_equal(out[2:], 0)
    empty = opzoo.Graph(np.zeros((2, 0), np.int64), 5)
    np.testing.assert_array_equal(opzoo.aggregate(empty, x[:1].repeat(5, 0), "max"), 0)
    assert opzoo.Graph([[], []]).num_nodes == 0
    assert opzoo.aggregate(opzoo.Graph([[], []]), np.zeros((0, 7), np.float32)).shape == (0, 7)
    assert opzoo.sddmm(opzoo.Graph([[], []], 3), x[:3], x[:3]).shape == (0,)


def test_ties_go_to_the_first_edge_and_nan_propagates():
    ei = np.array([[0, 1, 2, 3], [4, 4, 4, 4]])
    x = np.array([[1.0, 2.0], [3.0, 2.0], [3.0, np.nan], [0.0, np.nan], [0.0, 0.0]], np.float32)
    out = opzoo.aggregate(ei, x, "max")
    assert out[4, 0] == 3.0 and np.isnan(out[4, 1])
    gx, _ = opzoo.aggregate_backward(ei, np.ones_like(x), x, "max")
    np.testing.assert_array_equal(gx[:, 0], [0, 1, 0, 0, 0])  # the tie between edges 1 and 2: edge 1
    np.testing.assert_array_equal(gx[:, 1], [0, 0, 1, 0, 0])  # the first NaN
    gx, _ = opzoo.aggregate_backward(ei, np.ones_like(x), x, "min")
    np.testing.assert_array_equal(gx[:, 0], [0, 0, 0, 1, 0])


@pytest.mark.parametrize("features", [1, 15, 16, 17, 64, 100])
def test_float64_and_odd_feature_counts(simd_level, rng, features):
    ei = random_graph(rng, 30, 400, skew=True)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((30, features)).astype(dtype)
        w = rng.standard_normal(400).astype(dtype)
        for reduce in ref.REDUCES:
            out = opzoo.aggregate(ei, x, reduce, w)
            assert out.dtype == dtype
            assert_close(out, ref.aggregate(ei, 30, x, reduce, w), 1e-5 if dtype == np.float32 else 1e-12)


def test_torch_tensors_in_torch_out(rng):
    torch = pytest.importorskip("torch", reason="the torch arrays test needs PyTorch")
    ei = torch.from_numpy(random_graph(rng, 20, 100))
    x = torch.randn(20, 8)
    out = opzoo.aggregate(ei, x, "mean")
    assert isinstance(out, torch.Tensor)
    assert_close(out.numpy(), ref.aggregate(ei.numpy(), 20, x.numpy(), "mean"), 1e-5)


def test_bit_identical_across_runs_and_threads(rng):
    ei = random_graph(rng, 3000, 60000, skew=True)
    g = opzoo.Graph(ei)
    x = rng.standard_normal((3000, 33)).astype(np.float32)
    w = rng.standard_normal(60000).astype(np.float32)
    before = opzoo.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3, 1):
            opzoo.set_num_threads(threads)
            results.append([opzoo.aggregate(g, x, r, w) for r in ref.REDUCES]
                           + list(opzoo.aggregate_backward(g, x, x, "sum", w))
                           + [opzoo.sddmm(g, x, x), opzoo.edge_softmax(g, w)])
    finally:
        opzoo.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_matches_pyg_scatter_and_softmax(rng):
    torch = pytest.importorskip("torch", reason="the PyG comparison needs PyTorch")
    pyg = pytest.importorskip("torch_geometric.utils", reason="the PyG comparison needs torch-geometric")
    ei = random_graph(rng, 200, 3000, skew=True)
    index = torch.from_numpy(ei[1])
    x = rng.standard_normal((200, 16)).astype(np.float32)
    w = rng.standard_normal(3000).astype(np.float32)
    go = rng.standard_normal((200, 16)).astype(np.float32)
    g = opzoo.Graph(ei)
    for reduce in ref.REDUCES:
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        want = pyg.scatter(xt[torch.from_numpy(ei[0])] * wt[:, None], index, 0, dim_size=200, reduce=reduce)
        want.backward(torch.from_numpy(go))
        assert_close(opzoo.aggregate(g, x, reduce, w), want.detach().numpy(), 1e-5)
        gx, gw = opzoo.aggregate_backward(g, go, x, reduce, w)
        assert_close(gx, xt.grad.numpy(), 1e-5)  # random floats: no ties, where torch splits the gradient
        assert_close(gw, wt.grad.numpy(), 1e-5)
    scores = rng.standard_normal((3000, 4)).astype(np.float32)
    st_ = torch.tensor(scores, requires_grad=True)
    want = pyg.softmax(st_, index, num_nodes=200)
    gy = rng.standard_normal((3000, 4)).astype(np.float32)
    want.backward(torch.from_numpy(gy))
    y = opzoo.edge_softmax(g, scores)
    assert_close(y, want.detach().numpy(), 1e-6)
    assert_close(opzoo.edge_softmax_backward(g, gy, y), st_.grad.numpy(), 1e-6)


BAD_GRAPHS = [
    (np.array([[0, 1], [1, 5]]), 3, ValueError, r"edge_index: expected node indices in \[0, 3\), got 5 at edge_index\[1, 1\]"),
    (np.array([[0, -1], [1, 2]]), 3, ValueError, r"got -1 at edge_index\[0, 1\]"),
    (np.array([0, 1, 2]), None, ValueError, r"edge_index: expected shape \(2, edges\)"),
    (np.zeros((3, 4), np.int64), None, ValueError, r"edge_index: expected shape \(2, edges\)"),
    (np.array([[0.0, 1.0], [1.0, 0.0]]), None, TypeError, r"edge_index: expected an integer dtype .*float64"),
    (np.array([[0, 1], [1, 0]], np.uint64), None, TypeError, r"integer dtype .*uint64"),
    (np.array([[True, False], [False, True]]), None, TypeError, r"integer dtype .*bool"),
    (np.array([[0, 1], [1, 0]]), -1, ValueError, r"num_nodes: expected a count"),
    (np.array([[0, 1], [1, 0]]), 2**70, ValueError, r"num_nodes: expected a count"),
    (np.array([[0, 1], [1, 0]]), 2.0, TypeError, r"num_nodes: expected an int"),
    ("edges", None, TypeError, r"edge_index: expected an array"),
]


@pytest.mark.parametrize("edge_index, num_nodes, error, match", BAD_GRAPHS)
def test_bad_graphs(edge_index, num_nodes, error, match):
    with pytest.raises(error, match=match):
        opzoo.Graph(edge_index, num_nodes)


def test_bad_arrays(rng):
    g = opzoo.Graph(random_graph(rng, 10, 30))
    x = rng.standard_normal((10, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"x: expected shape \(10, \.\.\.\) \(a row per node\), got \(9, 4\)"):
        opzoo.aggregate(g, x[:9])
    with pytest.raises(TypeError, match="x: expected dtype float32 or float64, got int64"):
        opzoo.aggregate(g, x.astype(np.int64))
    with pytest.raises(TypeError, match="edge_weight: expected dtype float32"):
        opzoo.aggregate(g, x, "sum", np.ones(30))
    with pytest.raises(ValueError, match=r"edge_weight: expected shape \(30,\) or \(30, heads\)"):
        opzoo.aggregate(g, x, "sum", np.ones(29, np.float32))
    with pytest.raises(ValueError, match=r"edge_weight: expected shape .* with x of shape \(nodes, heads"):
        opzoo.aggregate(g, x, "sum", np.ones((30, 3), np.float32))
    with pytest.raises(ValueError, match="reduce: expected one of"):
        opzoo.aggregate(g, x, "prod")
    with pytest.raises(TypeError, match="reduce: expected one of"):
        opzoo.aggregate(g, x, None)
    with pytest.raises(ValueError, match=r"grad_out: expected shape \(10, 4\)"):
        opzoo.aggregate_backward(g, x[:, :3], x)
    with pytest.raises(ValueError, match=r"b: expected shape \(10, 4\)"):
        opzoo.sddmm(g, x, x[:, :2])
    with pytest.raises(ValueError, match=r"scores: expected shape \(30, \.\.\.\)"):
        opzoo.edge_softmax(g, np.ones(29, np.float32))


def test_kernels_refuse_inconsistent_csr(rng):
    """The bindings read only what they checked, whatever arrays they are handed."""
    g = opzoo.Graph(random_graph(rng, 10, 30))
    rowptr, col, edge = (a.copy() for a in g.csr)
    x = rng.standard_normal((10, 4)).astype(np.float32)
    out = np.empty_like(x)
    for bad in ("col", "edge", "rowptr_drop", "rowptr_end", "rowptr_negative"):
        r, c, e = rowptr.copy(), col.copy(), edge.copy()
        if bad == "col":
            c[3] = 10**12
        elif bad == "edge":
            e[5] = -3
        elif bad == "rowptr_drop":
            r[4] = r[5] + 1
        elif bad == "rowptr_end":
            r[-1] = 29
        else:
            r[2] = -(2**62)
        with pytest.raises(ValueError, match="graph: the CSR arrays are inconsistent"):
            _cpu.graph_aggregate(r, c, e, x, np.ones(30, np.float32), None, out, None, "sum")
        if bad != "edge":  # unweighted, the kernel reads no edge index
            with pytest.raises(ValueError, match="graph: the CSR arrays are inconsistent"):
                _cpu.graph_aggregate(r, c, e, x, None, None, out, None, "sum")
        with pytest.raises(ValueError, match="graph: the CSR arrays are inconsistent"):
            _cpu.graph_edge_softmax(r, c, e, np.ones(30, np.float32), np.empty(30, np.float32))
    with pytest.raises(TypeError, match="rowptr: expected dtype int64, got int32"):
        _cpu.graph_aggregate(rowptr.astype(np.int32), col, edge, x, None, None, out, None, "sum")

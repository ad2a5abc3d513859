"""The graph ops' test-kit entries: aggregate (sum, mean, max, min, with and without
edge weights, per-head weights), SDDMM and edge softmax, forward and backward, on random
graphs with self-loops, duplicates and isolated nodes; the NumPy reference; PyTorch
Geometric's scatter and softmax (plain torch indexing for SDDMM, which PyG has no
function for) as the peer, autograd for the backward; and what a user can get wrong.
The graph is a parameter (its edge_index), so the suite's array tests change the
features, weights and scores."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo.reference import graph as ref

from . import BadInput, KitEntry, changed, huge_ints, param
from .torch_arrays import as_tensor, leaf, torch_op_table, torch_or_skip


def _edge_index(rng, nodes):
    """At least one edge (zero-size calls have their own table), a self-loop and a duplicate."""
    edges = int(rng.integers(1, 4 * nodes + 2))
    ei = rng.integers(0, nodes, (2, edges))
    ei[1, 0] = ei[0, 0]
    ei[:, -1] = ei[:, 0]
    return ei


def _features(rng, nodes, heads=None):
    shape = (nodes, *((heads,) if heads else ()), *(int(rng.integers(1, 20)) for _ in range(int(rng.integers(1, 3)))))
    return rng.standard_normal(shape).astype(np.float32)


def _aggregate_call(rng):
    nodes = int(rng.integers(1, 30))
    ei = _edge_index(rng, nodes)
    kind = int(rng.integers(3))  # no weights, (E,), (E, heads)
    heads = 3 if kind == 2 else None
    x = _features(rng, nodes, heads)
    w = None if kind == 0 else rng.standard_normal((ei.shape[1], *((heads,) if heads else ()))).astype(np.float32)
    return {"x": x, "edge_weight": w}, {"graph": ei, "reduce": ref.REDUCES[int(rng.integers(4))]}


def _aggregate_backward_call(rng):
    arrays, params = _aggregate_call(rng)
    return {"grad_out": rng.standard_normal(arrays["x"].shape).astype(np.float32), **arrays}, params


def _dot_call(rng):
    nodes = int(rng.integers(1, 30))
    heads = (int(rng.integers(1, 4)),) if rng.random() < 0.5 else ()
    f = int(rng.integers(1, 40))
    a, b = (rng.standard_normal((nodes, *heads, f)).astype(np.float32) for _ in range(2))
    return {"a": a, "b": b}, {"graph": _edge_index(rng, nodes)}


def _dot_backward_call(rng):
    arrays, params = _dot_call(rng)
    E = params["graph"].shape[1]
    return {"grad_out": rng.standard_normal((E, *arrays["a"].shape[1:-1])).astype(np.float32), **arrays}, params


def _softmax_call(rng):
    nodes = int(rng.integers(1, 30))
    ei = _edge_index(rng, nodes)
    heads = (int(rng.integers(1, 4)),) if rng.random() < 0.5 else ()
    return ({"scores": (rng.standard_normal((ei.shape[1], *heads)) * 3).astype(np.float32)},
            {"graph": ei, "num_nodes": nodes})


def _softmax_output(scores, params):
    return ref.edge_softmax(params["graph"], params["num_nodes"], scores).astype(scores.dtype)


def _softmax_backward_call(rng):
    arrays, params = _softmax_call(rng)
    out = _softmax_output(arrays["scores"], params)
    return {"grad_out": rng.standard_normal(out.shape).astype(np.float32), "softmax_out": out}, params


def _op_aggregate_backward(grad_out, x, edge_weight=None, graph=None, reduce="sum"):
    gx, gw = opzoo.aggregate_backward(graph, grad_out, x, reduce, edge_weight)
    return (gx,) if gw is None else (gx, gw)


def _ref_aggregate(x, edge_weight=None, graph=None, reduce="sum"):
    return ref.aggregate(graph, len(x), x, reduce, edge_weight)


def _ref_aggregate_backward(grad_out, x, edge_weight=None, graph=None, reduce="sum"):
    gx, gw = ref.aggregate_backward(graph, len(x), grad_out, x, reduce, edge_weight)
    return (gx,) if gw is None else (gx, gw)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _pyg():
    try:
        import torch_geometric.utils as pyg
    except ImportError:
        return None
    return pyg


def _messages(torch, x, edge_weight, source):
    m = x[source]
    if edge_weight is None:
        return m
    return m * edge_weight.reshape(edge_weight.shape + (1,) * (m.dim() - edge_weight.dim()))


def _peer_aggregate(backward):
    torch, pyg = _torch(), _pyg()
    if pyg is None:
        return None

    def peer(x, edge_weight=None, graph=None, reduce="sum", grad_out=None):
        ei = torch.from_numpy(np.asarray(graph, np.int64))
        xt = torch.tensor(x, requires_grad=backward)
        wt = None if edge_weight is None else torch.tensor(edge_weight, requires_grad=backward)
        out = pyg.scatter(_messages(torch, xt, wt, ei[0]), ei[1], 0, dim_size=len(x), reduce=reduce)
        if not backward:
            return out.detach().numpy()
        out.backward(torch.from_numpy(grad_out))
        return (xt.grad.numpy(),) if wt is None else (xt.grad.numpy(), wt.grad.numpy())

    if backward:
        return lambda grad_out, x, edge_weight=None, graph=None, reduce="sum": peer(
            x, edge_weight, graph, reduce, grad_out)
    return peer


def _peer_sddmm(backward):
    torch = _torch()
    if torch is None:
        return None

    def peer(a, b, graph=None, grad_out=None):
        ei = torch.from_numpy(np.asarray(graph, np.int64))
        at, bt = torch.tensor(a, requires_grad=backward), torch.tensor(b, requires_grad=backward)
        out = (at[ei[0]] * bt[ei[1]]).sum(-1)
        if not backward:
            return out.detach().numpy()
        out.backward(torch.from_numpy(grad_out))
        return at.grad.numpy(), bt.grad.numpy()

    if backward:
        return lambda grad_out, a, b, graph=None: peer(a, b, graph, grad_out)
    return peer


def _peer_softmax(backward):
    torch, pyg = _torch(), _pyg()
    if pyg is None:
        return None

    def peer(scores, graph=None, num_nodes=None, grad_out=None):
        st = torch.tensor(scores, requires_grad=backward)
        out = pyg.softmax(st, torch.from_numpy(np.asarray(graph, np.int64)[1]), num_nodes=num_nodes)
        if not backward:
            return out.detach().numpy()
        out.backward(torch.from_numpy(grad_out))
        return st.grad.numpy()

    if backward:  # softmax's scores, up to a shift per target node that it ignores: log(out)
        return lambda grad_out, softmax_out, graph=None, num_nodes=None: peer(np.log(softmax_out), graph, num_nodes,
                                                                             grad_out)
    return peer


def _peer_extremes_place_specials(call, name):
    # torch's amax/amin backward sends the gradient to every element equal to the
    # result: none where the result is NaN, all where infinities tie.
    return call[1]["reduce"] in ("sum", "mean")


_EI = np.array([[0, 1, 2, 2, 3, 0], [1, 2, 1, 0, 0, 0]])


def _valid_aggregate(rng):
    return ({"x": rng.standard_normal((4, 5)).astype(np.float32), "edge_weight": rng.standard_normal(6).astype(np.float32)},
            {"graph": _EI, "reduce": "max"})


def _valid_aggregate_backward(rng):
    arrays, params = _valid_aggregate(rng)
    return {"grad_out": rng.standard_normal((4, 5)).astype(np.float32), **arrays}, params


def _valid_dot(rng):
    return {"a": rng.standard_normal((4, 2, 5)).astype(np.float32), "b": rng.standard_normal((4, 2, 5)).astype(np.float32)}, {
        "graph": _EI}


def _valid_dot_backward(rng):
    arrays, params = _valid_dot(rng)
    return {"grad_out": rng.standard_normal((6, 2)).astype(np.float32), **arrays}, params


def _valid_softmax(rng):
    return {"scores": rng.standard_normal((6, 3)).astype(np.float32)}, {"graph": _EI, "num_nodes": 4}


def _valid_softmax_backward(rng):
    arrays, params = _valid_softmax(rng)
    return {"grad_out": rng.standard_normal((6, 3)).astype(np.float32),
            "softmax_out": _softmax_output(arrays["scores"], params)}, params


_BAD_GRAPH = [
    BadInput("edge_index out of range", param(graph=np.array([[0, 1], [1, 9]])), ValueError,
             r"edge_index: expected node indices in \[0, 4\), got 9 at edge_index\[1, 1\]"),
    BadInput("edge_index negative", param(graph=np.array([[0, -1], [1, 2]])), ValueError,
             r"got -1 at edge_index\[0, 1\]"),
    BadInput("edge_index (3, E)", param(graph=np.zeros((3, 2), np.int64)), ValueError,
             r"edge_index: expected shape \(2, edges\)"),
    BadInput("edge_index float", param(graph=_EI.astype(np.float32)), TypeError,
             r"edge_index: expected an integer dtype"),
    BadInput("edge_index int32 (valid)", param(graph=_EI.astype(np.int32)), None),
]

_BAD_AGGREGATE = _BAD_GRAPH + [
    BadInput("x rows != num_nodes", changed("x", lambda a: a["x"][:3]), ValueError,
             r"edge_index: expected node indices in \[0, 3\)"),
    BadInput("edge_weight (5,)", changed("edge_weight", lambda a: a["edge_weight"][:5]), ValueError,
             r"edge_weight: expected shape \(6,\) or \(6, heads\)"),
    BadInput("edge_weight float64", changed("edge_weight", lambda a: a["edge_weight"].astype(np.float64)), TypeError,
             r"edge_weight: expected dtype float32"),
    BadInput("reduce 'prod'", param(reduce="prod"), ValueError, r"reduce: expected one of"),
    BadInput("reduce 1", param(reduce=1), TypeError, r"reduce: expected one of"),
    BadInput("x a list", changed("x", lambda a: a["x"].tolist()), TypeError, r"x: expected an array"),
    BadInput("no edge_weight (valid)", changed("edge_weight", lambda a: None), None),
]

_BAD_AGGREGATE_BACKWARD = _BAD_AGGREGATE + [
    BadInput("grad_out shape", changed("grad_out", lambda a: a["grad_out"][:, :4]), ValueError,
             r"grad_out: expected shape \(4, 5\)"),
]

_BAD_DOT = _BAD_GRAPH + [
    BadInput("b shape", changed("b", lambda a: a["b"][:, :1]), ValueError, r"b: expected shape \(4, 2, 5\)"),
    BadInput("a 1-d", changed("a", lambda a: a["a"][:, 0, 0]), ValueError, r"b: expected shape \(4,\)"),
]

_BAD_DOT_BACKWARD = _BAD_DOT + [
    BadInput("grad_out shape", changed("grad_out", lambda a: a["grad_out"][:, :1]), ValueError,
             r"grad_out: expected shape \(6, 2\)"),
]

_BAD_SOFTMAX = _BAD_GRAPH[:4] + [
    BadInput("scores (5, 3)", changed("scores", lambda a: a["scores"][:5]), ValueError, r"scores: expected shape \(6, \.\.\.\)"),
    BadInput("num_nodes too small", param(num_nodes=2), ValueError, r"edge_index: expected node indices in \[0, 2\)"),
    BadInput("num_nodes -1", param(num_nodes=-1), ValueError, r"num_nodes: expected a count"),
    BadInput("num_nodes 2.0", param(num_nodes=2.0), TypeError, r"num_nodes: expected an int"),
    BadInput("num_nodes None (valid)", param(num_nodes=None), None),
]

_BAD_SOFTMAX_BACKWARD = [b for b in _BAD_SOFTMAX if not b.label.startswith("scores")] + [
    BadInput("grad_out shape", changed("grad_out", lambda a: a["grad_out"][:, :2]), ValueError,
             r"softmax_out: expected shape \(6, 2\)"),
    BadInput("softmax_out float64", changed("softmax_out", lambda a: a["softmax_out"].astype(np.float64)), TypeError,
             r"softmax_out: expected dtype float32"),
]


def _zero_size_aggregate(rng):
    calls = []
    for nodes, edges, feat in [(0, 0, (3,)), (5, 0, (2,)), (4, 7, (0,)), (4, 7, (2, 0))]:
        ei = rng.integers(0, max(nodes, 1), (2, edges))
        for reduce in ref.REDUCES:
            calls.append(({"x": rng.standard_normal((nodes, *feat)).astype(np.float32), "edge_weight": None},
                          {"graph": ei, "reduce": reduce}))
    return calls


def _zero_size_aggregate_backward(rng):
    return [({"grad_out": rng.standard_normal(a["x"].shape).astype(np.float32), **a}, p)
            for a, p in _zero_size_aggregate(rng)]


def _zero_size_dot(rng):
    calls = []
    for nodes, edges, shape in [(0, 0, (3,)), (5, 0, (2,)), (4, 7, (0,)), (4, 7, (0, 3))]:
        ei = rng.integers(0, max(nodes, 1), (2, edges))
        a, b = (rng.standard_normal((nodes, *shape)).astype(np.float32) for _ in range(2))
        calls.append(({"a": a, "b": b}, {"graph": ei}))
    return calls


def _zero_size_dot_backward(rng):
    return [({"grad_out": rng.standard_normal((p["graph"].shape[1], *a["a"].shape[1:-1])).astype(np.float32), **a},
             p) for a, p in _zero_size_dot(rng)]


def _zero_size_softmax(rng):
    return [({"scores": rng.standard_normal(shape).astype(np.float32)}, {"graph": ei, "num_nodes": n})
            for n, ei, shape in [(0, np.zeros((2, 0), np.int64), (0,)), (3, np.zeros((2, 0), np.int64), (0, 2)),
                                 (3, np.array([[0, 1], [1, 1]]), (2, 0))]]


def _zero_size_softmax_backward(rng):
    return [({"grad_out": rng.standard_normal(a["scores"].shape).astype(np.float32),
              "softmax_out": _softmax_output(a["scores"], p)}, p) for a, p in _zero_size_softmax(rng)]


def _softmax_autograd_call(rng):
    arrays, params = _softmax_call(rng)
    return {"grad_out": rng.standard_normal(arrays["scores"].shape).astype(np.float32), **arrays}, params


def _valid_softmax_autograd(rng):
    arrays, params = _valid_softmax(rng)
    return {"grad_out": rng.standard_normal((6, 3)).astype(np.float32), **arrays}, params


def _zero_size_softmax_autograd(rng):
    return [({"grad_out": rng.standard_normal(a["scores"].shape).astype(np.float32), **a}, p)
            for a, p in _zero_size_softmax(rng)]


def _peer_softmax_of_scores():
    """PyG's softmax autograd as a function of (grad_out, scores)."""
    torch, pyg = _torch(), _pyg()
    if pyg is None:
        return None

    def peer(grad_out, scores, graph=None, num_nodes=None):
        st = torch.tensor(scores, requires_grad=True)
        out = pyg.softmax(st, torch.from_numpy(np.asarray(graph, np.int64)[1]), num_nodes=num_nodes)
        out.backward(torch.from_numpy(grad_out))
        return st.grad.numpy()
    return peer


def _int_calls():
    """A small graph whose num_nodes, and one of whose indices, come from kit.huge_ints."""
    from hypothesis import strategies as st

    @st.composite
    def calls(draw):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        arrays, params = _valid_softmax(rng)
        ei = params["graph"].copy()
        index = draw(huge_ints())
        if draw(st.booleans()) and -(2**63) <= index < 2**63:
            ei[draw(st.integers(0, 1)), draw(st.integers(0, 5))] = index
        return arrays, {"graph": ei, "num_nodes": draw(huge_ints())}

    return calls()


def _int_outcome(call):
    _, params = call
    n, ei = params["num_nodes"], params["graph"]
    if not 0 <= n <= 2**62 or ei.min() < 0 or ei.max() >= n:
        return "error"
    return "ok" if n <= 4096 else "large"


def _autograd(torch, y, grad_out, leaves):
    """The gradients autograd gives `leaves` (those not None) from y.backward(grad_out)."""
    g = as_tensor(torch, grad_out)
    if tuple(g.shape) != tuple(y.shape):  # autograd refuses it (RuntimeError) before any op sees it
        raise ValueError(f"grad_out: expected shape {tuple(y.shape)}, got {tuple(g.shape)}")
    y.backward(g)
    return tuple(t.grad.numpy() for t in leaves if t is not None)


def _torch_aggregate(x, edge_weight=None, graph=None, reduce="sum"):
    torch = torch_or_skip()
    import opzoo.torch

    return opzoo.torch.aggregate(graph, as_tensor(torch, x), reduce, as_tensor(torch, edge_weight)).detach().numpy()


def _torch_aggregate_autograd(grad_out, x, edge_weight=None, graph=None, reduce="sum"):
    torch = torch_or_skip()
    import opzoo.torch

    xt, wt = (leaf(as_tensor(torch, a)) for a in (x, edge_weight))
    return _autograd(torch, opzoo.torch.aggregate(graph, xt, reduce, wt), grad_out, (xt, wt))


def _torch_sddmm(a, b, graph=None):
    torch = torch_or_skip()
    import opzoo.torch

    return opzoo.torch.sddmm(graph, as_tensor(torch, a), as_tensor(torch, b)).detach().numpy()


def _torch_sddmm_autograd(grad_out, a, b, graph=None):
    torch = torch_or_skip()
    import opzoo.torch

    at, bt = (leaf(as_tensor(torch, t)) for t in (a, b))
    return _autograd(torch, opzoo.torch.sddmm(graph, at, bt), grad_out, (at, bt))


def _torch_softmax(scores, graph=None, num_nodes=None):
    torch = torch_or_skip()
    import opzoo.torch

    return opzoo.torch.edge_softmax(graph, as_tensor(torch, scores), num_nodes).detach().numpy()


def _torch_softmax_autograd(grad_out, scores, graph=None, num_nodes=None):
    torch = torch_or_skip()
    import opzoo.torch

    st = leaf(as_tensor(torch, scores))
    return _autograd(torch, opzoo.torch.edge_softmax(graph, st, num_nodes), grad_out, (st,))[0]


ENTRIES = [
    KitEntry("aggregate", opzoo.aggregate, _aggregate_call, _ref_aggregate, lambda: _peer_aggregate(False),
             "torch_geometric", _valid_aggregate, _BAD_AGGREGATE, dtypes=(np.float32, np.float64),
             optional=("edge_weight",), zero_size_calls=_zero_size_aggregate, special_arrays=("x", "edge_weight")),
    KitEntry("aggregate_backward", _op_aggregate_backward, _aggregate_backward_call, _ref_aggregate_backward,
             lambda: _peer_aggregate(True), "torch_geometric", _valid_aggregate_backward, _BAD_AGGREGATE_BACKWARD,
             dtypes=(np.float32, np.float64), optional=("edge_weight",),
             zero_size_calls=_zero_size_aggregate_backward, special_arrays=("grad_out", "x", "edge_weight"),
             peer_places_specials=_peer_extremes_place_specials),
    KitEntry("sddmm", opzoo.sddmm, _dot_call, lambda a, b, graph=None: ref.sddmm(graph, a, b),
             lambda: _peer_sddmm(False),
             "torch", _valid_dot, _BAD_DOT, dtypes=(np.float32, np.float64), zero_size_calls=_zero_size_dot,
             special_arrays=("a", "b")),
    KitEntry("sddmm_backward", opzoo.sddmm_backward, _dot_backward_call,
             lambda grad_out, a, b, graph=None: ref.sddmm_backward(graph, len(a), grad_out, a, b),
             lambda: _peer_sddmm(True), "torch", _valid_dot_backward, _BAD_DOT_BACKWARD,
             dtypes=(np.float32, np.float64), zero_size_calls=_zero_size_dot_backward,
             special_arrays=("grad_out", "a", "b")),
    KitEntry("edge_softmax", opzoo.edge_softmax, _softmax_call,
             lambda scores, graph=None, num_nodes=None: ref.edge_softmax(graph, num_nodes, scores),
             lambda: _peer_softmax(False), "torch_geometric", _valid_softmax, _BAD_SOFTMAX,
             dtypes=(np.float32, np.float64), zero_size_calls=_zero_size_softmax, int_calls=_int_calls,
             int_outcome=_int_outcome),
    KitEntry("edge_softmax_backward", opzoo.edge_softmax_backward, _softmax_backward_call,
             lambda grad_out, softmax_out, graph=None, num_nodes=None: ref.edge_softmax_backward(
                 graph, num_nodes, grad_out, softmax_out),
             lambda: _peer_softmax(True), "torch_geometric", _valid_softmax_backward, _BAD_SOFTMAX_BACKWARD,
             dtypes=(np.float32, np.float64), zero_size_calls=_zero_size_softmax_backward,
             special_arrays=("grad_out", "softmax_out"), peer_places_specials=lambda call, name: name == "grad_out"),
    KitEntry("torch.aggregate", _torch_aggregate, _aggregate_call, _ref_aggregate, lambda: _peer_aggregate(False),
             "torch_geometric", _valid_aggregate, torch_op_table(_BAD_AGGREGATE), dtypes=(np.float32, np.float64),
             optional=("edge_weight",), zero_size_calls=_zero_size_aggregate, special_arrays=("x", "edge_weight"),
             array_library="torch"),
    KitEntry("torch.aggregate autograd", _torch_aggregate_autograd, _aggregate_backward_call, _ref_aggregate_backward,
             lambda: _peer_aggregate(True), "torch_geometric", _valid_aggregate_backward,
             torch_op_table(_BAD_AGGREGATE_BACKWARD), dtypes=(np.float32, np.float64), optional=("edge_weight",),
             zero_size_calls=_zero_size_aggregate_backward, special_arrays=("grad_out", "x", "edge_weight"),
             peer_places_specials=_peer_extremes_place_specials, array_library="torch",
             argument_arrays=("x", "edge_weight")),
    KitEntry("torch.sddmm", _torch_sddmm, _dot_call, lambda a, b, graph=None: ref.sddmm(graph, a, b),
             lambda: _peer_sddmm(False), "torch", _valid_dot, torch_op_table(_BAD_DOT, refused=(("a", "a list"),)),
             dtypes=(np.float32, np.float64), zero_size_calls=_zero_size_dot, special_arrays=("a", "b"),
             array_library="torch"),
    KitEntry("torch.sddmm autograd", _torch_sddmm_autograd, _dot_backward_call,
             lambda grad_out, a, b, graph=None: ref.sddmm_backward(graph, len(a), grad_out, a, b),
             lambda: _peer_sddmm(True), "torch", _valid_dot_backward,
             torch_op_table(_BAD_DOT_BACKWARD, refused=(("a", "a list"),)), dtypes=(np.float32, np.float64),
             zero_size_calls=_zero_size_dot_backward, special_arrays=("grad_out", "a", "b"), array_library="torch",
             argument_arrays=("a", "b")),
    KitEntry("torch.edge_softmax", _torch_softmax, _softmax_call,
             lambda scores, graph=None, num_nodes=None: ref.edge_softmax(graph, num_nodes, scores),
             lambda: _peer_softmax(False), "torch_geometric", _valid_softmax,
             torch_op_table(_BAD_SOFTMAX, refused=(("scores", "a list"),)), dtypes=(np.float32, np.float64),
             zero_size_calls=_zero_size_softmax, array_library="torch"),
    KitEntry("torch.edge_softmax autograd", _torch_softmax_autograd, _softmax_autograd_call,
             lambda grad_out, scores, graph=None, num_nodes=None: ref.edge_softmax_backward(
                 graph, num_nodes, grad_out, ref.edge_softmax(graph, num_nodes, scores)),
             lambda: _peer_softmax_of_scores(), "torch_geometric", _valid_softmax_autograd,
             torch_op_table(_BAD_SOFTMAX, refused=(("scores", "a list"),)), dtypes=(np.float32, np.float64),
             zero_size_calls=_zero_size_softmax_autograd, special_arrays=("grad_out", "scores"), array_library="torch",
             argument_arrays=("scores",)),
]

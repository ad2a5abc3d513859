"""Graph message passing over a CSR built once per graph: neighbour aggregation (sum,
mean, max, min) with optional edge weights, per-edge dot products (SDDMM) and the
softmax over the edges that share a target, each with its backward.

A :class:`Graph` takes PyTorch Geometric's ``edge_index`` (2, E): row 0 the source j,
row 1 the target i of each edge j -> i. It validates the indices and builds, once, the
CSR by target (and, on the first backward that needs it, by source). Each output row is
reduced by one thread in the caller's edge order, with no atomics, so results are the
same bits run to run and for any thread count, and messages w[e] * x[j] are never
materialised. Every edge-aligned array (weights, scores, SDDMM's output, their
gradients) is in the caller's edge order.

Ties in max and min: the gradient of each output element goes to one edge, the first in
edge order that attains the extreme (or the first NaN, which propagates). That is
torch_scatter's ``scatter_max`` on the CPU (a strict '>' update in index order), while
``torch.scatter_reduce(reduce="amax")``, which PyG's ``scatter(reduce="max")`` calls,
splits the gradient evenly among tied edges.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .. import _cpu
from .._device import DeviceBackend, type_name
from .._dispatch import _to_numpy, backend_for

__all__ = ["Graph", "aggregate", "aggregate_backward", "edge_softmax", "edge_softmax_backward", "sddmm",
           "sddmm_backward"]

REDUCES = tuple(_cpu.graph_reduces())
_MAX_NODES = 2**62


def _edge_index(edge_index) -> np.ndarray:
    """edge_index as a C-contiguous int32 or int64 NumPy array of shape (2, E)."""
    if isinstance(edge_index, (list, tuple)):
        ei = np.asarray(edge_index)
        if ei.size == 0:  # [[], []] reads as float64
            ei = ei.astype(np.int64)
    else:
        ei = _to_numpy(edge_index, "edge_index")[0]
    if ei.dtype.kind not in "iu" or ei.dtype == np.uint64:
        raise TypeError(f"edge_index: expected an integer dtype (int32 or int64), got {ei.dtype}")
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"edge_index: expected shape (2, edges) (sources, targets), got shape {ei.shape}")
    if ei.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        ei = ei.astype(np.int64)
    return np.ascontiguousarray(ei)


def _device_key(be, by_source: bool) -> tuple:
    return ("_device_csr", be.library, be.device, by_source)


class Graph:
    """A graph's edges, validated, with its CSR by target built once.

    Parameters
    ----------
    edge_index : array of int, shape (2, E)
        PyTorch Geometric's edge list: ``edge_index[0]`` the sources, ``edge_index[1]``
        the targets, int32 or int64 (other integer dtypes are widened to int64); a NumPy
        array, a CPU torch tensor or a nested list. Self-loops and duplicate edges are
        edges like any other.
    num_nodes : int, optional
        Default: one more than the largest index (0 without edges), as PyG's
        ``maybe_num_nodes``.

    Attributes
    ----------
    num_nodes, num_edges : int
    in_degree : ndarray of int64, shape (num_nodes,)
        The number of edges into each node.

    Raises
    ------
    TypeError
        A non-integer edge_index or num_nodes.
    ValueError
        An edge_index not of shape (2, E), an index negative or >= num_nodes, a negative
        num_nodes.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> g = opzoo.Graph(np.array([[0, 1, 2], [1, 2, 1]]))
    >>> g.num_nodes, g.in_degree.tolist()
    (3, [0, 2, 1])
    """

    def __init__(self, edge_index, num_nodes=None):
        ei = _edge_index(edge_index)
        if num_nodes is None:
            num_nodes = int(ei.max()) + 1 if ei.size else 0
            num_nodes = max(num_nodes, 0)  # a negative index fails below, named
        elif not isinstance(num_nodes, numbers.Integral) or isinstance(num_nodes, (bool, np.bool_)):
            raise TypeError(f"num_nodes: expected an int, got {type_name(num_nodes)}")
        num_nodes = int(num_nodes)
        if not 0 <= num_nodes <= _MAX_NODES:
            raise ValueError(f"num_nodes: expected a count in [0, 2**62], got {num_nodes}")
        self.edge_index = ei
        self.num_nodes = num_nodes
        self.num_edges = ei.shape[1]
        self.csr = _cpu.graph_csr(ei, num_nodes, False)
        self._csr_by_source = None

    @classmethod
    def from_csr(cls, csr: tuple, csr_by_source: tuple, device_backend=None) -> Graph:
        """The Graph of the CSRs of :attr:`csr` and :attr:`csr_by_source` (int64 arrays, as
        opzoo.torch passes a graph through its custom ops): NumPy arrays, or the arrays
        of `device_backend`'s device; the kernels check them as they read them, and an
        inconsistent pair raises ValueError there."""
        self = cls.__new__(cls)
        self.csr, self._csr_by_source = tuple(csr), tuple(csr_by_source)
        self.num_nodes, self.num_edges = len(self.csr[0]) - 1, len(self.csr[1])
        self.edge_index = None
        if device_backend is not None:
            for by_source, arrays in ((False, self.csr), (True, self._csr_by_source)):
                self.__dict__[_device_key(device_backend, by_source)] = arrays
        return self

    @property
    def csr_by_source(self) -> tuple:
        """(rowptr, col, edge) by source: each node's outgoing edges, built on first use."""
        if self._csr_by_source is None:
            self._csr_by_source = _cpu.graph_csr(self.edge_index, self.num_nodes, True)
        return self._csr_by_source

    def csr_for(self, be, by_source: bool = False) -> tuple:
        """The CSR as back end `be`'s kernels read it: the host arrays, or copies on be's
        device made once per library and device and kept."""
        host = self.csr_by_source if by_source else self.csr
        if not isinstance(be, DeviceBackend):
            return host
        key = _device_key(be, by_source)
        if key not in self.__dict__:
            self.__dict__[key] = tuple(be.from_host(a) for a in host)
        return self.__dict__[key]

    @property
    def in_degree(self) -> np.ndarray:
        return np.diff(self.csr[0])

    def __repr__(self) -> str:
        return f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges})"


@dataclass(frozen=True)
class SelfLoops:
    """A graph with one self-loop per node, made from another: its edges other than
    self-loops in their order, then the self-loops of nodes 0 .. N-1.

    Attributes
    ----------
    graph : Graph
    kept : ndarray of int64
        The original edge of each of graph's first edges.
    loop_source : ndarray of int64, shape (N,)
        The original self-loop whose weight each node's loop takes (the last one in edge
        order, as PyG's ``add_remaining_self_loops``), or -1 for the fill value.
    """

    graph: Graph
    kept: np.ndarray
    loop_source: np.ndarray


def _self_loops(graph: Graph, keep_weights: bool) -> SelfLoops:
    cache = graph.__dict__.setdefault("_self_loops", {})
    if keep_weights not in cache:
        if graph.edge_index is None:
            raise ValueError("graph: expected a Graph built from an edge_index")
        source, target = graph.edge_index.astype(np.int64, copy=False)
        loops = source == target
        kept = np.flatnonzero(~loops)
        loop_source = np.full(graph.num_nodes, -1, np.int64)
        if keep_weights:
            loop_source[source[loops]] = np.flatnonzero(loops)  # the last write of a node wins
        nodes = np.arange(graph.num_nodes, dtype=np.int64)
        edge_index = np.concatenate([np.stack([source[kept], target[kept]]), np.stack([nodes, nodes])], axis=1)
        cache[keep_weights] = SelfLoops(Graph(edge_index, graph.num_nodes), kept, loop_source)
    return cache[keep_weights]


def remaining_self_loops(graph: Graph) -> SelfLoops:
    """PyG's ``add_remaining_self_loops``: a node's existing self-loop keeps its weight
    (loop_source), the others take the fill value. Made once per Graph and kept on it."""
    return _self_loops(graph, True)


def replaced_self_loops(graph: Graph) -> Graph:
    """PyG's ``remove_self_loops`` then ``add_self_loops`` (GATConv's): made once per Graph."""
    return _self_loops(graph, False).graph


def as_graph(graph, num_nodes, rows_of: str | None = None) -> Graph:
    """`graph` itself, or the Graph of an edge_index over `num_nodes` nodes (the rows of
    the array named `rows_of`, which an index out of range then names)."""
    if isinstance(graph, Graph):
        return graph
    try:
        return Graph(graph, num_nodes)
    except ValueError as e:
        if rows_of is None or "edge_index: expected node indices" not in str(e):
            raise
        raise ValueError(f"{e} ({rows_of} has {num_nodes} rows, one per node)") from None


def _reduce(reduce) -> str:
    if not isinstance(reduce, str):
        raise TypeError(f"reduce: expected one of {REDUCES}, got {type_name(reduce)}")
    if reduce not in REDUCES:
        raise ValueError(f"reduce: expected one of {REDUCES}, got {reduce!r}")
    return reduce


def _rows(a, name: str) -> int:
    shape = tuple(a.shape)
    if not shape:
        raise ValueError(f"{name}: expected an array with a row per node, got shape ()")
    return shape[0]


def _same_shape(name: str, a, like_name: str, like) -> None:
    if tuple(a.shape) != tuple(like.shape):
        raise ValueError(f"{name}: expected shape {tuple(like.shape)} (the shape of {like_name}), got {tuple(a.shape)}")


def _run_aggregate(be, csr: tuple, x, weight, reduce: str, arg=None, col_rowptr=None):
    out = be.empty(tuple(x.shape), like=x)
    be.run("graph_aggregate", (*csr, x, weight, col_rowptr, out, arg), reduce)
    return out


def aggregate(graph, x, reduce="sum", edge_weight=None):
    """Reduce the weighted features of each node's in-neighbours.

    ``out[i] = reduce over the edges e = j -> i of edge_weight[e] * x[j]``, 0 for a node
    without incoming edges (as PyG's ``scatter``); max and min propagate NaN.

    Parameters
    ----------
    graph : Graph or array of int, shape (2, E)
        The graph, or its edge_index (a Graph over ``len(x)`` nodes is built for the call).
    x : array, shape (N, ...)
        Node features, float32 or float64 (NumPy or CPU torch tensors).
    reduce : {"sum", "mean", "max", "min"}
    edge_weight : array, shape (E,) or (E, H), optional
        A weight per edge, in edge_index's order, of x's dtype; (E, H) gives head h's
        weight to ``x[:, h]`` (x of shape (N, H, ...)).

    Returns
    -------
    out : array of x's shape and dtype

    Raises
    ------
    TypeError
        Another dtype, an edge_weight of another dtype, a reduce that is not a string.
    ValueError
        x without a row per node, an edge_weight of the wrong shape, an unknown reduce.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> g = opzoo.Graph(np.array([[0, 1, 2], [1, 2, 1]]))
    >>> x = np.array([[1.0], [2.0], [4.0]], dtype=np.float32)
    >>> opzoo.aggregate(g, x, "sum").ravel().tolist()
    [0.0, 5.0, 2.0]
    """
    reduce = _reduce(reduce)
    be, (x_, w_) = backend_for(("edge_weight",), x=x, edge_weight=edge_weight)
    g = as_graph(graph, _rows(x_, "x"), "x")
    xk = be.contiguous(x_, "x")
    return be.wrap(_run_aggregate(be, g.csr_for(be), xk, be.contiguous(w_, "edge_weight"), reduce))


def aggregate_backward(graph, grad_out, x, reduce="sum", edge_weight=None):
    """The gradients of :func:`aggregate` with respect to x and edge_weight.

    max and min route each output element's gradient to the edge :func:`aggregate`
    took it from: the first edge in edge order attaining the extreme (torch_scatter's
    choice; ``torch.scatter_reduce`` splits it among ties). The extremes are found again
    from x, so only the forward's inputs are needed.

    Parameters
    ----------
    graph, x, reduce, edge_weight
        As given to :func:`aggregate`.
    grad_out : array of x's shape and dtype
        The gradient of aggregate's output.

    Returns
    -------
    grad_x : array of x's shape and dtype
    grad_edge_weight : array of edge_weight's shape, or None without edge_weight

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> g = opzoo.Graph(np.array([[0, 1, 2], [1, 2, 1]]))
    >>> x = np.array([[1.0], [2.0], [4.0]], dtype=np.float32)
    >>> gx, _ = opzoo.aggregate_backward(g, np.ones_like(x), x, "max")
    >>> gx.ravel().tolist()
    [0.0, 1.0, 1.0]
    """
    reduce = _reduce(reduce)
    be, (g_, x_, w_) = backend_for(("edge_weight",), grad_out=grad_out, x=x, edge_weight=edge_weight)
    graph = as_graph(graph, _rows(x_, "x"), "x")
    _same_shape("grad_out", g_, "x", x_)
    gk, xk, wk = be.contiguous(g_, "grad_out"), be.contiguous(x_, "x"), be.contiguous(w_, "edge_weight")
    arg = None
    if reduce in ("max", "min"):
        arg = be.empty(tuple(xk.shape), like=xk, dtype="int64")
        _run_aggregate(be, graph.csr_for(be), xk, wk, reduce, arg)
        grad_x = be.empty(tuple(xk.shape), like=xk)
        be.run("graph_extreme_backward", (*graph.csr_for(be, True), gk, wk, arg, grad_x))
    else:  # the transpose, each term divided by its target's in-degree for mean
        col_rowptr = graph.csr_for(be)[0] if reduce == "mean" else None
        grad_x = _run_aggregate(be, graph.csr_for(be, True), gk, wk, "sum", col_rowptr=col_rowptr)
    if wk is None:
        return be.wrap(grad_x), None
    grad_w = be.empty(tuple(wk.shape), like=wk)
    be.run("graph_weight_backward", (*graph.csr_for(be), gk, xk, arg, grad_w), reduce)
    return be.wrap(grad_x), be.wrap(grad_w)


def sddmm(graph, a, b):
    """Per-edge dot products: ``out[e] = dot(a[j], b[i])`` over the last axis, e = j -> i.

    Parameters
    ----------
    graph : Graph or array of int, shape (2, E)
    a, b : arrays, shape (N, ..., F)
        Node features of one dtype (float32 or float64); a middle axis (N, H, F) gives a
        product per head.

    Returns
    -------
    out : array, shape (E, ...) (a.shape[1:-1] after E), in edge order

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> g = opzoo.Graph(np.array([[0, 1], [1, 0]]))
    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    >>> opzoo.sddmm(g, a, a).tolist()
    [11.0, 11.0]
    """
    be, (a_, b_) = backend_for(a=a, b=b)
    g = as_graph(graph, _rows(a_, "a"), "a")
    _same_shape("b", b_, "a", a_)
    ak, bk = be.contiguous(a_, "a"), be.contiguous(b_, "b")
    if len(ak.shape) < 2:
        raise ValueError(f"a: expected shape (nodes, ..., features), got {tuple(ak.shape)}")
    out = be.empty((g.num_edges, *ak.shape[1:-1]), like=ak)
    be.run("graph_sddmm", (*g.csr_for(be), ak, bk, out))
    return be.wrap(out)


def sddmm_backward(graph, grad_out, a, b):
    """(grad_a, grad_b) of :func:`sddmm`: ``grad_a[j] = sum over j -> i of g[e] b[i]``,
    ``grad_b[i] = sum over j -> i of g[e] a[j]``, as two aggregations (no atomics)."""
    be, (g_, a_, b_) = backend_for(grad_out=grad_out, a=a, b=b)
    graph = as_graph(graph, _rows(a_, "a"), "a")
    _same_shape("b", b_, "a", a_)
    if tuple(g_.shape) != (graph.num_edges, *tuple(a_.shape)[1:-1]):
        raise ValueError(f"grad_out: expected shape {(graph.num_edges, *tuple(a_.shape)[1:-1])}, got {tuple(g_.shape)}")
    gk, ak, bk = be.contiguous(g_, "grad_out"), be.contiguous(a_, "a"), be.contiguous(b_, "b")
    if len(ak.shape) > 2:  # the middle axes as one, weighted per head: (N, heads, F) and (E, heads)
        heads = math.prod(ak.shape[1:-1])
        gk, ak, bk = (gk.reshape(graph.num_edges, heads), ak.reshape(ak.shape[0], heads, ak.shape[-1]),
                      bk.reshape(bk.shape[0], heads, bk.shape[-1]))
    grad_a = _run_aggregate(be, graph.csr_for(be, True), bk, gk, "sum").reshape(a_.shape)
    grad_b = _run_aggregate(be, graph.csr_for(be), ak, gk, "sum").reshape(b_.shape)
    return be.wrap(grad_a), be.wrap(grad_b)


def edge_softmax(graph, scores, num_nodes=None):
    """Softmax over the edges that share a target, as ``torch_geometric.utils.softmax``:
    ``exp(s - max) / (sum + 1e-16)`` per target node and per column of scores.

    Parameters
    ----------
    graph : Graph or array of int, shape (2, E)
    scores : array, shape (E,) or (E, heads, ...), in edge order
    num_nodes : int, optional
        With an edge_index: its node count (default: the largest index + 1), as PyG's
        ``softmax(..., num_nodes=)``.

    Returns
    -------
    out : array of scores' shape and dtype

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> g = opzoo.Graph(np.array([[0, 1, 2], [2, 2, 1]]))
    >>> opzoo.edge_softmax(g, np.log(np.array([1.0, 3.0, 5.0], dtype=np.float32))).round(3).tolist()
    [0.25, 0.75, 1.0]
    """
    be, (s_,) = backend_for(scores=scores)
    g = as_graph(graph, num_nodes)
    sk = be.contiguous(s_, "scores")
    out = be.empty(tuple(sk.shape), like=sk)
    be.run("graph_edge_softmax", (*g.csr_for(be), sk, out))
    return be.wrap(out)


def edge_softmax_backward(graph, grad_out, softmax_out, num_nodes=None):
    """grad_scores of :func:`edge_softmax` from its output y = `softmax_out`:
    ``y * (g - sum over the target's edges of g * y)``; graph and num_nodes as
    :func:`edge_softmax` takes them."""
    be, (g_, y_) = backend_for(grad_out=grad_out, softmax_out=softmax_out)
    g = as_graph(graph, num_nodes)
    gk, yk = be.contiguous(g_, "grad_out"), be.contiguous(y_, "softmax_out")
    grad = be.empty(tuple(gk.shape), like=gk)
    be.run("graph_edge_softmax_backward", (*g.csr_for(be), gk, yk, grad))
    return be.wrap(grad)

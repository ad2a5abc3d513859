"""Graph layers of PyTorch Geometric on opzoo's aggregation, edge softmax and NumPy's
matrix products: :class:`GCNConv`, :class:`SAGEConv` and :class:`GATConv`, each built
from the PyG layer's state_dict and called as ``layer(x, graph)`` with an
:class:`opzoo.Graph` (the self-loop graph and GCN's normalisation made once and kept on
it) or an edge_index array (made for the call). Inference only, NumPy arrays (the graph
kernels run on the CPU), float32; equal to the PyG layer in eval mode.
"""

from __future__ import annotations

import numpy as np

from ..ops.graph import Graph, aggregate, as_graph, edge_softmax, remaining_self_loops, replaced_self_loops
from ._blas import single_threaded_blas
from ._layers import StateDict, as_float32

__all__ = ["GATConv", "GCNConv", "SAGEConv"]


def _features(x) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x: expected a NumPy array (the graph layers run on the CPU), got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"x: expected shape (nodes, channels), got {x.shape}")
    return np.ascontiguousarray(x, np.float32)


def _linear(sd: StateDict, key: str, in_channels: int | None = None) -> tuple[np.ndarray, int, int]:
    out_channels, got_in = sd.shape(f"{key}.weight")
    return as_float32(sd.get(f"{key}.weight", (out_channels, in_channels or got_in)).T), got_in, out_channels


def _matmul(x: np.ndarray, weight_t: np.ndarray, in_channels: int) -> np.ndarray:
    if x.shape[1] != in_channels:
        raise ValueError(f"x: expected {in_channels} channels, got shape {x.shape}")
    with single_threaded_blas():  # opzoo's threads run the aggregation (see _blas)
        return x @ weight_t


class GCNConv:
    """PyG's ``GCNConv``: ``D^-1/2 (A + I) D^-1/2 x W^T + b`` over the target degrees, with
    ``add_remaining_self_loops`` (a node's own self-loop keeps its weight, new ones weigh
    2 with ``improved``, every loop 1 without edge weights, as PyG 2.8's ``gcn_norm``).

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> sd = {"lin.weight": np.ones((2, 3), np.float32), "bias": np.zeros(2, np.float32)}
    >>> conv = opzoo.nn.GCNConv.from_state_dict(sd)
    >>> conv(np.ones((3, 3), np.float32), np.array([[0, 1], [1, 2]])).shape
    (3, 2)
    """

    def __init__(self, weight_t, bias, improved, add_self_loops, normalize):
        self.weight_t, self.bias = weight_t, bias
        self.in_channels, self.out_channels = weight_t.shape
        self.improved, self.add_self_loops, self.normalize = improved, add_self_loops, normalize

    @classmethod
    def from_state_dict(cls, state_dict, *, improved: bool = False, add_self_loops: bool | None = None,
                        normalize: bool = True) -> GCNConv:
        sd = StateDict(state_dict, "GCNConv")
        weight_t, _, out_channels = _linear(sd, "lin")
        bias = as_float32(sd.get("bias", (out_channels,))) if sd.has("bias") else None
        sd.check_all_used()
        return cls(weight_t, bias, improved, normalize if add_self_loops is None else add_self_loops, normalize)

    def normalised(self, graph: Graph, edge_weight=None) -> tuple[Graph, np.ndarray]:
        """The graph the products run over and its edge weights; kept on the Graph when
        there are no edge weights."""
        key = ("gcn", self.improved, self.add_self_loops, self.normalize)
        if edge_weight is None and key in graph.__dict__:
            return graph.__dict__[key]
        result_graph = graph
        weight = None if edge_weight is None else np.asarray(edge_weight, np.float32)
        if self.add_self_loops:
            plan = remaining_self_loops(graph)
            if weight is not None:
                loops = np.where(plan.loop_source >= 0, weight[np.maximum(plan.loop_source, 0)],
                                 np.float32(2.0 if self.improved else 1.0))
                weight = np.concatenate([weight[plan.kept], loops.astype(np.float32)])
            result_graph = plan.graph
        if weight is None:
            weight = np.ones(result_graph.num_edges, np.float32)
        if self.normalize:
            source, target = result_graph.edge_index.astype(np.int64, copy=False)
            degree = np.zeros(result_graph.num_nodes, np.float32)
            np.add.at(degree, target, weight)
            with np.errstate(divide="ignore", invalid="ignore"):
                inv_sqrt = degree ** np.float32(-0.5)
            inv_sqrt[np.isinf(inv_sqrt)] = 0  # isolated nodes, as gcn_norm's masked_fill
            weight = inv_sqrt[source] * weight * inv_sqrt[target]
        if edge_weight is None:
            graph.__dict__[key] = (result_graph, weight)
        return result_graph, weight

    def __call__(self, x, graph, edge_weight=None) -> np.ndarray:
        x = _features(x)
        g, weight = self.normalised(as_graph(graph, len(x), "x"), edge_weight)
        out = aggregate(g, _matmul(x, self.weight_t, self.in_channels), "sum", weight)
        return out if self.bias is None else out + self.bias


class SAGEConv:
    """PyG's ``SAGEConv``: ``lin_l(aggr over in-neighbours of x_j) + lin_r(x)``, aggr
    "mean" (default), "sum", "max" or "min", L2-normalised output with ``normalize``.

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> sd = {"lin_l.weight": np.ones((2, 3), np.float32), "lin_l.bias": np.zeros(2, np.float32),
    ...       "lin_r.weight": np.ones((2, 3), np.float32)}
    >>> opzoo.nn.SAGEConv.from_state_dict(sd)(np.ones((3, 3), np.float32), np.array([[0, 1], [1, 2]])).tolist()
    [[3.0, 3.0], [6.0, 6.0], [6.0, 6.0]]
    """

    def __init__(self, weight_l_t, bias, weight_r_t, aggr, normalize):
        self.weight_l_t, self.bias, self.weight_r_t = weight_l_t, bias, weight_r_t
        self.aggr, self.normalize = aggr, normalize
        self.in_channels = weight_l_t.shape[0]

    @classmethod
    def from_state_dict(cls, state_dict, *, aggr: str = "mean", normalize: bool = False) -> SAGEConv:
        sd = StateDict(state_dict, "SAGEConv")
        weight_l_t, in_channels, out_channels = _linear(sd, "lin_l")
        bias = as_float32(sd.get("lin_l.bias", (out_channels,))) if sd.has("lin_l.bias") else None
        weight_r_t = _linear(sd, "lin_r", in_channels)[0] if sd.has("lin_r.weight") else None
        sd.check_all_used()
        return cls(weight_l_t, bias, weight_r_t, aggr, normalize)

    def __call__(self, x, graph) -> np.ndarray:
        x = _features(x)
        out = _matmul(aggregate(as_graph(graph, len(x), "x"), x, self.aggr), self.weight_l_t, self.in_channels)
        if self.bias is not None:
            out += self.bias
        if self.weight_r_t is not None:
            out += _matmul(x, self.weight_r_t, self.in_channels)
        if self.normalize:  # torch.nn.functional.normalize, eps 1e-12
            out /= np.maximum(np.sqrt((out * out).sum(axis=1, keepdims=True)), np.float32(1e-12))
        return out


class GATConv:
    """PyG's ``GATConv``: attention ``leaky_relu(a_src . W x_j + a_dst . W x_i)`` (slope
    ``negative_slope``) normalised over each target's edges, self-loops replaced by one
    per node with ``add_self_loops``, heads concatenated or averaged (``concat``, read off
    the bias where there is one), then the bias. Inference: no attention dropout.

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> sd = {"lin.weight": np.ones((4, 3), np.float32), "att_src": np.ones((1, 2, 2), np.float32),
    ...       "att_dst": np.ones((1, 2, 2), np.float32), "bias": np.zeros(4, np.float32)}
    >>> opzoo.nn.GATConv.from_state_dict(sd)(np.ones((3, 3), np.float32), np.array([[0, 1], [1, 2]])).shape
    (3, 4)
    """

    def __init__(self, weight_t, att_src, att_dst, bias, concat, negative_slope, add_self_loops):
        self.weight_t, self.att_src, self.att_dst, self.bias = weight_t, att_src, att_dst, bias
        self.heads, self.out_channels = att_src.shape[1:]
        self.in_channels = weight_t.shape[0]
        self.concat, self.negative_slope, self.add_self_loops = concat, np.float32(negative_slope), add_self_loops

    @classmethod
    def from_state_dict(cls, state_dict, *, concat: bool | None = None, negative_slope: float = 0.2,
                        add_self_loops: bool = True) -> GATConv:
        sd = StateDict(state_dict, "GATConv")
        _, heads, out_channels = sd.shape("att_src")
        weight_t, in_channels, _ = _linear(sd, "lin")
        sd.get("lin.weight", (heads * out_channels, in_channels))  # as many rows as heads * out_channels
        att_src = as_float32(sd.get("att_src", (1, heads, out_channels)))
        att_dst = as_float32(sd.get("att_dst", (1, heads, out_channels)))
        bias = None
        if sd.has("bias"):
            if concat is None:
                concat = sd.shape("bias") == (heads * out_channels,)
            bias = as_float32(sd.get("bias", (heads * out_channels if concat else out_channels,)))
        sd.check_all_used()
        return cls(weight_t, att_src, att_dst, bias, True if concat is None else concat, negative_slope,
                   add_self_loops)

    def __call__(self, x, graph) -> np.ndarray:
        x = _features(x)
        g = as_graph(graph, len(x), "x")
        if self.add_self_loops:
            g = replaced_self_loops(g)
        h = _matmul(x, self.weight_t, self.in_channels).reshape(len(x), self.heads, self.out_channels)
        source, target = g.edge_index.astype(np.int64, copy=False)
        alpha = (h * self.att_src).sum(-1)[source] + (h * self.att_dst).sum(-1)[target]
        alpha = np.where(alpha > 0, alpha, alpha * self.negative_slope)
        out = aggregate(g, h, "sum", edge_softmax(g, alpha))
        out = out.reshape(len(x), -1) if self.concat else out.mean(axis=1)
        return out if self.bias is None else out + self.bias

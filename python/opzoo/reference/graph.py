"""Graph message passing in NumPy, edge by edge over the edge list, float64: the spec of
``opzoo.ops.graph``, written without a CSR.

``edge_index`` is (2, E) as PyTorch Geometric's: row 0 the source j, row 1 the target i
of each edge j -> i. Node features x are (N, ...); with per-head edge weights or scores
(E, H), x is (N, H, ...) and head h's weight scales x[:, h].

* ``aggregate``: out[i] = reduce over the edges e = j -> i of w[e] * x[j], for reduce
  sum, mean, max, min; 0 where a node has no incoming edge (PyG's scatter). max and min
  propagate NaN.
* ``aggregate_backward``: the gradients of x and w. max and min send each output
  element's gradient to one edge: the first edge, in edge order, that attains the
  extreme (or the first NaN); the other edges get exactly 0.
* ``sddmm``: out[e] = dot(a[j], b[i]) over the last axis.
* ``edge_softmax``: softmax over the edges sharing a target, as
  torch_geometric.utils.softmax: exp(s - max) / (sum + 1e-16).
"""

import math

import numpy as np

REDUCES = ("sum", "mean", "max", "min")


def _weighted(x, edge_weight, source):
    """w[e] * x[source[e]] for every edge, (E, *x.shape[1:])."""
    messages = x[source]
    if edge_weight is None:
        return messages
    w = np.asarray(edge_weight, np.float64)
    return messages * w.reshape(w.shape + (1,) * (messages.ndim - w.ndim))


def _extreme_edges(values, target, num_nodes, reduce):
    """For every node and feature, the first edge (in edge order) whose value is the
    extreme of its target's edges, or a first NaN; -1 where the node has no edge."""
    flat = values.reshape(len(values), math.prod(values.shape[1:]))
    arg = np.full((num_nodes, flat.shape[1]), -1, np.int64)
    best = np.zeros((num_nodes, flat.shape[1]))
    better = np.greater if reduce == "max" else np.less
    for e in range(len(values)):
        i, v = target[e], flat[e]
        new = arg[i] < 0
        take = new | (better(v, best[i]) & ~np.isnan(best[i])) | (np.isnan(v) & ~np.isnan(best[i]))
        best[i] = np.where(take, v, best[i])
        arg[i] = np.where(take, e, arg[i])
    return arg, best


def aggregate(edge_index, num_nodes, x, reduce="sum", edge_weight=None):
    source, target = np.asarray(edge_index, np.int64)
    x = np.asarray(x, np.float64)
    messages = _weighted(x, edge_weight, source)
    out = np.zeros((num_nodes,) + x.shape[1:])
    if reduce in ("sum", "mean"):
        np.add.at(out, target, messages)
        if reduce == "mean":
            count = np.bincount(target, minlength=num_nodes).astype(np.float64)
            out /= np.maximum(count, 1).reshape((-1,) + (1,) * (x.ndim - 1))
        return out
    _, best = _extreme_edges(messages, target, num_nodes, reduce)
    return best.reshape(out.shape)


def aggregate_backward(edge_index, num_nodes, grad_out, x, reduce="sum", edge_weight=None):
    """(grad_x, grad_edge_weight or None) of aggregate."""
    source, target = np.asarray(edge_index, np.int64)
    x = np.asarray(x, np.float64)
    g = np.asarray(grad_out, np.float64)
    E = len(source)
    g_edge = g[target]  # the gradient reaching each edge's message
    if reduce == "mean":
        count = np.bincount(target, minlength=num_nodes).astype(np.float64)
        g_edge = g_edge / count[target].reshape((-1,) + (1,) * (x.ndim - 1))
    # max and min: only the edge that gave an output element gets its gradient (exactly
    # 0 elsewhere, even where the other edges' x or weight is infinite or NaN)
    chosen = np.ones(g_edge.shape, bool)
    if reduce in ("max", "min"):
        arg, _ = _extreme_edges(_weighted(x, edge_weight, source), target, num_nodes, reduce)
        chosen = (arg[target] == np.arange(E)[:, None]).reshape(g_edge.shape)
    grad_x = np.zeros_like(x)
    np.add.at(grad_x, source, np.where(chosen, _weighted(g_edge, edge_weight, np.arange(E)), 0.0))
    if edge_weight is None:
        return grad_x, None
    w = np.asarray(edge_weight, np.float64)
    products = np.where(chosen, g_edge * x[source], 0.0)
    grad_w = products.reshape(products.shape[: w.ndim] + (math.prod(products.shape[w.ndim:]),)).sum(axis=-1)
    return grad_x, grad_w


def sddmm(edge_index, a, b):
    source, target = np.asarray(edge_index, np.int64)
    return np.sum(np.asarray(a, np.float64)[source] * np.asarray(b, np.float64)[target], axis=-1)


def sddmm_backward(edge_index, num_nodes, grad_out, a, b):
    """(grad_a, grad_b) of sddmm."""
    source, target = np.asarray(edge_index, np.int64)
    g = np.asarray(grad_out, np.float64)[..., None]
    grad_a = np.zeros(np.shape(a))
    grad_b = np.zeros(np.shape(b))
    np.add.at(grad_a, source, g * np.asarray(b, np.float64)[target])
    np.add.at(grad_b, target, g * np.asarray(a, np.float64)[source])
    return grad_a, grad_b


def edge_softmax(edge_index, num_nodes, scores):
    _, target = np.asarray(edge_index, np.int64)
    s = np.asarray(scores, np.float64)
    peak = np.full((num_nodes,) + s.shape[1:], -np.inf)
    np.maximum.at(peak, target, s)
    e = np.exp(s - peak[target])
    total = np.zeros_like(peak)
    np.add.at(total, target, e)
    return e / (total[target] + 1e-16)


def edge_softmax_backward(edge_index, num_nodes, grad_out, softmax_out):
    """grad_scores of edge_softmax from its output."""
    _, target = np.asarray(edge_index, np.int64)
    y = np.asarray(softmax_out, np.float64)
    g = np.asarray(grad_out, np.float64)
    dot = np.zeros((num_nodes,) + y.shape[1:])
    np.add.at(dot, target, g * y)
    return y * (g - dot[target])

"""Graph message passing for PyTorch: the custom ops ``opzoo::graph_aggregate``,
``opzoo::sddmm`` and ``opzoo::edge_softmax`` with their backward ops, the functions
users call (a graph given as an :class:`opzoo.Graph` or an edge_index tensor), and
:class:`GCNConv`, :class:`SAGEConv` and :class:`GATConv`, drop-ins for PyTorch
Geometric's layers with their constructor arguments and parameter names.

A graph reaches the custom ops as its two CSRs' six int64 tensors (by target and by
source), converted once per :class:`opzoo.Graph` and kept on it; the kernels check
every entry they read. Gradients flow to the features, the edge weights and the
scores. Eager calls on plain tensors take a ``torch.autograd.Function`` instead of the
custom op (:mod:`opzoo.torch._eager`).
"""

import math
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._device import DeviceBackend
from ..ops import graph as functional
from ._eager import eager, wants_grad

__all__ = ["GATConv", "GCNConv", "SAGEConv", "aggregate", "edge_softmax", "sddmm"]

_CSR = "Tensor rowptr, Tensor col, Tensor edge, Tensor rowptr_t, Tensor col_t, Tensor edge_t"


def _csr_tensors(graph: functional.Graph, device: torch.device) -> Tuple[Tensor, ...]:
    """The graph's CSRs by target and by source as six int64 tensors on `device`, made once
    per Graph and device."""
    key = ("_torch_csr", str(device))
    tensors = graph.__dict__.get(key)
    if tensors is None:
        tensors = tuple(torch.from_numpy(a).to(device) for a in (*graph.csr, *graph.csr_by_source))
        graph.__dict__[key] = tensors
    return tensors


def _graph_of(csr: Tuple[Tensor, ...]) -> functional.Graph:
    device = csr[0].device
    if device.type == "cpu":
        arrays = tuple(t.detach().numpy() for t in csr)
        return functional.Graph.from_csr(arrays[:3], arrays[3:])
    backend = DeviceBackend("torch", device.index if device.index is not None else torch.cuda.current_device())
    return functional.Graph.from_csr(csr[:3], csr[3:], backend)


def _as_graph(graph, rows_of: Optional[Tensor] = None, name: str = "x",
              num_nodes: Optional[int] = None) -> functional.Graph:
    """`graph`, or the Graph of an edge_index over `num_nodes` nodes or the rows of
    `rows_of` (the tensor named `name`, which an index out of range then names)."""
    if isinstance(graph, Tensor):
        graph = graph.detach().cpu()
    if rows_of is None:
        return functional.as_graph(graph, num_nodes)
    if rows_of.dim() == 0:
        raise ValueError(f"{name}: expected an array with a row per node, got shape ()")
    return functional.as_graph(graph, rows_of.shape[0], name)


def _detached(t: Optional[Tensor]) -> Optional[Tensor]:
    return None if t is None else t.detach()


def _check_tensors(optional=(), **tensors) -> None:
    for name, t in tensors.items():
        if not isinstance(t, Tensor) and (t is not None or name not in optional):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")


# --- aggregate ---------------------------------------------------------------------------

def _aggregate(csr, x, edge_weight, reduce):
    return functional.aggregate(_graph_of(csr), x.detach(), reduce, _detached(edge_weight))


def _aggregate_gradients(csr, grad_out, x, edge_weight, reduce):
    return functional.aggregate_backward(_graph_of(csr), grad_out.contiguous(), x.detach(), reduce,
                                         _detached(edge_weight))


_aggregate_op = torch.library.custom_op(
    "opzoo::graph_aggregate", lambda *a: _aggregate(a[:6], *a[6:]), mutates_args=(),
    schema=f"({_CSR}, Tensor x, Tensor? edge_weight, str reduce) -> Tensor")
_aggregate_backward_op = torch.library.custom_op(
    "opzoo::graph_aggregate_backward",
    lambda *a: tuple(a[7].new_empty((0,)) if g is None else g for g in _aggregate_gradients(a[:6], *a[6:])),
    mutates_args=(), schema=f"({_CSR}, Tensor grad_out, Tensor x, Tensor? edge_weight, str reduce) -> (Tensor, Tensor)")


@_aggregate_op.register_fake
def _aggregate_fake(*args):
    x = args[6]
    functional._reduce(args[8])
    return x.new_empty(x.shape)


@_aggregate_backward_op.register_fake
def _aggregate_backward_fake(*args):
    x, w = args[7], args[8]
    return x.new_empty(x.shape), (x.new_empty((0,)) if w is None else w.new_empty(w.shape))


def _aggregate_setup(ctx, inputs, output):
    *csr, x, w, reduce = inputs
    ctx.save_for_backward(*csr, x, w)
    ctx.reduce = reduce


def _aggregate_input_gradients(ctx, grad_out, gradients):
    *csr, x, w = ctx.saved_tensors
    grad_x, grad_w = gradients(tuple(csr), grad_out, x, w, ctx.reduce)
    return (*(None,) * 6, grad_x, grad_w if w is not None else None, None)


_aggregate_op.register_autograd(
    lambda ctx, g: _aggregate_input_gradients(ctx, g, lambda csr, *a: _aggregate_backward_op(*csr, *a)),
    setup_context=_aggregate_setup)


class _AggregateEager(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *inputs):
        _aggregate_setup(ctx, inputs, None)
        return _aggregate(inputs[:6], *inputs[6:])

    @staticmethod
    def backward(ctx, grad_out):
        return _aggregate_input_gradients(ctx, grad_out, _aggregate_gradients)


def aggregate(graph, x: Tensor, reduce: str = "sum", edge_weight: Optional[Tensor] = None) -> Tensor:
    """Neighbour aggregation with autograd: ``torch.ops.opzoo.graph_aggregate``.

    :func:`opzoo.aggregate` on tensors: ``out[i] = reduce over j -> i of edge_weight[e] *
    x[j]``, gradients to x and edge_weight (:func:`opzoo.aggregate_backward`).

    Parameters
    ----------
    graph : opzoo.Graph or Tensor of int, shape (2, E)
        A Graph (its CSRs converted once and kept), or PyG's edge_index over ``len(x)`` nodes.
    x : Tensor, shape (N, ...)
    reduce : {"sum", "mean", "max", "min"}
    edge_weight : Tensor, shape (E,) or (E, H), optional

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> x = torch.tensor([[1.0], [2.0], [4.0]], requires_grad=True)
    >>> out = opzoo.torch.aggregate(torch.tensor([[0, 1, 2], [1, 2, 1]]), x, "max")
    >>> out.sum().backward()
    >>> x.grad.ravel().tolist()
    [0.0, 1.0, 1.0]
    """
    _check_tensors(("edge_weight",), x=x, edge_weight=edge_weight)
    functional._reduce(reduce)
    csr = _csr_tensors(_as_graph(graph, x), x.device)
    if eager(x, edge_weight):
        if wants_grad(x, edge_weight):
            return _AggregateEager.apply(*csr, x, edge_weight, reduce)
        return _aggregate(csr, x, edge_weight, reduce)
    return _aggregate_op(*csr, x, edge_weight, reduce)


# --- sddmm -------------------------------------------------------------------------------

def _sddmm(csr, a, b):
    return functional.sddmm(_graph_of(csr), a.detach(), b.detach())


def _sddmm_gradients(csr, grad_out, a, b):
    return functional.sddmm_backward(_graph_of(csr), grad_out.contiguous(), a.detach(), b.detach())


_sddmm_op = torch.library.custom_op("opzoo::sddmm", lambda *a: _sddmm(a[:6], *a[6:]), mutates_args=(),
                                    schema=f"({_CSR}, Tensor a, Tensor b) -> Tensor")
_sddmm_backward_op = torch.library.custom_op(
    "opzoo::sddmm_backward", lambda *a: tuple(_sddmm_gradients(a[:6], *a[6:])), mutates_args=(),
    schema=f"({_CSR}, Tensor grad_out, Tensor a, Tensor b) -> (Tensor, Tensor)")


@_sddmm_op.register_fake
def _sddmm_fake(*args):
    a = args[6]
    return a.new_empty((args[1].shape[0], *a.shape[1:-1]))


@_sddmm_backward_op.register_fake
def _sddmm_backward_fake(*args):
    a, b = args[7], args[8]
    return a.new_empty(a.shape), b.new_empty(b.shape)


def _sddmm_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _sddmm_input_gradients(ctx, grad_out, gradients):
    *csr, a, b = ctx.saved_tensors
    return (*(None,) * 6, *gradients(tuple(csr), grad_out, a, b))


_sddmm_op.register_autograd(
    lambda ctx, g: _sddmm_input_gradients(ctx, g, lambda csr, *a: _sddmm_backward_op(*csr, *a)),
    setup_context=_sddmm_setup)


class _SddmmEager(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *inputs):
        _sddmm_setup(ctx, inputs, None)
        return _sddmm(inputs[:6], *inputs[6:])

    @staticmethod
    def backward(ctx, grad_out):
        return _sddmm_input_gradients(ctx, grad_out, _sddmm_gradients)


def sddmm(graph, a: Tensor, b: Tensor) -> Tensor:
    """Per-edge dot products with autograd: ``torch.ops.opzoo.sddmm``, as :func:`opzoo.sddmm`.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> opzoo.torch.sddmm(torch.tensor([[0, 1], [1, 0]]), a, a).tolist()
    [11.0, 11.0]
    """
    _check_tensors(a=a, b=b)
    csr = _csr_tensors(_as_graph(graph, a, "a"), a.device)
    if eager(a, b):
        if wants_grad(a, b):
            return _SddmmEager.apply(*csr, a, b)
        return _sddmm(csr, a, b)
    return _sddmm_op(*csr, a, b)


# --- edge softmax ------------------------------------------------------------------------

def _softmax(csr, scores):
    return functional.edge_softmax(_graph_of(csr), scores.detach())


def _softmax_gradient(csr, grad_out, y):
    return functional.edge_softmax_backward(_graph_of(csr), grad_out.contiguous(), y.detach())


_softmax_op = torch.library.custom_op("opzoo::edge_softmax", lambda *a: _softmax(a[:6], a[6]), mutates_args=(),
                                      schema=f"({_CSR}, Tensor scores) -> Tensor")
_softmax_backward_op = torch.library.custom_op(
    "opzoo::edge_softmax_backward", lambda *a: _softmax_gradient(a[:6], *a[6:]), mutates_args=(),
    schema=f"({_CSR}, Tensor grad_out, Tensor softmax_out) -> Tensor")
_softmax_op.register_fake(lambda *a: a[6].new_empty(a[6].shape))
_softmax_backward_op.register_fake(lambda *a: a[7].new_empty(a[7].shape))


def _softmax_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs[:6], output)


def _softmax_input_gradients(ctx, grad_out, gradient):
    *csr, y = ctx.saved_tensors
    return (*(None,) * 6, gradient(tuple(csr), grad_out, y))


_softmax_op.register_autograd(
    lambda ctx, g: _softmax_input_gradients(ctx, g, lambda csr, *a: _softmax_backward_op(*csr, *a)),
    setup_context=_softmax_setup)


class _SoftmaxEager(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *inputs):
        y = _softmax(inputs[:6], inputs[6])
        _softmax_setup(ctx, inputs, y)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        return _softmax_input_gradients(ctx, grad_out, _softmax_gradient)


def edge_softmax(graph, scores: Tensor, num_nodes: Optional[int] = None) -> Tensor:
    """Softmax over the edges sharing a target, with autograd: ``torch.ops.opzoo.edge_softmax``,
    as :func:`opzoo.edge_softmax` (and ``torch_geometric.utils.softmax``).

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> s = torch.log(torch.tensor([1.0, 3.0, 5.0]))
    >>> [round(v, 4) for v in opzoo.torch.edge_softmax(torch.tensor([[0, 1, 2], [2, 2, 1]]), s).tolist()]
    [0.25, 0.75, 1.0]
    """
    _check_tensors(scores=scores)
    csr = _csr_tensors(_as_graph(graph, num_nodes=num_nodes), scores.device)
    if eager(scores):
        if wants_grad(scores):
            return _SoftmaxEager.apply(*csr, scores)
        return _softmax(csr, scores)
    return _softmax_op(*csr, scores)


# --- PyG's layers ------------------------------------------------------------------------

def _edge_weights(plan: functional.SelfLoops, edge_weight: Tensor, fill: float) -> Tensor:
    """The weights of `plan`'s graph: the kept edges' weights, then each self-loop's (the
    node's own former self-loop weight, or `fill`), differentiable in edge_weight."""
    kept = torch.from_numpy(plan.kept).to(edge_weight.device)
    source = torch.from_numpy(plan.loop_source).to(edge_weight.device)
    loop = torch.where(source >= 0, edge_weight[source.clamp(min=0)],
                       torch.full(source.shape, fill, dtype=edge_weight.dtype, device=edge_weight.device))
    return torch.cat([edge_weight[kept], loop])


class GCNConv(nn.Module):
    """PyTorch Geometric's ``GCNConv`` on opzoo's aggregation: the same constructor
    arguments and parameters (``lin.weight`` (out, in), ``bias``), so a PyG layer's
    state_dict loads both ways; ``x' = D^-1/2 (A + I) D^-1/2 x W^T + b`` with
    ``add_remaining_self_loops`` (a node's own self-loop keeps its weight, new loops
    weigh 2 with ``improved``, and all weigh 1 without edge weights, as PyG 2.8's
    ``gcn_norm`` has it) and its symmetric normalisation, the degree taken over targets.

    Called as ``conv(x, edge_index, edge_weight=None)``, edge_index a (2, E) tensor or an
    :class:`opzoo.Graph`, whose normalised graph is then built once and kept on it (as
    PyG's ``cached=True`` keeps it on the layer, which ``cached`` does here too).

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> conv = opzoo.torch.GCNConv(4, 8)
    >>> conv(torch.randn(5, 4), torch.tensor([[0, 1, 2], [1, 2, 3]])).shape
    torch.Size([5, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False, cached: bool = False,
                 add_self_loops: Optional[bool] = None, normalize: bool = True, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached, self.normalize = improved, cached, normalize
        self.add_self_loops = normalize if add_self_loops is None else add_self_loops
        if self.add_self_loops and not normalize:
            raise ValueError("add_self_loops=True needs normalize=True (as PyG's GCNConv)")
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self._cache = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)  # PyG's glorot
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache = None

    def _normalised(self, edge_index, edge_weight, x) -> Tuple[functional.Graph, Tensor]:
        if self.cached and self._cache is not None:
            return self._cache
        graph = _as_graph(edge_index, x)
        fill = 2.0 if self.improved else 1.0
        if self.add_self_loops:
            plan = functional.remaining_self_loops(graph)
            # PyG 2.8's gcn_norm adds the loops before it fills in missing weights: without
            # edge weights every loop weighs 1, improved or not.
            weight = None if edge_weight is None else _edge_weights(plan, edge_weight, fill)
            graph = plan.graph
        else:
            weight = edge_weight
        if weight is None:
            weight = x.new_ones(graph.num_edges)
        if self.normalize:
            source, target = (torch.from_numpy(r).to(x.device) for r in graph.edge_index.astype("int64", copy=False))
            degree = torch.zeros(graph.num_nodes, dtype=weight.dtype, device=x.device).index_add_(0, target, weight)
            inv_sqrt = degree.pow(-0.5).masked_fill(degree == 0, 0.0)
            weight = inv_sqrt[source] * weight * inv_sqrt[target]
        if self.cached:
            self._cache = (graph, weight.detach())
        return graph, weight

    def forward(self, x: Tensor, edge_index, edge_weight: Optional[Tensor] = None) -> Tensor:
        graph, weight = self._normalised(edge_index, edge_weight, x)
        out = aggregate(graph, self.lin(x), "sum", weight)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"


class SAGEConv(nn.Module):
    """PyTorch Geometric's ``SAGEConv`` on opzoo's aggregation: ``x' = lin_l(aggr over
    in-neighbours of x_j) + lin_r(x)``, the parameters ``lin_l.weight``, ``lin_l.bias``,
    ``lin_r.weight``; aggr "mean" (default), "sum", "max" or "min"; ``normalize`` L2
    normalises the output. (PyG's ``project`` and lists of aggregations are not offered.)

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> conv = opzoo.torch.SAGEConv(4, 8)
    >>> conv(torch.randn(5, 4), torch.tensor([[0, 1, 2], [1, 2, 3]])).shape
    torch.Size([5, 8])
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, aggr: str = "mean",
                 normalize: bool = False, root_weight: bool = True, project: bool = False, bias: bool = True):
        super().__init__()
        if project:
            raise ValueError("project=True is not offered by opzoo's SAGEConv")
        functional._reduce(aggr)
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        self.in_channels, self.out_channels, self.aggr = in_channels, out_channels, aggr
        self.normalize, self.root_weight = normalize, root_weight
        self.lin_l = nn.Linear(in_channels[0], out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels[1], out_channels, bias=False) if root_weight else None

    def forward(self, x: Tensor, edge_index) -> Tensor:
        out = self.lin_l(aggregate(_as_graph(edge_index, x), x, self.aggr))
        if self.lin_r is not None:
            out = out + self.lin_r(x)
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, aggr={self.aggr}"


class GATConv(nn.Module):
    """PyTorch Geometric's ``GATConv`` on opzoo's edge softmax and aggregation: the
    parameters ``lin.weight`` (heads * out, in), ``att_src`` and ``att_dst`` (1, heads,
    out), ``bias``; attention ``leaky_relu(a_src . W x_j + a_dst . W x_i, negative_slope)``
    normalised over each target's edges (self-loops replaced by one per node, as PyG's
    ``add_self_loops=True``), dropout on it while training, heads concatenated or
    averaged. (``edge_dim``, ``residual`` and bipartite inputs are not offered.)

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> conv = opzoo.torch.GATConv(4, 8, heads=2)
    >>> conv(torch.randn(5, 4), torch.tensor([[0, 1, 2], [1, 2, 3]])).shape
    torch.Size([5, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 edge_dim: Optional[int] = None, fill_value="mean", bias: bool = True, residual: bool = False):
        super().__init__()
        if edge_dim is not None or residual or not isinstance(in_channels, int):
            raise ValueError("edge_dim, residual and bipartite in_channels are not offered by opzoo's GATConv")
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout, self.add_self_loops = negative_slope, dropout, add_self_loops
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        for att in (self.att_src, self.att_dst):
            bound = math.sqrt(6.0 / (att.size(-2) + att.size(-1)))
            nn.init.uniform_(att, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index) -> Tensor:
        graph = _as_graph(edge_index, x)
        if self.add_self_loops:
            graph = functional.replaced_self_loops(graph)
        H, C = self.heads, self.out_channels
        h = self.lin(x).view(-1, H, C)
        alpha_src, alpha_dst = (h * self.att_src).sum(-1), (h * self.att_dst).sum(-1)
        source, target = (torch.from_numpy(r).to(x.device) for r in graph.edge_index.astype("int64", copy=False))
        alpha = F.leaky_relu(alpha_src[source] + alpha_dst[target], self.negative_slope)
        alpha = F.dropout(edge_softmax(graph, alpha), p=self.dropout, training=self.training)
        out = aggregate(graph, h, "sum", alpha)
        out = out.reshape(-1, H * C) if self.concat else out.mean(dim=1)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"

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


class _GraphOp:
    """One graph op on tensors: the custom op ``opzoo::<name>`` over a graph's six CSR
    tensors, then `tensors` tensor arguments, then its other parameters; its backward op
    ``opzoo::<name>_backward``; the autograd formula both paths use; and the eager
    ``torch.autograd.Function``. `forward(csr, *tensors, *params)` and
    `gradients(csr, grad_out, *saved, *params)` (a gradient per tensor argument, None
    where there is none) run the functional API; `saved` is the tensor arguments, or the
    output where `saves_output`."""

    def __init__(self, name: str, schema: tuple, backward_schema: tuple, tensors: int, forward, gradients, fake,
                 backward_fake, saves_output: bool = False):
        self.tensors, self.saves_output = tensors, saves_output
        self.forward, self.gradients = forward, gradients
        self.op = torch.library.custom_op(f"opzoo::{name}", lambda *a: forward(a[:6], *a[6:]), mutates_args=(),
                                          schema="({}, {}) -> {}".format(_CSR, *schema))
        self.backward_op = torch.library.custom_op(f"opzoo::{name}_backward", self._backward_impl, mutates_args=(),
                                                   schema="({}, {}) -> {}".format(_CSR, *backward_schema))
        self.op.register_fake(fake)
        self.backward_op.register_fake(backward_fake)
        self.op.register_autograd(
            lambda ctx, g: self._input_gradients(ctx, g, lambda csr, *a: self.backward_op(*csr, *a)),
            setup_context=self._setup)
        graph_op = self

        class Eager(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *inputs):
                out = graph_op.forward(inputs[:6], *inputs[6:])
                graph_op._setup(ctx, inputs, out)
                return out

            @staticmethod
            def backward(ctx, grad_out):
                return graph_op._input_gradients(ctx, grad_out, graph_op.gradients)

        self.eager = Eager

    def _backward_impl(self, *args):
        """The gradients as the backward op returns them: empty tensors for None."""
        grads = tuple(args[6].new_empty((0,)) if g is None else g for g in _as_tuple(self.gradients(args[:6], *args[6:])))
        return grads[0] if len(grads) == 1 else grads

    def _setup(self, ctx, inputs, output):
        tensors = inputs[6:6 + self.tensors]
        ctx.save_for_backward(*inputs[:6], *((output,) if self.saves_output else tensors))
        ctx.present = [t is not None for t in tensors]
        ctx.params = inputs[6 + self.tensors:]

    def _input_gradients(self, ctx, grad_out, gradients):
        csr, saved = ctx.saved_tensors[:6], ctx.saved_tensors[6:]
        grads = _as_tuple(gradients(tuple(csr), grad_out, *saved, *ctx.params))
        return (*(None,) * 6, *(g if present else None for g, present in zip(grads, ctx.present)),
                *(None,) * len(ctx.params))

    def __call__(self, csr, *args):
        tensors = args[:self.tensors]
        if eager(*tensors):
            if wants_grad(*tensors):
                return self.eager.apply(*csr, *args)
            return self.forward(csr, *args)
        return self.op(*csr, *args)


def _as_tuple(grads) -> tuple:
    return grads if isinstance(grads, tuple) else (grads,)


def _aggregate_fake(*args):
    functional._reduce(args[8])
    return args[6].new_empty(args[6].shape)


def _aggregate_backward_fake(*args):
    x, w = args[7], args[8]
    return x.new_empty(x.shape), (x.new_empty((0,)) if w is None else w.new_empty(w.shape))


_aggregate = _GraphOp(
    "graph_aggregate", ("Tensor x, Tensor? edge_weight, str reduce", "Tensor"),
    ("Tensor grad_out, Tensor x, Tensor? edge_weight, str reduce", "(Tensor, Tensor)"), 2,
    lambda csr, x, w, reduce: functional.aggregate(_graph_of(csr), x.detach(), reduce, _detached(w)),
    lambda csr, g, x, w, reduce: functional.aggregate_backward(_graph_of(csr), g.contiguous(), x.detach(), reduce,
                                                              _detached(w)),
    _aggregate_fake, _aggregate_backward_fake)

_sddmm = _GraphOp(
    "sddmm", ("Tensor a, Tensor b", "Tensor"), ("Tensor grad_out, Tensor a, Tensor b", "(Tensor, Tensor)"), 2,
    lambda csr, a, b: functional.sddmm(_graph_of(csr), a.detach(), b.detach()),
    lambda csr, g, a, b: functional.sddmm_backward(_graph_of(csr), g.contiguous(), a.detach(), b.detach()),
    lambda *a: a[6].new_empty((a[1].shape[0], *a[6].shape[1:-1])),
    lambda *a: (a[7].new_empty(a[7].shape), a[8].new_empty(a[8].shape)))

_softmax = _GraphOp(
    "edge_softmax", ("Tensor scores", "Tensor"), ("Tensor grad_out, Tensor softmax_out", "Tensor"), 1,
    lambda csr, scores: functional.edge_softmax(_graph_of(csr), scores.detach()),
    lambda csr, g, y: functional.edge_softmax_backward(_graph_of(csr), g.contiguous(), y.detach()),
    lambda *a: a[6].new_empty(a[6].shape), lambda *a: a[7].new_empty(a[7].shape), saves_output=True)


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
    return _aggregate(_csr_tensors(_as_graph(graph, x), x.device), x, edge_weight, reduce)


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
    return _sddmm(_csr_tensors(_as_graph(graph, a, "a"), a.device), a, b)


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
    return _softmax(_csr_tensors(_as_graph(graph, num_nodes=num_nodes), scores.device), scores)


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

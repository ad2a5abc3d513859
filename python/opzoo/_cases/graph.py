"""The graph family's benchmark case and demo: PERF.md case I (aggregation over 100k
nodes and 1.6M edges with 64 float32 features: sum, mean, max), the graph and features
of ../shared/peers/baseline.py (sources Zipf-like, p ~ rank^-0.8, targets uniform),
against torch.sparse.mm on a CSR adjacency (with reduce= for mean and amax),
scipy.sparse's CSR product (sum), torch's index_add_ and scatter_reduce_ over gathered
messages, PyTorch Geometric's ``utils.scatter`` where installed, and a memory floor of
the same run (NumPy -x over the features: x read, one array of its size written). Every
peer gets its CSR or index tensors built outside the timing, as opzoo gets its Graph;
the CSR builds themselves are a row of their own."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _runtime
from ..ops.graph import Graph, aggregate
from . import BenchCase, Row, error_against, register_case, register_demo, threaded_ufunc

CASE_I = (100_000, 1_600_000, 64)
QUICK_I = (2_000, 32_000, 64)
OPZOO, FLOOR, TORCH_SPARSE, SCIPY, TORCH_GATHER, PYG = ("opzoo", "floor: NumPy -x", "torch.sparse.mm (CSR)",
                                                       "scipy.sparse CSR", "torch gather + index_add_/scatter_reduce_",
                                                       "PyG utils.scatter")


def case_i_graph(nodes: int, edges: int, features: int, seed: int = 0):
    """baseline.py's case I: (edge_index (2, E) int64, x (N, F) float32)."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, nodes + 1, dtype=np.float64) ** -0.8
    p /= p.sum()
    source = rng.permutation(nodes)[rng.choice(nodes, size=edges, p=p)].astype(np.int64)
    target = rng.integers(0, nodes, size=edges, dtype=np.int64)
    return np.stack([source, target]), rng.standard_normal((nodes, features), dtype=np.float32)


def _expected(edge_index, x, reduce):
    """The aggregation in float64 with NumPy's unbuffered ufuncs (the reference module's
    edge-by-edge max is too slow at this size)."""
    source, target = edge_index
    n = len(x)
    if reduce == "max":
        out = np.full(x.shape, -np.inf)
        np.maximum.at(out, target, x[source].astype(np.float64))
        out[np.bincount(target, minlength=n) == 0] = 0
        return out
    out = np.zeros(x.shape)
    np.add.at(out, target, x[source].astype(np.float64))
    if reduce == "mean":
        out /= np.maximum(np.bincount(target, minlength=n), 1)[:, None]
    return out


def _torch_peers(edge_index, x):
    """{reduce: {name: callable}} of the torch peers, and the CSR build's, or empty without torch."""
    if importlib.util.find_spec("torch") is None:
        return {}, {}
    import torch

    n = len(x)
    source, target = (torch.from_numpy(np.ascontiguousarray(r)) for r in edge_index)
    tx = torch.from_numpy(x)

    def csr():
        order = torch.argsort(target, stable=True)
        rowptr = torch.zeros(n + 1, dtype=torch.int64)
        rowptr[1:] = torch.cumsum(torch.bincount(target, minlength=n), 0)
        return torch.sparse_csr_tensor(rowptr, source[order], torch.ones(len(order)), size=(n, n))

    adjacency = csr()
    index = target.view(-1, 1).expand(-1, x.shape[1])

    def scatter(reduce):
        return lambda: torch.zeros(x.shape).scatter_reduce_(0, index, tx.index_select(0, source), reduce=reduce,
                                                           include_self=False)

    peers = {
        "sum": {TORCH_SPARSE: lambda: torch.sparse.mm(adjacency, tx),
                TORCH_GATHER: lambda: torch.zeros(x.shape).index_add_(0, target, tx.index_select(0, source))},
        "mean": {TORCH_SPARSE: lambda: torch.sparse.mm(adjacency, tx, reduce="mean"), TORCH_GATHER: scatter("mean")},
        "max": {TORCH_SPARSE: lambda: torch.sparse.mm(adjacency, tx, reduce="amax"), TORCH_GATHER: scatter("amax")},
    }
    if importlib.util.find_spec("torch_geometric") is not None:
        from torch_geometric.utils import scatter as pyg_scatter

        for reduce in peers:
            peers[reduce][PYG] = lambda r=reduce: pyg_scatter(tx.index_select(0, source), target, 0, dim_size=n,
                                                               reduce=r)
    return peers, {TORCH_SPARSE: csr}


def case_i_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    edge_index, x = case_i_graph(*(QUICK_I if quick else CASE_I), seed=seed)
    graph = Graph(edge_index)
    threads = _runtime.get_num_threads()
    negative = threaded_ufunc(ThreadPoolExecutor(threads), threads, np.negative)
    peers, builds = _torch_peers(edge_index, x)
    if importlib.util.find_spec("scipy") is not None:
        import scipy.sparse

        def scipy_csr():
            source, target = edge_index
            return scipy.sparse.csr_matrix((np.ones(len(source), np.float32), (target, source)),
                                           shape=(len(x), len(x)))

        builds[SCIPY] = scipy_csr
        adjacency = scipy_csr()
        peers.setdefault("sum", {})[SCIPY] = lambda: adjacency @ x
    rows = []
    for reduce in ("sum", "mean", "max"):
        impls = {OPZOO: lambda r=reduce: aggregate(graph, x, r), FLOOR: lambda: negative(x), **peers.get(reduce, {})}
        rows.append(Row(reduce, impls, error_against(_expected(edge_index, x, reduce)),
                        rtol=0 if reduce == "max" else 1e-5, floors=(FLOOR,)))
    # The CSR builds, checked as the rowptr they give (scipy's duplicate edges summed, so
    # only opzoo's and torch's counts are compared exactly).
    degree = np.concatenate([[0], np.cumsum(np.bincount(edge_index[1], minlength=len(x)))]).astype(np.float64)

    def rowptr_of(result) -> float:
        rowptr = result.csr[0] if isinstance(result, Graph) else getattr(result, "crow_indices", lambda: None)()
        if rowptr is None:  # scipy's, duplicates summed: its nonzeros are checked elsewhere
            return 0.0
        return float(np.abs(np.asarray(rowptr, np.float64) - degree).max())

    rows.append(Row("CSR build", {OPZOO: lambda: Graph(edge_index), **builds}, rowptr_of, rtol=0))
    return rows


register_case(BenchCase(
    "I", "graph aggregation, {nodes} nodes, {edges} edges (sources Zipf-like), {features} float32 features: sum, "
         "mean, max; the CSR builds apart",
    case_i_rows, [OPZOO, FLOOR, TORCH_SPARSE, SCIPY, TORCH_GATHER, PYG],
    [(OPZOO, FLOOR), (OPZOO, TORCH_SPARSE), (OPZOO, SCIPY), (OPZOO, TORCH_GATHER), (OPZOO, PYG)],
    params=lambda quick: dict(zip(("nodes", "edges", "features"), QUICK_I if quick else CASE_I))))


GPU_FLOOR = "floor: torch -x"


def case_i_gpu_rows(quick: bool = False) -> list[Row]:
    """Case I on the GPU, float32 torch tensors: opzoo's CUDA aggregation against
    torch.sparse.mm on a CUDA CSR (sum only: its reduce= runs on CPU CSR tensors alone,
    pytorch#105790), torch's index_add_ / scatter_reduce_ over gathered messages and
    PyG's utils.scatter (atomics) where installed, with torch -x over the features as the
    floor; checked against NumPy in float64."""
    import torch

    edge_index, x = case_i_graph(*(QUICK_I if quick else CASE_I))
    graph = Graph(edge_index)
    n = len(x)
    tx = torch.from_numpy(x).cuda()
    source, target = (torch.from_numpy(np.ascontiguousarray(r)).cuda() for r in edge_index)
    order = torch.argsort(target, stable=True)
    rowptr = torch.zeros(n + 1, dtype=torch.int64, device="cuda")
    rowptr[1:] = torch.cumsum(torch.bincount(target, minlength=n), 0)
    adjacency = torch.sparse_csr_tensor(rowptr, source[order], torch.ones(len(order), device="cuda"), size=(n, n))
    index = target.view(-1, 1).expand(-1, x.shape[1])

    def scatter(reduce):
        return lambda: torch.zeros(x.shape, device="cuda").scatter_reduce_(0, index, tx.index_select(0, source),
                                                                          reduce=reduce, include_self=False)

    peers = {"sum": {TORCH_SPARSE: lambda: torch.sparse.mm(adjacency, tx),
                     TORCH_GATHER: lambda: torch.zeros(x.shape, device="cuda").index_add_(0, target,
                                                                                          tx.index_select(0, source))},
             "mean": {TORCH_GATHER: scatter("mean")}, "max": {TORCH_GATHER: scatter("amax")}}
    if importlib.util.find_spec("torch_geometric") is not None:
        from torch_geometric.utils import scatter as pyg_scatter

        for reduce in peers:
            peers[reduce][PYG] = lambda r=reduce: pyg_scatter(tx.index_select(0, source), target, 0, dim_size=n,
                                                               reduce=r)
    aggregate(graph, tx, "sum")  # the CSR's copy to the device, made once, outside the timing
    return [Row(reduce, {OPZOO: lambda r=reduce: aggregate(graph, tx, r), GPU_FLOOR: lambda: -tx, **peers[reduce]},
                error_against(_expected(edge_index, x, reduce)), rtol=0 if reduce == "max" else 1e-5,
                floors=(GPU_FLOOR,))
            for reduce in ("sum", "mean", "max")]


register_case(BenchCase(
    "I", "graph aggregation on the GPU, {nodes} nodes, {edges} edges (sources Zipf-like), {features} float32 "
         "features: sum, mean, max",
    case_i_gpu_rows, [OPZOO, GPU_FLOOR, TORCH_SPARSE, TORCH_GATHER, PYG],
    [(OPZOO, GPU_FLOOR), (OPZOO, TORCH_SPARSE), (OPZOO, TORCH_GATHER), (OPZOO, PYG)],
    params=lambda quick: dict(zip(("nodes", "edges", "features"), QUICK_I if quick else CASE_I)), device="gpu"))


def _demo() -> tuple[str, bool]:
    edge_index, x = case_i_graph(500, 4000, 16)
    graph = Graph(edge_index)
    out = aggregate(graph, x, "mean")
    ok = bool(np.allclose(out, _expected(edge_index, x, "mean"), atol=1e-5))
    return f"{graph}: mean of in-neighbours' features {x.shape} -> {out.shape}, as NumPy's add.at", ok


register_demo("graph", _demo)

"""Corner/center pooling's benchmark case and demo: PERF.md case C (4x128x128x128,
float32), the top-left pair and center pooling, against torch.cummax on flipped tensors
(mmcv's CornerPool) and torch.amax, a numba loop (the best peer measured; when numba is
installed), the NumPy reference, and the memory floor of the same run: ``a + b`` in
NumPy, on as many threads as opzoo runs (ufuncs release the GIL), moves the same bytes
(two maps read, one written) with next to no arithmetic."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _runtime, reference
from ..ops.corner_pool import center_pool, corner_pool_pair
from . import GPU_TOLERANCE, BenchCase, Row, error_against, register_case, register_demo, threaded_ufunc

CASE_C_SHAPE = (4, 128, 128, 128)
OPZOO, FLOOR, TORCH, NUMBA, NUMPY = "opzoo", "floor: NumPy a + b", "torch", "numba loops", "NumPy reference"


def _numba_kernels():
    """The loops a user writes in an afternoon (../shared/peers/baseline.py's), one plane per prange task."""
    if importlib.util.find_spec("numba") is None:
        return None
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def top_left(a, b, out):
        N, C, H, W = a.shape
        for p in prange(N * C):
            n, c = p // C, p % C
            for j in range(W):
                out[n, c, H - 1, j] = a[n, c, H - 1, j]
            for i in range(H - 2, -1, -1):
                for j in range(W):
                    v, m = a[n, c, i, j], out[n, c, i + 1, j]
                    out[n, c, i, j] = v if v > m else m
            for i in range(H):
                m = b[n, c, i, W - 1]
                out[n, c, i, W - 1] += m
                for j in range(W - 2, -1, -1):
                    if b[n, c, i, j] > m:
                        m = b[n, c, i, j]
                    out[n, c, i, j] += m

    @njit(parallel=True, cache=False)
    def center(a, b, out):
        N, C, H, W = a.shape
        for p in prange(N * C):
            n, c = p // C, p % C
            col = a[n, c, 0].copy()
            for i in range(1, H):
                for j in range(W):
                    if a[n, c, i, j] > col[j]:
                        col[j] = a[n, c, i, j]
            for i in range(H):
                m = b[n, c, i, 0]
                for j in range(1, W):
                    if b[n, c, i, j] > m:
                        m = b[n, c, i, j]
                for j in range(W):
                    out[n, c, i, j] = col[j] + m

    def run(kernel, a, b):
        out = np.empty_like(a)
        kernel(a, b, out)
        return out

    return lambda a, b: run(top_left, a, b), lambda a, b: run(center, a, b)


def case_c_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    shape = (1, 32, 64, 64) if quick else CASE_C_SHAPE
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(shape, dtype=np.float32) for _ in range(2))
    a_nhwc, b_nhwc = (np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in (a, b))
    threads = _runtime.get_num_threads()
    add = threaded_ufunc(ThreadPoolExecutor(threads), threads, np.add)
    floor = {FLOOR: lambda: add(a, b)}
    first = slice(0, 1)  # the reference on the first image only: it is slow
    pair_ref = reference.corner_pool_pair(a[first], b[first])
    center_ref = reference.center_pool(a[first], b[first])
    pair = {OPZOO: lambda: corner_pool_pair(a, b), **floor}
    pair_nhwc = {OPZOO: lambda: corner_pool_pair(a_nhwc, b_nhwc, layout="NHWC").transpose(0, 3, 1, 2), **floor}
    center = {OPZOO: lambda: center_pool(a, b), **floor}
    center_nhwc = {OPZOO: lambda: center_pool(a_nhwc, b_nhwc, layout="NHWC").transpose(0, 3, 1, 2), **floor}
    if importlib.util.find_spec("torch") is not None:
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        ta_cl, tb_cl = (t.contiguous(memory_format=torch.channels_last) for t in (ta, tb))


        pair[TORCH] = lambda: _mmcv_top_left(ta, tb)
        pair_nhwc[TORCH] = lambda: _mmcv_top_left(ta_cl, tb_cl)
        center[TORCH] = lambda: _amax_center(ta, tb)
        center_nhwc[TORCH] = lambda: _amax_center(ta_cl, tb_cl)
    numba = None if quick else _numba_kernels()
    if numba is not None:
        pair[NUMBA] = lambda: numba[0](a, b)
        center[NUMBA] = lambda: numba[1](a, b)
    if not quick:
        pair[NUMPY] = lambda: reference.corner_pool_pair(a, b)
        center[NUMPY] = lambda: reference.center_pool(a, b)
    return [Row(label, impls, error_against(ref), floors=(FLOOR,))
            for label, impls, ref in (("top_left pair NCHW", pair, pair_ref), ("top_left pair NHWC", pair_nhwc, pair_ref),
                                      ("center NCHW", center, center_ref), ("center NHWC", center_nhwc, center_ref))]


register_case(BenchCase(
    "C", "corner pooling (top-left pair) and center pooling, {shape}, float32", case_c_rows,
    [OPZOO, FLOOR, TORCH, NUMBA, NUMPY], [(OPZOO, FLOOR), (OPZOO, NUMBA), (OPZOO, TORCH)],
    params=lambda quick: {"shape": "x".join(map(str, (1, 32, 64, 64) if quick else CASE_C_SHAPE))},
    slow=(NUMPY,)))


GPU_FLOOR = "floor: torch a + b"


def _mmcv_top_left(a, b):
    """mmcv's CornerPool("top") plus CornerPool("left"): torch.cummax on flipped tensors."""
    import torch

    return torch.cummax(a.flip(2), 2)[0].flip(2) + torch.cummax(b.flip(3), 3)[0].flip(3)


def _amax_center(a, b):
    import torch

    return torch.amax(a, 2, keepdim=True) + torch.amax(b, 3, keepdim=True)


def _gpu_rows(short: str, a, b, tol: float) -> list[Row]:
    """The four rows of case C on the GPU for tensors a and b of one dtype."""
    import torch

    a_cl, b_cl = (t.contiguous(memory_format=torch.channels_last) for t in (a, b))
    a_nhwc, b_nhwc = (t.permute(0, 2, 3, 1) for t in (a_cl, b_cl))  # dense (N, H, W, C) views
    floor = {GPU_FLOOR: lambda: a + b}
    rows = []
    for label, ours, ours_nhwc, theirs in (
            ("top_left pair", lambda: corner_pool_pair(a, b),
             lambda: corner_pool_pair(a_nhwc, b_nhwc, layout="NHWC").permute(0, 3, 1, 2), _mmcv_top_left),
            ("center", lambda: center_pool(a, b),
             lambda: center_pool(a_nhwc, b_nhwc, layout="NHWC").permute(0, 3, 1, 2), _amax_center)):
        expected = theirs(a.float(), b.float())

        def check(y, e=expected):
            return float((y.float() - e).abs().max()) / (float(e.abs().max()) + 1.0)

        rows.append(Row(f"{label} NCHW {short}", {OPZOO: ours, TORCH: lambda t=theirs: t(a, b), **floor}, check, tol,
                        group=short, floors=(GPU_FLOOR,)))
        rows.append(Row(f"{label} channels_last {short}",
                        {OPZOO: ours_nhwc, TORCH: lambda t=theirs: t(a_cl, b_cl), **floor}, check, tol, group=short,
                        floors=(GPU_FLOOR,)))
    return rows


def case_c_gpu_rows(quick: bool = False) -> list[Row]:
    """Case C on the GPU, float32 and float16: opzoo's CUDA pools on torch tensors (NCHW,
    and channels_last through the NHWC kernels) against mmcv's cummax formulation and
    torch.amax, with torch's a + b as the floor; each checked against torch's float32 result."""
    import torch

    generator = torch.Generator(device="cuda").manual_seed(0)
    shape = (1, 32, 64, 64) if quick else CASE_C_SHAPE
    rows = []
    for short, name in (("fp32", "float32"), ("fp16", "float16")):
        a, b = (torch.randn(shape, device="cuda", generator=generator).to(getattr(torch, name)) for _ in range(2))
        rows += _gpu_rows(short, a, b, GPU_TOLERANCE[name])
    return rows


register_case(BenchCase(
    "C", "corner pooling (top-left pair) and center pooling, {shape}, float32 and float16, against torch on the GPU",
    case_c_gpu_rows, [OPZOO, GPU_FLOOR, TORCH], [(OPZOO, GPU_FLOOR), (OPZOO, TORCH)],
    params=lambda quick: {"shape": "x".join(map(str, (1, 32, 64, 64) if quick else CASE_C_SHAPE))}, device="gpu"))


def _demo() -> tuple[str, bool]:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 2, 8, 24, 24), dtype=np.float32)
    y = corner_pool_pair(a, b, "top_left")
    err = float(np.abs(y - reference.corner_pool_pair(a, b, "top_left")).max())
    return f"a, b{a.shape} top_left -> y{y.shape}  max |error| vs reference {err:.2e}", err < 1e-5


register_demo("corner_pool", _demo)

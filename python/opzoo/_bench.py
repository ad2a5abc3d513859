"""Micro-benchmarks against the peers users would otherwise pick (``python -m opzoo bench``).

The cases are those of the project's PERF.md. Every implementation's result is
checked against the NumPy reference before it is timed; timings are medians of
repeated calls. By default the implementations of a case are interleaved call by call,
so that a noisy machine slows them alike and every call starts with the data the
previous implementation left in the caches. ``--back-to-back`` instead repeats each
implementation in bursts of consecutive calls (its first call in a burst not counted),
so its inputs stay in the caches, as PERF.md's peer figures were measured. Nothing is
cached between calls: each call computes its output from its inputs, as a user's call
would.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _runtime, reference
from .ops.depthwise import depthwise_conv2d

#: PERF.md case A: EfficientNet-B0's distinct depthwise layers at 224 px, as
#: (channels, input height = width, kernel, stride); padding is kernel // 2.
EFFICIENTNET_B0_DEPTHWISE = [
    (32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 5, 2),
    (240, 28, 5, 1), (240, 28, 3, 2), (480, 14, 3, 1), (480, 14, 5, 1),
    (672, 14, 5, 1), (672, 14, 5, 2), (1152, 7, 5, 1), (1152, 7, 3, 1),
]  # fmt: skip
CASE_A_BATCH = 8

OPZOO_NCHW, OPZOO_NHWC = "opzoo NCHW", "opzoo NHWC"
TORCH_NCHW, TORCH_CL = "torch NCHW", "torch channels_last"
NUMPY = "NumPy reference"
#: Every implementation of case A, in table order.
CASE_A_IMPLS = [OPZOO_NCHW, OPZOO_NHWC, TORCH_NCHW, TORCH_CL, NUMPY]
#: (opzoo implementation, peer it is measured against) for the ratio columns.
CASE_A_RATIOS = [(OPZOO_NCHW, TORCH_NCHW), (OPZOO_NHWC, TORCH_CL)]


@dataclass
class Layer:
    """One benchmark shape and the callables that compute it, each with no arguments."""

    label: str
    impls: dict[str, Callable[[], object]] = field(default_factory=dict)
    expected: np.ndarray | None = None  # reference output, NCHW axes


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def case_a_layers(batch: int = CASE_A_BATCH, with_numpy: bool = True, seed: int = 0) -> list[Layer]:
    """PERF.md case A: every layer with opzoo (NCHW, NHWC) and each installed peer."""
    rng = np.random.default_rng(seed)
    torch = _torch()
    layers = []
    for C, H, k, s in EFFICIENTNET_B0_DEPTHWISE:
        x = rng.standard_normal((batch, C, H, H), dtype=np.float32)
        w = (rng.standard_normal((C, 1, k, k), dtype=np.float32) / k).astype(np.float32)
        x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        p = k // 2
        layer = Layer(f"C{C} H{H} k{k} s{s}")
        layer.impls[OPZOO_NCHW] = lambda x=x, w=w, s=s, p=p: depthwise_conv2d(x, w, stride=s, padding=p)
        layer.impls[OPZOO_NHWC] = lambda x=x_nhwc, w=w, s=s, p=p: depthwise_conv2d(
            x, w, stride=s, padding=p, layout="NHWC"
        ).transpose(0, 3, 1, 2)
        if torch is not None:
            import torch.nn.functional as F

            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            xcl = xt.contiguous(memory_format=torch.channels_last)
            layer.impls[TORCH_NCHW] = lambda xt=xt, wt=wt, s=s, p=p, C=C: F.conv2d(xt, wt, None, s, p, 1, C)
            layer.impls[TORCH_CL] = lambda xt=xcl, wt=wt, s=s, p=p, C=C: F.conv2d(xt, wt, None, s, p, 1, C)
        if with_numpy:
            layer.impls[NUMPY] = lambda x=x, w=w, s=s, p=p: reference.depthwise_conv2d(x, w, stride=s, padding=p)
        layer.expected = reference.depthwise_conv2d(x[:2], w, stride=s, padding=p)
        layers.append(layer)
    return layers


def as_numpy(result) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(result, torch.Tensor):
        return result.detach().numpy()
    return np.asarray(result)


def check(layer: Layer, name: str, rtol: float = 1e-5) -> float:
    """Runs one implementation and compares it with the reference; returns the error."""
    got = as_numpy(layer.impls[name]())[: layer.expected.shape[0]]
    scale = np.abs(layer.expected).max() + 1.0
    err = float(np.abs(got.astype(np.float64) - layer.expected).max() / scale)
    if not err <= rtol:
        raise AssertionError(f"{layer.label} {name}: error {err:.3g} against the NumPy reference")
    return err


def time_interleaved(impls: dict[str, Callable[[], object]], reps: int, budget_s: float) -> dict[str, list[float]]:
    """Seconds per call of each implementation, calling them in turn, after one warm-up each."""
    for fn in impls.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in impls}
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while True:
            for name, fn in impls.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
            done = len(next(iter(times.values())))
            if done >= reps and (time.perf_counter() - start >= budget_s or done >= 10 * reps):
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def time_back_to_back(impls: dict[str, Callable[[], object]], reps: int, budget_s: float,
                      bursts: int = 3) -> dict[str, list[float]]:
    """Seconds per call of each implementation, in bursts of consecutive calls.

    The implementations take turns by burst; the first call of each burst refills the
    caches with that implementation's data and is not counted.
    """
    times: dict[str, list[float]] = {name: [] for name in impls}
    per_burst = max(1, -(-reps // bursts))
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(bursts):
            for name, fn in impls.items():
                fn()
                start = time.perf_counter()
                calls = 0
                while calls < per_burst or (time.perf_counter() - start < budget_s / bursts and calls < 10 * per_burst):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
                    calls += 1
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream = total, 0, stream

    def step(self, what: str) -> None:
        self.done += 1
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {what:<40.40}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + " " * 80 + "\r")
        self.stream.flush()


def format_table(rows: list[dict], columns: list[str], ratios: list[tuple[str, str]]) -> str:
    """Median ms per implementation and peer/opzoo ratios (> 1: opzoo is faster)."""
    header = ["layer"] + columns + [f"{peer} / {ours}" for ours, peer in ratios]
    lines = [header]
    for row in rows:
        cells = [row["label"]]
        cells += [f"{row['ms'][c]:.3f}" if c in row["ms"] else "-" for c in columns]
        for ours, peer in ratios:
            ok = ours in row["ms"] and peer in row["ms"]
            cells.append(f"{row['ms'][peer] / row['ms'][ours]:.2f}x" if ok else "-")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(cell.rjust(w) if j else cell.ljust(w) for j, (cell, w) in enumerate(zip(line, widths))))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def run_case_a(quick: bool = False, progress: bool = True, back_to_back: bool = False) -> dict:
    """Times PERF.md case A; returns {"rows": [...], "sum": {...}} in milliseconds."""
    layers = case_a_layers(batch=2 if quick else CASE_A_BATCH, with_numpy=not quick)
    reps, budget = (3, 0.05) if quick else (15, 0.5)
    bar = Progress(len(layers)) if progress else None
    rows = []
    try:
        for layer in layers:
            errors = {name: check(layer, name) for name in layer.impls}
            impls = dict(layer.impls)
            numpy_fn = impls.pop(NUMPY, None)
            times = (time_back_to_back if back_to_back else time_interleaved)(impls, reps, budget)
            if numpy_fn is not None:  # too slow to interleave: a few calls of its own
                times.update(time_interleaved({NUMPY: numpy_fn}, 3, 0.0))
            rows.append({
                "label": layer.label,
                "ms": {name: statistics.median(ts) * 1e3 for name, ts in times.items()},
                "min_ms": {name: min(ts) * 1e3 for name, ts in times.items()},
                "calls": {name: len(ts) for name, ts in times.items()},
                "max_error": errors,
            })
            if bar:
                bar.step(layer.label)
    finally:
        if bar:
            bar.close()
    names = list(rows[0]["ms"]) if rows else []
    total = {name: sum(r["ms"][name] for r in rows) for name in names if all(name in r["ms"] for r in rows)}
    return {"rows": rows, "sum": total, "batch": 2 if quick else CASE_A_BATCH,
            "timing": "back-to-back" if back_to_back else "interleaved"}


#: PERF.md's GPU goal: case A at this batch, against torch's cuDNN path.
CASE_A_GPU_BATCH = 64
CASE_A_GPU_IMPLS = [OPZOO_NCHW, OPZOO_NHWC, TORCH_NCHW, TORCH_CL]
#: Largest error relative to the float32 result's scale that a dtype's rounding allows.
GPU_TOLERANCE = {"float32": 1e-5, "float16": 1e-2}


def time_cuda(fn: Callable[[], object], torch, reps: int, calls: int) -> list[float]:
    """Seconds per call of `fn` on the GPU: `reps` CUDA-event timings of `calls` calls each."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / calls)
    return times


def run_case_a_gpu(batch: int = CASE_A_GPU_BATCH, quick: bool = False, progress: bool = True) -> dict:
    """Case A on the GPU, float32 and float16: opzoo against torch (cuDNN), NCHW and
    channels_last; every result checked against torch's float32 one first."""
    import torch
    import torch.nn.functional as F

    torch.backends.cudnn.benchmark = True  # torch's best algorithm per shape, as users run it
    torch.backends.cudnn.allow_tf32 = False  # float32 means float32 on both sides
    reps, calls = (3, 3) if quick else (15, 10)
    generator = torch.Generator(device="cuda").manual_seed(0)
    bar = Progress(2 * len(EFFICIENTNET_B0_DEPTHWISE)) if progress else None
    rows = []
    try:
        for dtype_name, dtype in (("float32", torch.float32), ("float16", torch.float16)):
            for C, H, k, s in EFFICIENTNET_B0_DEPTHWISE:
                p = k // 2
                x = torch.randn(batch, C, H, H, device="cuda", generator=generator).to(dtype)
                w = (torch.randn(C, 1, k, k, device="cuda", generator=generator) / k).to(dtype)
                xcl = x.contiguous(memory_format=torch.channels_last)
                x_nhwc = x.permute(0, 2, 3, 1).contiguous()
                impls = {
                    OPZOO_NCHW: lambda x=x, w=w, s=s, p=p: depthwise_conv2d(x, w, stride=s, padding=p),
                    OPZOO_NHWC: lambda x=x_nhwc, w=w, s=s, p=p: depthwise_conv2d(
                        x, w, stride=s, padding=p, layout="NHWC").permute(0, 3, 1, 2),
                    TORCH_NCHW: lambda x=x, w=w, s=s, p=p, C=C: F.conv2d(x, w, None, s, p, 1, C),
                    TORCH_CL: lambda x=xcl, w=w, s=s, p=p, C=C: F.conv2d(x, w, None, s, p, 1, C),
                }
                expected = F.conv2d(x.float(), w.float(), None, s, p, 1, C)
                scale = float(expected.abs().max()) + 1.0
                errors = {}
                for name, fn in impls.items():
                    errors[name] = float((fn().float() - expected).abs().max()) / scale
                    if not errors[name] <= GPU_TOLERANCE[dtype_name]:
                        raise AssertionError(f"C{C} H{H} k{k} s{s} {dtype_name} {name}: error {errors[name]:.3g}")
                times = {name: time_cuda(fn, torch, reps, calls) for name, fn in impls.items()}
                label = f"C{C} H{H} k{k} s{s} {'fp32' if dtype_name == 'float32' else 'fp16'}"
                rows.append({"label": label, "dtype": dtype_name,
                             "ms": {name: statistics.median(ts) * 1e3 for name, ts in times.items()},
                             "max_error": errors})
                if bar:
                    bar.step(label)
    finally:
        if bar:
            bar.close()
    sums = {}
    for dtype_name in ("float32", "float16"):
        part = [r for r in rows if r["dtype"] == dtype_name]
        sums[dtype_name] = {name: sum(r["ms"][name] for r in part) for name in CASE_A_GPU_IMPLS}
    return {"rows": rows, "sum": sums, "batch": batch, "device": torch.cuda.get_device_name()}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m opzoo bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batch, few repetitions, no NumPy peer")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    parser.add_argument("--threads", type=int, default=None, help="threads for opzoo and torch (default: opzoo's)")
    parser.add_argument("--gpu", action="store_true",
                        help=f"case A on the GPU at batch {CASE_A_GPU_BATCH}, float32 and float16, against torch's "
                             "cuDNN path (needs the CUDA module and torch with CUDA)")
    parser.add_argument("--back-to-back", action="store_true",
                        help="time each implementation in bursts of consecutive calls (warm caches, as PERF.md's "
                             "peer figures) instead of interleaving them call by call")
    args = parser.parse_args(argv)

    if args.gpu:
        return _main_gpu(args)
    if args.threads is not None:
        _runtime.set_num_threads(args.threads)
    threads = _runtime.get_num_threads()
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
    info = _runtime.info()
    print(f"opzoo {info['version']}  simd={info['simd']}  threads={threads}  "
          f"torch={'not installed' if torch is None else torch.__version__}  numpy={np.__version__}")
    result = run_case_a(quick=args.quick, back_to_back=args.back_to_back)
    columns = [c for c in CASE_A_IMPLS if c in result["sum"]]
    print(f"\nCase A: depthwise conv2d, EfficientNet-B0 layers, batch {result['batch']}, float32 "
          f"(median ms per call, {result['timing']}; ratios > 1 mean opzoo is faster)\n")
    rows = result["rows"] + [{"label": "SUM", "ms": result["sum"]}]
    print(format_table(rows, columns, CASE_A_RATIOS))
    if torch is None:
        print("\ntorch is not installed: pip install torch for the PyTorch columns")
    if args.json:
        payload = {
            "opzoo": info,
            "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "numpy": np.__version__,
                        "torch": None if torch is None else torch.__version__},
            "threads": threads,
            "cases": {"A": result},
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


def _main_gpu(args) -> int:
    torch = _torch()
    if torch is None or not torch.cuda.is_available() or not _runtime.info()["cuda"]["available"]:
        print("--gpu needs a CUDA device, opzoo's CUDA module and torch with CUDA", file=sys.stderr)
        return 2
    result = run_case_a_gpu(quick=args.quick)
    print(f"opzoo {_runtime.info()['version']}  device={result['device']}  torch={torch.__version__}")
    print(f"\nCase A on the GPU: depthwise conv2d, EfficientNet-B0 layers, batch {result['batch']} "
          "(median ms per call from CUDA events; ratios > 1 mean opzoo is faster)\n")
    rows = list(result["rows"])
    rows += [{"label": f"SUM {'fp32' if d == 'float32' else 'fp16'}", "ms": ms} for d, ms in result["sum"].items()]
    print(format_table(rows, CASE_A_GPU_IMPLS, CASE_A_RATIOS))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"opzoo": _runtime.info(), "torch": torch.__version__, "cases": {"A_gpu": result}}, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0

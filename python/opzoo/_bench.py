"""Micro-benchmarks against the peers users would otherwise pick (``python -m opzoo bench``).

The cases are those of the project's PERF.md, registered by each op family in
:mod:`opzoo._cases`. Every implementation's result is checked against the reference
before it is timed; timings are medians of repeated calls. By default the
implementations of a case are interleaved call by call, so that a noisy machine slows
them alike and every call starts with the data the previous implementation left in the
caches. ``--back-to-back`` instead repeats each implementation in bursts of consecutive
calls (its first call in a burst not counted), so its inputs stay in the caches, as
PERF.md's peer figures were measured. GPU cases (``--gpu``) are timed with CUDA events.
At a SIMD level below the CPU's (``OPZOO_SIMD=avx2`` on an AVX-512 machine) torch is
capped at that level too (oneDNN's ``ONEDNN_MAX_CPU_ISA``, ATen's
``ATEN_CPU_CAPABILITY``, unless set already), so that the ratios are those a CPU of that
level gives; the header says what torch ran.
Nothing is cached between calls: each call computes its output from its inputs, as a
user's call would.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

import numpy as np

from . import _runtime
from ._cases import BenchCase, Row, bench_cases


#: The environment that caps torch's CPU kernels (oneDNN's JIT, ATen's vectorised code) at
#: each opzoo SIMD level below the best; read when torch first runs a kernel.
PEER_SIMD_CAPS = {
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
    "scalar": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"},
}


def cap_peer_simd(info: dict, environ=os.environ) -> dict[str, str]:
    """When opzoo runs below the CPU's SIMD level (OPZOO_SIMD), the variables that cap
    torch at the same level, set in `environ` where the caller has not set them; the
    values in force. Takes effect only before torch runs its first kernel."""
    if info["simd"] == info["simd_detected"]:
        return {}
    caps = PEER_SIMD_CAPS.get(info["simd"], {})
    for name, value in caps.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in caps}


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def check(row: Row, name: str) -> float | None:
    """Runs one implementation and checks its result; returns the error (None for a floor)."""
    result = row.impls[name]()
    if name in row.floors:
        return None
    err = row.check(result)
    if not err <= row.rtol:
        raise AssertionError(f"{row.label} {name}: error {err:.3g} against the reference")
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


def run_case(case: BenchCase, quick: bool = False, progress: bool = True, back_to_back: bool = False) -> dict:
    """Times one case; returns {"rows": [...], "sum": {...}, ...} in milliseconds. "sum"
    maps implementations to totals, or each row group to its totals."""
    rows_in = case.rows(quick)
    gpu = case.device == "gpu"
    if gpu:
        torch = _torch()
        reps, calls = (3, 3) if quick else (15, 10)
    else:
        reps, budget = (3, 0.05) if quick else (15, 0.5)
    bar = Progress(len(rows_in)) if progress else None
    rows = []
    try:
        for row in rows_in:
            errors = {name: check(row, name) for name in row.impls}
            if gpu:
                times = {name: time_cuda(fn, torch, reps, calls) for name, fn in row.impls.items()}
            else:
                impls = {n: fn for n, fn in row.impls.items() if n not in case.slow}
                times = (time_back_to_back if back_to_back else time_interleaved)(impls, reps, budget)
                for name in case.slow:  # too slow to time with the rest: a few calls of its own
                    if name in row.impls:
                        times.update(time_interleaved({name: row.impls[name]}, 3, 0.0))
            rows.append({
                "label": row.label,
                "group": row.group,
                "ms": {name: statistics.median(ts) * 1e3 for name, ts in times.items()},
                "min_ms": {name: min(ts) * 1e3 for name, ts in times.items()},
                "calls": {name: len(ts) for name, ts in times.items()},
                "max_error": errors,
            })
            if bar:
                bar.step(row.label)
    finally:
        if bar:
            bar.close()
    groups = list(dict.fromkeys(r["group"] for r in rows))
    sums = {g: _sum([r for r in rows if r["group"] == g]) for g in groups}
    timing = "CUDA events" if gpu else "back-to-back" if back_to_back else "interleaved"
    result = {"rows": rows, "sum": sums[None] if groups == [None] else sums, "timing": timing, **case.params(quick)}
    if case.breakdown is not None:
        what, table = case.breakdown(quick)
        result["breakdown"] = {"what": what, "rows": table}
    return result


def _sum(rows: list[dict]) -> dict:
    """Total ms of each implementation that every row has."""
    names = list(rows[0]["ms"]) if rows else []
    return {name: sum(r["ms"][name] for r in rows) for name in names if all(name in r["ms"] for r in rows)}


def case_table(case: BenchCase, result: dict) -> str:
    """The case's heading and its table, with a SUM row per group."""
    sums = result["sum"] if isinstance(next(iter(result["sum"].values()), None), dict) else {None: result["sum"]}
    rows = result["rows"] + [{"label": "SUM" if g is None else f"SUM {g}", "ms": ms} for g, ms in sums.items()]
    columns = [c for c in case.columns if any(c in ms for ms in sums.values())]
    where = " on the GPU" if case.device == "gpu" else ""
    title = case.title.format(**result)
    text = (f"Case {case.name}{where}: {title} (median ms per call, {result['timing']}; "
            f"ratios > 1 mean opzoo is faster)\n\n{format_table(rows, columns, case.ratios)}")
    if "breakdown" in result:
        table = result["breakdown"]["rows"]
        stages = list(dict.fromkeys(stage for ms in table.values() for stage in ms))
        text += (f"\n\nCase {case.name}, {result['breakdown']['what']}\n\n"
                 + format_table([{"label": label, "ms": ms} for label, ms in table.items()], stages, []))
    return text


def main(argv: list[str] | None = None) -> int:
    import argparse

    cases = bench_cases()
    names = sorted({c.name for c in cases})
    parser = argparse.ArgumentParser(prog="python -m opzoo bench", description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=names, metavar="NAME",
                        help=f"run only this case (repeatable; registered: {', '.join(names)}); default: all")
    parser.add_argument("--quick", action="store_true", help="small inputs, few repetitions, no NumPy peer")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    parser.add_argument("--threads", type=int, default=None, help="threads for opzoo and torch (default: opzoo's)")
    parser.add_argument("--gpu", action="store_true",
                        help="the GPU cases instead, against torch on the GPU (needs the CUDA module and torch "
                             "with CUDA)")
    parser.add_argument("--back-to-back", action="store_true",
                        help="time each implementation in bursts of consecutive calls (warm caches, as PERF.md's "
                             "peer figures) instead of interleaving them call by call")
    args = parser.parse_args(argv)

    device = "gpu" if args.gpu else "cpu"
    chosen = [c for c in cases if c.device == device and (not args.case or c.name in args.case)]
    torch_was_imported = "torch" in sys.modules
    peer_caps = {} if args.gpu else cap_peer_simd(_runtime.info())
    torch = _torch()
    if args.gpu and (torch is None or not torch.cuda.is_available() or not _runtime.info()["cuda"]["available"]):
        print("--gpu needs a CUDA device, opzoo's CUDA module and torch with CUDA", file=sys.stderr)
        return 2
    if not chosen:
        print(f"no {device.upper()} case among {args.case}", file=sys.stderr)
        return 2
    if args.threads is not None:
        _runtime.set_num_threads(args.threads)
    threads = _runtime.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    info = _runtime.info()
    where = (f"device={torch.cuda.get_device_name()}" if args.gpu
             else f"simd={info['simd']}  cpu={info['cpu_vendor']}  threads={threads}")
    torch_simd = ""
    if torch is not None and not args.gpu:
        torch_simd = f" ({torch.backends.cpu.get_cpu_capability()}"
        torch_simd += ", not capped: imported before the bench)" if peer_caps and torch_was_imported else ")"
    print(f"opzoo {info['version']}  {where}  "
          f"torch={'not installed' if torch is None else torch.__version__}{torch_simd}  numpy={np.__version__}")
    if peer_caps and torch is not None:
        print("torch capped at opzoo's SIMD level: " + "  ".join(f"{k}={v}" for k, v in peer_caps.items()))
    results = {}
    for case in chosen:
        result = run_case(case, quick=args.quick, back_to_back=args.back_to_back)
        results[case.key] = result
        print("\n" + case_table(case, result))
    if torch is None:
        print("\ntorch is not installed: pip install torch for the PyTorch columns")
    if args.json:
        payload = {
            "opzoo": info,
            "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "numpy": np.__version__,
                        "torch": None if torch is None else torch.__version__},
            "threads": threads,
            "peer_simd_caps": peer_caps,
            "cases": results,
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0

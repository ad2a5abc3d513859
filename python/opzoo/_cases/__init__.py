"""What each op family registers for ``python -m opzoo bench`` and ``python -m opzoo demo``.

A family's module here (``_cases/<family>.py``) calls :func:`register_case` for each of
its benchmark cases (PERF.md's letters) and :func:`register_demo` for its demo; the
harness (:mod:`opzoo._bench`) and ``__main__`` find every module in this package, so a
new family adds its file and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: GPU cases: the largest error relative to the float32 result's scale that a dtype's rounding allows.
GPU_TOLERANCE = {"float32": 1e-5, "float16": 1e-2}


@dataclass
class Row:
    """One shape of a case: each implementation as a callable with no arguments, and
    `check`, the error of an implementation's result (it must be <= `rtol`)."""

    label: str
    impls: dict[str, Callable[[], Any]]
    check: Callable[[Any], float]
    rtol: float = 1e-5
    #: Rows of one group are summed together, as "SUM <group>"; None: one sum for all.
    group: str | None = None
    #: Implementations that time a floor (the same bytes moved by a trivial operation),
    #: not the op: their results are not checked.
    floors: tuple[str, ...] = ()


@dataclass
class BenchCase:
    """A benchmark case: its rows, which implementations are compared, and how."""

    name: str  # PERF.md's letter
    title: str  # formatted with params(quick)
    rows: Callable[[bool], list[Row]]  # quick -> the rows, with fresh inputs
    columns: list[str]  # every implementation, in table order
    ratios: list[tuple[str, str]]  # (opzoo's implementation, the peer it is measured against)
    params: Callable[[bool], dict] = field(default=lambda quick: {})  # quick -> facts for the title and JSON
    #: "gpu": timed with CUDA events, run by ``--gpu``.
    device: str = "cpu"
    #: Implementations too slow to time with the rest: a few calls of their own.
    slow: tuple[str, ...] = ()
    #: quick -> (what it shows, {row label: {column: ms}}): a second table after the timings
    #: (a model's time per stage), or None.
    breakdown: Callable[[bool], tuple[str, dict[str, dict[str, float]]]] | None = None

    @property
    def family(self) -> str:
        """The op family that registered the case: the name of its module here."""
        return self.rows.__module__.rsplit(".", 1)[-1]

    @property
    def key(self) -> str:
        """The case's name in JSON: its letter, with "_gpu" for a GPU case."""
        return self.name if self.device == "cpu" else f"{self.name}_gpu"


@dataclass
class Demo:
    """Runs an op once on small random data; returns a line to print and whether the
    result agreed with the reference."""

    name: str
    run: Callable[[], tuple[str, bool]]


_CASES: list[BenchCase] = []
_DEMOS: list[Demo] = []


def register_case(case: BenchCase) -> None:
    _CASES.append(case)


def register_demo(name: str, run: Callable[[], tuple[str, bool]]) -> None:
    _DEMOS.append(Demo(name, run))


def _load() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")


def bench_cases() -> list[BenchCase]:
    """Every registered case, in the order of their names."""
    _load()
    return sorted(_CASES, key=lambda c: (c.name, c.device))


def demos() -> list[Demo]:
    _load()
    return list(_DEMOS)


def as_numpy(result) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(result, torch.Tensor):
        return result.detach().float().cpu().numpy()
    return np.asarray(result)


def threaded_ufunc(pool, threads: int, ufunc):
    """ufunc(*arrays) into a new array, the elements split in `threads` contiguous parts, a
    part per thread of `pool` (ufuncs release the GIL): the memory floors' trivial ops."""

    def run(*arrays):
        out = np.empty_like(arrays[0])
        flat = [a.reshape(-1) for a in (*arrays, out)]
        bounds = np.linspace(0, out.size, threads + 1).astype(int)
        parts = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
        for f in [pool.submit(ufunc, *(a[p] for a in flat[:-1]), out=flat[-1][p]) for p in parts]:
            f.result()
        return out

    return run


def error_against(expected: np.ndarray) -> Callable[[Any], float]:
    """A check: max error relative to the reference's scale. `expected` may cover only
    the leading entries of the result's first axis (the reference is slow)."""

    def check(result) -> float:
        got = as_numpy(result)[: expected.shape[0]]
        scale = np.abs(expected).max() + 1.0
        return float(np.abs(got.astype(np.float64) - expected).max() / scale)

    return check

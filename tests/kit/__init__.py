"""What the tests of every op family share.

* Helpers: :func:`assert_close`, the SIMD levels this machine runs, :func:`tuned_for` (the
  CPU vendor kernels tune for), the activation names the kernels know and where their
  derivatives jump.
* Test-kit entries: each family's ``tests/kit/<family>.py`` defines ``ENTRIES``, a list of
  :class:`KitEntry` (input maker, reference, peer, bad-input table), one per op; the
  contract suite (``tests/contract``) runs every entry :func:`entries` finds. A new family
  adds its file and nothing else.
* :mod:`kit.fake_gpu`: a host-memory stand-in for CUDA arrays and for ``opzoo._cuda``.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from opzoo import _cpu

#: Every activation an op can fuse: None and the names the kernels know.
ACTIVATIONS = [None, *_cpu.activations]
#: Where an activation's derivative jumps: gradients there depend on rounding.
KINKS = {"relu": (0.0,), "relu6": (0.0, 6.0), "hardswish": (-3.0, 3.0)}


def simd_levels() -> list[str]:
    """Every SIMD level this build and CPU run, lowest first (each family has a variant per level)."""
    return list(_cpu.simd_levels())


@contextlib.contextmanager
def tuned_for(vendor: str):
    """Kernels tune for CPU vendor `vendor` ("intel", "amd", "other") within the block."""
    before = _cpu.cpu_vendor()
    _cpu.set_cpu_vendor(vendor)
    try:
        yield
    finally:
        _cpu.set_cpu_vendor(before)


def assert_close(got, ref, rtol=1e-5, name="result"):
    """Max error relative to the reference's scale: |got - ref| <= rtol * (max|ref| + 1)."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{name}: shape {got.shape} != {ref.shape}"
    if ref.size == 0:
        return
    scale = np.abs(ref).max() + 1.0
    err = np.abs(got - ref).max() / scale
    assert err <= rtol, f"{name}: max error {err:.3g} (relative to scale {scale:.3g}) > {rtol:g}"


def outputs(result) -> tuple:
    """An op's result as a tuple of its outputs."""
    return result if isinstance(result, tuple) else (result,)


def assert_outputs_close(entry, got, want, rtol=None):
    """Each output of `got` within the entry's tolerance (or `rtol`) of `want`'s."""
    got, want = outputs(got), outputs(want)
    assert len(got) == len(want), entry.name
    rtols = entry.rtol if isinstance(entry.rtol, tuple) else (entry.rtol,) * len(want)
    for i, (g, w, tol) in enumerate(zip(got, want, rtols)):
        assert_close(np.asarray(g), w, rtol if rtol is not None else tol, f"{entry.name} output {i}")


def assert_outputs_equal(entry, got, want):
    """Bit for bit (NaN where `want` has NaN): the same values in must give the same bits out."""
    got, want = outputs(got), outputs(want)
    assert len(got) == len(want), entry.name
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, f"{entry.name} output {i}: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        np.testing.assert_array_equal(g, w, err_msg=f"{entry.name} output {i}", strict=True)


#: One call's arguments: arrays by name, then the other parameters by name.
Call = tuple[dict[str, Any], dict[str, Any]]


@dataclass(frozen=True)
class BadInput:
    """An argument a user could get wrong, and the error the op must raise for it.

    `change` takes a valid call's (arrays, params) and returns the changed pair;
    error None means the change is legal and the call must succeed."""

    label: str
    change: Callable[[dict, dict], Call]
    error: type[Exception] | None
    match: str | None = None


@dataclass(frozen=True)
class KitEntry:
    """One op as the contract suite runs it: op(**arrays, **params) for any call the
    input maker returns must equal reference(...) and, when installed, peer(...)."""

    name: str
    op: Callable[..., Any]
    #: Fresh random inputs for one call.
    make_inputs: Callable[[np.random.Generator], Call]
    reference: Callable[..., Any]
    #: The peer as a function of the same call returning NumPy arrays, or None when the
    #: peer is not installed (the suite then skips, naming `peer_name`).
    peer: Callable[[], Callable[..., Any] | None]
    peer_name: str
    #: A small valid call, and the changes to it the op must refuse (or accept).
    valid_call: Callable[[np.random.Generator], Call] | None = None
    bad_inputs: list[BadInput] = field(default_factory=list)
    #: Tolerance of each output (one number for all).
    rtol: float | tuple[float, ...] = 1e-5
    #: The dtypes the op accepts on the CPU; the suite checks that others are refused.
    dtypes: tuple[type, ...] = (np.float32,)
    #: Array arguments that may be None.
    optional: tuple[str, ...] = ()
    #: Whether the op takes ``out=`` (the suite then checks its rules).
    takes_out: bool = False
    #: The inputs ``out=`` may be itself (elementwise ops, in place); any other overlap
    #: is refused.
    out_may_be: tuple[str, ...] = ()
    #: Calls with a zero-size array the op must run (and match the reference on).
    zero_size_calls: Callable[[np.random.Generator], list[Call]] | None = None
    #: The arrays NaN and infinities are put into, one at a time (default: the first).
    special_arrays: tuple[str, ...] | None = None
    #: Whether the peer places NaN and infinities put into that array of that call as
    #: the reference does (default: always); where not, the family says why, and the
    #: suite checks them against the reference only.
    peer_places_specials: Callable[[Call, str], bool] = lambda call, name: True
    #: A hypothesis strategy of calls whose integer parameters reach huge and negative
    #: values, and what each call must do: "ok" (succeed and match the reference),
    #: "error" (raise ValueError) or "large" (an output too big for the test's memory
    #: cap: MemoryError or ValueError allowed).
    int_calls: Callable[[], Any] | None = None
    int_outcome: Callable[[Call], str] | None = None
    #: None: the op takes every array type (NumPy, torch, ...), and mixing them is an
    #: error the suite checks. "torch": a torch op, whose entry turns the suite's NumPy
    #: arrays into tensors (anything else passes through, for the op to refuse).
    array_library: str | None = None
    #: The arrays a caller passes and may get wrong, which the argument tests change
    #: (default: every array). The autograd entry of a torch op leaves out grad_out,
    #: which autograd hands over and checks itself.
    argument_arrays: tuple[str, ...] | None = None

    def arguments(self, arrays: dict[str, Any]) -> list[str]:
        """The names of the given (not None) arrays of a call that the argument tests change."""
        return [k for k, a in arrays.items() if a is not None and (self.argument_arrays is None or k in self.argument_arrays)]


def changed(name, value):
    """A change to a call that sets one array: arrays[name] = value(arrays)."""
    return lambda arrays, params: ({**arrays, name: value(arrays)}, params)


def param(**changes):
    """A change to a call that sets parameters."""
    return lambda arrays, params: (arrays, {**params, **changes})


def huge_ints():
    """A hypothesis strategy for one integer parameter: small values most of the time
    (so calls also succeed), and the values overflow hides behind: powers of two around
    2**31, 2**59..2**63, int64's limits and past them, negatives."""
    from hypothesis import strategies as st

    edges = [2**31 - 1, 2**31, 2**32, 2**59, 2**60, 2**61, 2**62, 2**63 - 1, 2**63, 2**64, -1, -(2**31), -(2**63)]
    return st.one_of(
        st.integers(0, 4),
        st.sampled_from(edges),
        st.integers(0, 63).map(lambda e: 2**e),
        st.integers(-(2**65), 2**65),
    )


def entries() -> list[KitEntry]:
    """The entries of every family module in this package."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        found += getattr(importlib.import_module(f"{__name__}.{info.name}"), "ENTRIES", [])
    return found

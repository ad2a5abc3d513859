"""Every registered op on arguments of the wrong kind: None, lists, strings, 0-d arrays,
an extra dimension and mixed array types give TypeError or ValueError naming the
argument; and ``out=`` rules where the op takes it."""

import re

import kit
import numpy as np
import pytest
from kit import assert_outputs_equal

ENTRIES = kit.entries()
IDS = [e.name for e in ENTRIES]
WITH_OUT = [e for e in ENTRIES if e.takes_out]


def _naming(name):
    return rf"(^|\W){re.escape(name)}\W"


#: Wrong kinds of array argument, and the error each must raise.
WRONG_KINDS = {
    "a list": (lambda a: a.tolist(), TypeError),
    "a string": (lambda a: "array", TypeError),
    "a 0-d array": (lambda a: np.asarray(a.reshape(-1)[0] if a.size else 1, a.dtype), ValueError),
    "an extra dimension": (lambda a: a[None], ValueError),
}


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_none(entry, rng):
    arrays, params = entry.valid_call(rng)
    for name in entry.arguments(arrays):
        changed = {**arrays, name: None}
        if name in entry.optional:
            entry.op(**changed, **params)
            continue
        with pytest.raises(TypeError, match=_naming(name)):
            entry.op(**changed, **params)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("kind", WRONG_KINDS)
def test_wrong_kinds_are_named(entry, kind, rng):
    change, error = WRONG_KINDS[kind]
    arrays, params = entry.valid_call(rng)
    for name in entry.arguments(arrays):
        with pytest.raises(error, match=_naming(name)):
            entry.op(**{**arrays, name: change(arrays[name])}, **params)


ANY_ARRAY = [e for e in ENTRIES if e.array_library is None]


@pytest.mark.parametrize("entry", ANY_ARRAY, ids=[e.name for e in ANY_ARRAY])
def test_mixed_array_types(entry, rng):
    torch = pytest.importorskip("torch", reason="mixing array types needs a second array library (torch)")
    arrays, params = entry.valid_call(rng)
    for name in entry.arguments(arrays)[1:]:
        with pytest.raises(TypeError, match=rf"all arrays must be of one type: .*{name} is torch"):
            entry.op(**{**arrays, name: torch.from_numpy(arrays[name])}, **params)


@pytest.mark.parametrize("entry", WITH_OUT, ids=[e.name for e in WITH_OUT])
def test_out(entry, simd_level, rng):
    arrays, params = entry.make_inputs(rng)
    want = entry.op(**arrays, **params)
    out = np.full_like(want, np.nan)
    assert entry.op(**arrays, **params, out=out) is out
    assert_outputs_equal(entry, out, want)
    # Written through views and copies: strided, byte-swapped.
    big = np.full(want.shape[:-1] + (2 * want.shape[-1],), -7.0, want.dtype)
    entry.op(**arrays, **params, out=big[..., ::2])
    assert_outputs_equal(entry, big[..., ::2].copy(), want)
    assert (big[..., 1::2] == -7.0).all(), "out= wrote outside its view"
    swapped = np.zeros(want.shape, want.dtype.newbyteorder(">"))
    entry.op(**arrays, **params, out=swapped)
    assert_outputs_equal(entry, swapped.astype(want.dtype), want)


IN_PLACE = [(e, name) for e in WITH_OUT for name in e.out_may_be]


@pytest.mark.parametrize("entry, name", IN_PLACE, ids=[f"{e.name}-{n}" for e, n in IN_PLACE])
def test_out_in_place(entry, name, simd_level, rng):
    arrays, params = entry.make_inputs(rng)
    if arrays.get(name) is None:
        arrays, params = entry.valid_call(rng)
    want = entry.op(**arrays, **params)
    target = arrays[name].copy()
    assert entry.op(**{**arrays, name: target}, **params, out=target) is target
    assert_outputs_equal(entry, target, want)


@pytest.mark.parametrize("entry", WITH_OUT, ids=[e.name for e in WITH_OUT])
def test_out_refused(entry, rng):
    arrays, params = entry.valid_call(rng)
    want = entry.op(**arrays, **params)
    read_only = np.empty_like(want)
    read_only.flags.writeable = False
    first = next(iter(arrays))
    refused = {
        "wrong shape": (np.empty(want.shape[:-1] + (want.shape[-1] + 1,), want.dtype), ValueError),
        "wrong dtype": (np.empty(want.shape, np.int32), TypeError),
        "read-only": (read_only, ValueError),
        "a list": (want.tolist(), TypeError),
    }
    if arrays[first].shape == want.shape and first not in entry.out_may_be:
        refused["an input"] = (arrays[first], ValueError)  # the kernels would read what they write
    for label, (out, error) in refused.items():
        with pytest.raises(error, match=_naming("out")):
            entry.op(**arrays, **params, out=out)
            pytest.fail(f"out {label} accepted")

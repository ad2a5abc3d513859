"""Every registered op on the arrays NumPy users hand it: odd memory layouts (strided,
negative strides, Fortran order, zero strides, read-only), dtypes that are float32 in
another form (pickled, carrying metadata, with an explicit byte order), and zero-size
inputs. Layouts must never be misread; a dtype's form must not change a single bit."""

import pickle

import kit
import numpy as np
import pytest
from kit import assert_outputs_close, assert_outputs_equal

ENTRIES = kit.entries()
IDS = [e.name for e in ENTRIES]


def _strided(a):
    """The same values, every other element of a buffer twice as long in the last axis."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def _negative_strides(a):
    return np.flip(np.flip(a).copy())


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


#: Views with the same values as the array; then one whose values change (a broadcast).
LAYOUTS = {
    "strided": _strided,
    "negative strides": _negative_strides,
    "Fortran order": np.asfortranarray,
    "read-only": _read_only,
    "zero strides (broadcast)": lambda a: np.broadcast_to(a[:1], a.shape),
}

#: The same dtype in other forms.
DTYPE_FORMS = {
    "pickled": lambda a: pickle.loads(pickle.dumps(a)),
    "dtype with metadata": lambda a: a.view(np.dtype(a.dtype.str, metadata={"unit": "volt"})),
    "explicit native byte order": lambda a: a.astype(a.dtype.newbyteorder("=")),
    "little-endian": lambda a: a.astype(a.dtype.newbyteorder("<")),
    "big-endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
}


def _array_names(arrays):
    return [k for k, a in arrays.items() if a is not None and np.ndim(a) > 0]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_memory_layouts(entry, layout, simd_level, rng):
    arrays, params = entry.make_inputs(rng)
    for name in _array_names(arrays):
        changed = {**arrays, name: LAYOUTS[layout](arrays[name])}
        got = entry.op(**changed, **params)
        assert_outputs_close(entry, got, entry.reference(**changed, **params))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("form", DTYPE_FORMS)
def test_dtype_forms(entry, form, rng):
    arrays, params = entry.make_inputs(rng)
    want = entry.op(**arrays, **params)
    every = {k: None if a is None else DTYPE_FORMS[form](a) for k, a in arrays.items()}
    assert_outputs_equal(entry, entry.op(**every, **params), want)
    for name in _array_names(arrays):
        assert_outputs_equal(entry, entry.op(**{**arrays, name: DTYPE_FORMS[form](arrays[name])}, **params), want)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.zero_size_calls], ids=[e.name for e in ENTRIES if e.zero_size_calls])
def test_zero_size_calls(entry, simd_level, rng):
    for arrays, params in entry.zero_size_calls(rng):
        got = entry.op(**arrays, **params)
        want = entry.reference(**arrays, **params)
        assert all(np.asarray(g).shape == np.asarray(w).shape for g, w in zip(kit.outputs(got), kit.outputs(want)))
        assert_outputs_close(entry, got, want)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_zero_size_in_each_dimension(entry, rng):
    """Any one array cut to zero along any one axis: the op raises ValueError (the
    arrays no longer agree) or returns what the reference returns."""
    arrays, params = entry.valid_call(rng)
    for name in entry.arguments(arrays):
        for axis in range(arrays[name].ndim):
            cut = {**arrays, name: arrays[name][(slice(None),) * axis + (slice(0, 0),)]}
            try:
                got = entry.op(**cut, **params)
            except ValueError:
                continue
            assert_outputs_close(entry, got, entry.reference(**cut, **params))

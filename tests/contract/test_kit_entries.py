"""Every registered op (tests/kit/<family>.py) against its reference at every SIMD
level, in every dtype it accepts, against its peer, and on the bad inputs of its table."""

import kit
import numpy as np
import pytest
from kit import assert_outputs_close

ENTRIES = kit.entries()
IDS = [e.name for e in ENTRIES]
BAD = [(e, bad) for e in ENTRIES for bad in e.bad_inputs]
REFUSED = [(e, np.dtype(d)) for e in ENTRIES
           for d in (np.float16, np.float64, np.int32, np.int64, np.complex64, np.bool_) if d not in e.dtypes]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_matches_reference(entry, simd_level, rng):
    for _ in range(5):
        arrays, params = entry.make_inputs(rng)
        assert_outputs_close(entry, entry.op(**arrays, **params), entry.reference(**arrays, **params))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_accepted_dtype(entry, simd_level, rng):
    for dtype in entry.dtypes:
        arrays, params = entry.make_inputs(rng)
        arrays = {k: None if a is None else a.astype(dtype) for k, a in arrays.items()}
        got = kit.outputs(entry.op(**arrays, **params))
        assert all(g.dtype == dtype for g in got), f"{entry.name}: {[g.dtype for g in got]} from {dtype.__name__}"
        # float64 runs the portable kernels in float64: rounding only, far below float32's.
        rtol = 1e-12 if dtype == np.float64 else None
        assert_outputs_close(entry, got, entry.reference(**arrays, **params), rtol)


@pytest.mark.parametrize("entry, dtype", REFUSED, ids=[f"{e.name}-{d.name}" for e, d in REFUSED])
def test_other_dtypes_are_refused(entry, dtype, rng):
    arrays, params = entry.valid_call(rng)
    first = entry.arguments(arrays)[0]
    arrays = {**arrays, first: arrays[first].astype(dtype)}
    with pytest.raises(TypeError, match=rf"{first}: expected dtype .*got {dtype.name}"):
        entry.op(**arrays, **params)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_matches_peer(entry, rng):
    peer = entry.peer()
    if peer is None:
        pytest.skip(f"{entry.peer_name}, the peer of {entry.name}, is not installed (pip install '.[peers]')")
    for _ in range(3):
        arrays, params = entry.make_inputs(rng)
        assert_outputs_close(entry, entry.op(**arrays, **params), peer(**arrays, **params))


@pytest.mark.parametrize("entry, bad", BAD, ids=[f"{e.name}-{b.label}" for e, b in BAD])
def test_bad_input(entry, bad, rng):
    arrays, params = bad.change(*entry.valid_call(rng))
    if bad.error is None:
        entry.op(**arrays, **params)
        return
    with pytest.raises(bad.error, match=bad.match):
        entry.op(**arrays, **params)

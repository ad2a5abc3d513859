"""Every registered op (tests/kit/<family>.py) against its reference at every SIMD
level, against its peer, and on the bad inputs of its table."""

import kit
import numpy as np
import pytest
from kit import assert_close

ENTRIES = kit.entries()
BAD = [(e, bad) for e in ENTRIES for bad in e.bad_inputs]


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


def _compare(entry, got, want):
    got, want = _outputs(got), _outputs(want)
    assert len(got) == len(want), entry.name
    rtols = entry.rtol if isinstance(entry.rtol, tuple) else (entry.rtol,) * len(want)
    for i, (g, w, rtol) in enumerate(zip(got, want, rtols)):
        assert_close(np.asarray(g), w, rtol, f"{entry.name} output {i}")


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_matches_reference(entry, simd_level, rng):
    for _ in range(5):
        arrays, params = entry.make_inputs(rng)
        _compare(entry, entry.op(**arrays, **params), entry.reference(**arrays, **params))


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_matches_peer(entry, rng):
    peer = entry.peer()
    if peer is None:
        pytest.skip(f"{entry.peer_name}, the peer of {entry.name}, is not installed (pip install '.[peers]')")
    for _ in range(3):
        arrays, params = entry.make_inputs(rng)
        _compare(entry, entry.op(**arrays, **params), peer(**arrays, **params))


@pytest.mark.parametrize("entry, bad", BAD, ids=[f"{e.name}-{b.label}" for e, b in BAD])
def test_bad_input(entry, bad, rng):
    arrays, params = bad.change(*entry.valid_call(rng))
    if bad.error is None:
        entry.op(**arrays, **params)
        return
    with pytest.raises(bad.error, match=bad.match):
        entry.op(**arrays, **params)

"""Every registered op with NaN and infinities in its inputs, at every SIMD level: NaN,
+inf and -inf come out exactly where the reference puts them and where the peer does
(where installed, and where its entry's peer_places_specials says it does),
and the finite outputs agree as usual."""

import kit
import numpy as np
import pytest

ENTRIES = kit.entries()
IDS = [e.name for e in ENTRIES]


def _with_specials(a, rng):
    a = a.copy()
    flat = a.reshape(-1)
    at = rng.choice(flat.size, max(1, flat.size // 25), replace=False)
    flat[at] = rng.choice(np.array([np.nan, np.inf, -np.inf], a.dtype), at.size)
    return a


def _assert_same_specials(entry, got, want, where):
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        for test in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(test(g), test(w), err_msg=f"{where}, output {i}: {test.__name__}")
        finite = np.isfinite(w)
        kit.assert_close(g[finite], w[finite], entry.rtol if np.isscalar(entry.rtol) else entry.rtol[i], where)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_nan_and_inf(entry, simd_level, rng):
    peer = entry.peer()
    for _ in range(3):
        arrays, params = entry.make_inputs(rng)
        for name in entry.special_arrays or list(arrays)[:1]:
            if arrays[name] is None:  # an optional array this call goes without
                continue
            call = ({**arrays, name: _with_specials(arrays[name], rng)}, params)
            got = kit.outputs(entry.op(**call[0], **params))
            where = f"{entry.name}, specials in {name}, {params}"
            with np.errstate(invalid="ignore", over="ignore"):
                _assert_same_specials(entry, got, kit.outputs(entry.reference(**call[0], **params)), f"{where} vs the reference")
                if peer is not None and entry.peer_places_specials(call, name):
                    _assert_same_specials(entry, got, kit.outputs(peer(**call[0], **params)), f"{where} vs {entry.peer_name}")

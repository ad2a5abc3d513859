"""Every registered op, called from many Python threads at once and with any number of
OpenMP threads: bit-identical to a serial run, run after run (DESIGN.md: kernels release
the GIL, are thread safe and deterministic); and its resident memory stays flat over
many calls."""

import os
from concurrent.futures import ThreadPoolExecutor

import kit
import numpy as np
import pytest
from kit import assert_outputs_equal

import opzoo

ENTRIES = kit.entries()
IDS = [e.name for e in ENTRIES]


def _run(entry, call):
    arrays, params = call
    return entry.op(**arrays, **params)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_python_threads_agree_with_serial(entry, simd_level, rng):
    calls = [entry.make_inputs(rng) for _ in range(6)]
    serial = [_run(entry, c) for c in calls]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda c: _run(entry, c), calls * 4))
    for i, got in enumerate(concurrent):
        assert_outputs_equal(entry, got, serial[i % len(calls)])


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_bit_identical_across_runs_and_thread_counts(entry, simd_level, rng):
    call = entry.make_inputs(rng)
    before = opzoo.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 1, 2):
            opzoo.set_num_threads(threads)
            results.append(_run(entry, call))
    finally:
        opzoo.set_num_threads(before)
    for got in results[1:]:
        assert_outputs_equal(entry, got, results[0])


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads resident memory from Linux's /proc")
@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's quarantine holds freed memory back, so resident memory grows by design")
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_resident_memory_stays_flat(entry, rng):
    calls = [entry.make_inputs(rng) for _ in range(4)]
    result_bytes = max(sum(np.asarray(o).nbytes for o in kit.outputs(_run(entry, c))) for c in calls)
    for i in range(40):  # warm up: caches, scratch pools, first-touch pages
        _run(entry, calls[i % 4])
    start = _resident_bytes()
    for i in range(400):
        _run(entry, calls[i % 4])
    grown = _resident_bytes() - start
    # Keeping even a tenth of each result would grow by 40 results' worth.
    assert grown < max(4 << 20, 40 * result_bytes), f"{entry.name}: resident memory grew {grown >> 10} KiB over 400 calls"

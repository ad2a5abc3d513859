"""The benchmark's timing loops: who is called how often, and what is counted."""

import pytest

from opzoo import _bench
from opzoo._bench import time_back_to_back, time_interleaved


def counting(calls, name):
    def fn():
        calls.append(name)
    return fn


def test_interleaved_alternates_call_by_call():
    calls = []
    times = time_interleaved({"a": counting(calls, "a"), "b": counting(calls, "b")}, reps=4, budget_s=0.0)
    assert {k: len(v) for k, v in times.items()} == {"a": 4, "b": 4}
    assert calls == ["a", "b"] * 5  # one warm-up each, then turns


def test_back_to_back_runs_bursts_and_drops_each_bursts_first_call():
    calls = []
    times = time_back_to_back({"a": counting(calls, "a"), "b": counting(calls, "b")}, reps=6, budget_s=0.0, bursts=3)
    assert {k: len(v) for k, v in times.items()} == {"a": 6, "b": 6}
    assert calls == (["a"] * 3 + ["b"] * 3) * 3  # per burst: 1 uncounted + 2 timed calls
    assert all(t >= 0 for ts in times.values() for t in ts)


def _toy_case(group_of):
    from opzoo._cases import BenchCase, Row

    rows = lambda quick: [Row(f"r{i}", {"ours": lambda: 1.0, "peer": lambda: 1.0}, check=lambda y: abs(y - 1.0),  # noqa: E731
                              group=group_of(i)) for i in range(3)]
    return BenchCase("Z", "toy, {size}", rows, ["ours", "peer"], [("ours", "peer")], params=lambda quick: {"size": 3})


def test_run_case_times_checks_and_sums_each_group():
    from opzoo._bench import case_table, run_case

    result = run_case(_toy_case(lambda i: None), quick=True, progress=False)
    assert [r["label"] for r in result["rows"]] == ["r0", "r1", "r2"] and result["size"] == 3
    assert set(result["sum"]) == {"ours", "peer"}
    assert "Case Z: toy, 3" in case_table(_toy_case(lambda i: None), result)
    grouped = run_case(_toy_case(lambda i: "even" if i % 2 == 0 else "odd"), quick=True, progress=False)
    assert set(grouped["sum"]) == {"even", "odd"}
    assert "SUM even" in case_table(_toy_case(lambda i: "even"), grouped)


def test_a_wrong_result_is_never_timed():
    import pytest

    from opzoo._bench import run_case
    from opzoo._cases import BenchCase, Row

    bad = BenchCase("Z", "toy", lambda quick: [Row("r", {"ours": lambda: 2.0}, check=lambda y: abs(y - 1.0))],
                    ["ours"], [])
    with pytest.raises(AssertionError, match="r ours: error 1"):
        run_case(bad, quick=True, progress=False)


def test_a_floor_is_timed_but_its_result_not_checked():
    from opzoo._bench import run_case
    from opzoo._cases import BenchCase, Row

    calls = []
    floor = lambda: calls.append("floor") or 2.0  # noqa: E731  (a result the check would refuse)
    case = BenchCase("Z", "toy", lambda quick: [Row("r", {"ours": lambda: 1.0, "floor": floor},
                                                    check=lambda y: abs(y - 1.0), floors=("floor",))],
                     ["ours", "floor"], [("ours", "floor")])
    result = run_case(case, quick=True, progress=False)
    assert result["rows"][0]["max_error"] == {"ours": 0.0, "floor": None}
    assert "floor" in result["rows"][0]["ms"] and len(calls) > 1


def test_every_registered_case_and_demo_has_a_name_and_rows():
    from opzoo._cases import bench_cases, demos

    cases = bench_cases()
    assert {c.key for c in cases} >= {"A", "A_gpu", "C", "D"}
    assert all(c.columns and c.title for c in cases)
    assert [d.name for d in demos()]


# A dict for the environment: torch reads these variables lazily, and inductor's on-disk
# kernel cache does not key on them, so setting them in this process, even for a moment,
# can change what later tests compile.
@pytest.mark.parametrize("simd, detected, expected", [
    ("avx2", "avx512", {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}),
    ("scalar", "avx2", {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"}),
    ("avx512", "avx512", {}),
])
def test_torch_is_capped_at_opzoos_simd_level_below_the_cpus(simd, detected, expected):
    environ = {"PATH": "/bin"}
    assert _bench.cap_peer_simd({"simd": simd, "simd_detected": detected}, environ) == expected
    assert environ == {"PATH": "/bin", **expected}


def test_a_cap_the_caller_set_is_kept():
    environ = {"ONEDNN_MAX_CPU_ISA": "AVX2_VNNI"}
    caps = _bench.cap_peer_simd({"simd": "avx2", "simd_detected": "avx512"}, environ)
    assert caps == environ == {"ONEDNN_MAX_CPU_ISA": "AVX2_VNNI", "ATEN_CPU_CAPABILITY": "avx2"}

"""The benchmark's timing loops: who is called how often, and what is counted."""

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

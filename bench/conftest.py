"""pytest-benchmark over the registered cases: `pytest bench/` (needs `pip install ".[bench]"`; peers from ".[peers]").

Each case's implementations share a benchmark group; at the end of the run a table
gives every peer's median over opzoo's median for the same shape (> 1: opzoo faster).
"""

import pytest

from opzoo._bench import check, format_table
from opzoo._cases import bench_cases

MEDIANS = {}  # (case, label) -> {implementation: median ms}
RATIOS = {}  # case -> [(opzoo implementation, peer)]


def record(case, label, impl, benchmark, ratios):
    if benchmark.stats is None:  # --benchmark-disable: run once, nothing timed
        return
    RATIOS[case] = ratios
    MEDIANS.setdefault((case, label), {})[impl] = benchmark.stats.stats.median * 1e3


def pytest_terminal_summary(terminalreporter):
    for case, ratios in RATIOS.items():
        rows = [{"label": label, "ms": ms} for (c, label), ms in MEDIANS.items() if c == case]
        columns = sorted({impl for row in rows for impl in row["ms"]})
        complete = [c for c in columns if all(c in r["ms"] for r in rows)]
        rows.append({"label": "SUM", "ms": {c: sum(r["ms"][c] for r in rows) for c in complete}})
        terminalreporter.write_sep("=", f"case {case}: median ms and peer/opzoo ratios")
        terminalreporter.write_line(format_table(rows, columns, ratios))


def case_tests(family):
    """A pytest-benchmark test of every row and implementation of `family`'s registered
    CPU cases (opzoo/_cases/<family>.py), each result checked before it is timed."""
    params = [(case, row, impl) for case in bench_cases() if case.device == "cpu" and case.family == family
              for row in case.rows(False) for impl in case.columns]

    @pytest.mark.parametrize("case, row, impl", params,
                             ids=[f"{c.name}-{r.label}-{i}".replace(" ", "_") for c, r, i in params])
    def test_case(benchmark, case, row, impl):
        if impl not in row.impls:
            pytest.skip(f"{impl}: not in row {row.label} (no counterpart of it, or not installed: pip install '.[peers]')")
        check(row, impl)  # never time a wrong answer
        benchmark.group = f"{case.name} {row.label}"
        if impl in case.slow:
            benchmark.pedantic(row.impls[impl], rounds=3, iterations=1)
        else:
            benchmark(row.impls[impl])
        record(case.name, row.label, impl, benchmark, case.ratios)

    return test_case


@pytest.fixture(autouse=True)
def _same_threads_for_peers():
    import opzoo

    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(opzoo.get_num_threads())

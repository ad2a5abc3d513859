"""Every registered CPU benchmark case (opzoo._cases) as pytest-benchmark tests: one
benchmark group per row, one test per implementation, each checked before it is timed."""

import pytest
from conftest import record

from opzoo._bench import check
from opzoo._cases import bench_cases

CASES = [case for case in bench_cases() if case.device == "cpu"]
PARAMS = [(case, row, impl) for case in CASES for row in case.rows(False) for impl in case.columns]


@pytest.mark.parametrize("case, row, impl", PARAMS,
                         ids=[f"{c.name}-{r.label.replace(' ', '_')}-{i.replace(' ', '_')}" for c, r, i in PARAMS])
def test_case(benchmark, case, row, impl):
    if impl not in row.impls:
        pytest.skip(f"{impl}: peer not installed (pip install '.[peers]')")
    check(row, impl)  # never time a wrong answer
    benchmark.group = f"{case.name} {row.label}"
    if impl in case.slow:
        benchmark.pedantic(row.impls[impl], rounds=3, iterations=1)
    else:
        benchmark(row.impls[impl])
    record(case.name, row.label, impl, benchmark, case.ratios)

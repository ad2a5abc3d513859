"""PERF.md case C (opzoo/_cases/corner_pool.py) under pytest-benchmark: opzoo against torch, the peers
and the NumPy reference."""

from conftest import case_tests

test_case_c = case_tests("corner_pool")

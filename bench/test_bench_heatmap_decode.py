"""PERF.md case D (opzoo/_cases/heatmap_decode.py) under pytest-benchmark: opzoo against torch, the peers
and the NumPy reference."""

from conftest import case_tests

test_case_d = case_tests("heatmap_decode")

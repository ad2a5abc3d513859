"""PERF.md case I (opzoo/_cases/graph.py) under pytest-benchmark: opzoo's graph aggregation (sum,
mean, max) and CSR build against torch.sparse.mm, scipy.sparse, torch scatter and PyG."""

from conftest import case_tests

test_case_i = case_tests("graph")

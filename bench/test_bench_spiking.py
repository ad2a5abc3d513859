"""PERF.md case F (opzoo/_cases/spiking.py) under pytest-benchmark: opzoo's LIF forward and
forward+backward against SpikingJelly, torch loops, numba and NumPy."""

from conftest import case_tests

test_case_f = case_tests("spiking")

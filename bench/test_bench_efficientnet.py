"""PERF.md case K (efficientnet_b0 inference through opzoo.nn, opzoo/_cases/efficientnet.py)
under pytest-benchmark: opzoo.nn on NumPy against timm, channels_last and NCHW."""

from conftest import case_tests

test_case_k = case_tests("efficientnet")

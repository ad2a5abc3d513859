"""PERF.md case A (depthwise conv2d on EfficientNet-B0's layers, opzoo/_cases/depthwise.py)
under pytest-benchmark: opzoo NCHW and NHWC against torch and the NumPy reference."""

from conftest import case_tests

test_case_a = case_tests("depthwise")

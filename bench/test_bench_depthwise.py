"""PERF.md case A: EfficientNet-B0's depthwise layers, batch 8: opzoo NCHW and NHWC
against torch (contiguous and channels_last) and the NumPy reference."""

import pytest
from conftest import record

from opzoo._bench import CASE_A_IMPLS, CASE_A_RATIOS, NUMPY, case_a_layers, check

LAYERS = case_a_layers()


@pytest.mark.parametrize("impl", CASE_A_IMPLS)
@pytest.mark.parametrize("layer", LAYERS, ids=[layer.label.replace(" ", "_") for layer in LAYERS])
def test_case_a(benchmark, layer, impl):
    if impl not in layer.impls:
        pytest.skip(f"{impl}: peer not installed (pip install '.[peers]')")
    check(layer, impl)  # never time a wrong answer
    benchmark.group = f"A {layer.label}"
    if impl == NUMPY:
        benchmark.pedantic(layer.impls[impl], rounds=3, iterations=1)
    else:
        benchmark(layer.impls[impl])
    record("A", layer.label, impl, benchmark, CASE_A_RATIOS)

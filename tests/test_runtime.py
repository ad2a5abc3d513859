import threading

import numpy as np
import pytest

import opzoo
from opzoo import _cpu, _device


def test_info_reports_build_and_runtime():
    info = opzoo.info()
    assert info["version"] == opzoo.__version__
    assert info["simd"] in {"avx512", "avx2", "neon", "scalar"}
    assert info["simd_detected"] in {"avx512", "avx2", "neon", "scalar"}
    assert info["cpu_vendor"] in {"intel", "amd", "other"}
    assert isinstance(info["openmp"], bool)
    assert info["num_threads"] == opzoo.get_num_threads() >= 1
    assert info["cuda"]["built"] == (_device._cuda is not None)
    assert info["cuda"]["available"] == (info["cuda"]["device"] is not None)
    assert info["compiler"]


def test_set_num_threads_roundtrip_and_errors():
    before = opzoo.get_num_threads()
    try:
        opzoo.set_num_threads(3)
        assert opzoo.get_num_threads() == 3
        assert opzoo.info()["num_threads"] == 3
    finally:
        opzoo.set_num_threads(before)
    with pytest.raises(ValueError, match=">= 1"):
        opzoo.set_num_threads(0)
    with pytest.raises(TypeError, match="int"):
        opzoo.set_num_threads(2.5)


def test_thread_setting_is_process_wide():
    before = opzoo.get_num_threads()
    try:
        t = threading.Thread(target=opzoo.set_num_threads, args=(1,))
        t.start()
        t.join()
        assert opzoo.get_num_threads() == 1
    finally:
        opzoo.set_num_threads(before)


def test_simd_level_can_be_lowered_not_raised():
    before = _cpu.simd_level()
    try:
        _cpu.set_simd_level("scalar")
        assert opzoo.info()["simd"] == "scalar"
    finally:
        _cpu.set_simd_level(before)
    assert _cpu.simd_level() == before
    with pytest.raises(ValueError, match="one of"):
        _cpu.set_simd_level("sse9")
    other_isa = ["avx2", "avx512"] if _cpu.detected_simd_level() == "neon" else ["neon"]
    for level in other_isa:
        with pytest.raises(ValueError, match="not supported"):
            _cpu.set_simd_level(level)


def test_cpu_vendor_can_be_replaced_and_comes_from_the_environment():
    before = _cpu.cpu_vendor()
    try:
        for vendor in ("intel", "amd", "other"):
            _cpu.set_cpu_vendor(vendor)
            assert opzoo.info()["cpu_vendor"] == vendor
    finally:
        _cpu.set_cpu_vendor(before)
    with pytest.raises(ValueError, match="one of 'other', 'intel', 'amd', got 'via'"):
        _cpu.set_cpu_vendor("via")
    import os
    import subprocess
    import sys

    code = "import opzoo; print(opzoo.info()['cpu_vendor'])"
    for env, want in (("amd", "amd"), ("bogus", _cpu.detected_cpu_vendor())):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                             env=dict(os.environ, OPZOO_CPU_VENDOR=env)).stdout.strip()
        assert out == want


def test_package_imports_without_torch_loaded():
    import subprocess
    import sys

    code = "import sys, opzoo; import numpy; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples_run():
    import doctest
    import importlib
    import pkgutil

    import opzoo.nn
    import opzoo.ops

    modules = [importlib.import_module(f"{package.__name__}.{m.name}") for package in (opzoo.ops, opzoo.nn)
               for m in pkgutil.iter_modules(package.__path__)]
    for module in [opzoo, opzoo._runtime, opzoo.nn, *modules]:
        failures, _ = doctest.testmod(module, extraglobs={"np": np})
        assert failures == 0, module.__name__


def test_simd_levels_list_what_runs_here():
    levels, before = _cpu.simd_levels(), _cpu.simd_level()
    assert levels[0] == "scalar" and _cpu.detected_simd_level() in levels
    try:
        for level in levels:
            _cpu.set_simd_level(level)  # each one runs
    finally:
        _cpu.set_simd_level(before)


@pytest.mark.cuda
@pytest.mark.skipif(_device._cuda is None, reason="this build has no CUDA module (no CUDA compiler, or OPZOO_CUDA=OFF)")
def test_info_reports_the_cuda_build():
    cuda = opzoo.info()["cuda"]
    assert cuda["built"] is True
    assert cuda["available"] == (cuda["device"] is not None)
    assert cuda["emulated"] == (cuda["architectures"] == "emulated")
    if cuda["emulated"]:
        assert cuda["available"] and cuda["device_count"] == 1
    assert cuda["architectures"]
    if not cuda["available"]:
        assert cuda["error"]


def test_package_works_without_the_cuda_module():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['opzoo._cuda'] = None\n"  # as in a build without a CUDA toolkit
        "import numpy as np, opzoo\n"
        "assert opzoo.info()['cuda'] == {'built': False, 'emulated': False, 'available': False, 'device': None}\n"
        "class Gpu:\n"
        "    __cuda_array_interface__ = {'shape': (1, 1, 1, 1), 'typestr': '<f4', 'data': (0, False), 'version': 3}\n"
        "try:\n"
        "    opzoo.depthwise_conv2d(Gpu(), np.ones((1, 1, 1, 1), np.float32))\n"
        "except RuntimeError as e:\n"
        "    assert 'no CUDA module' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

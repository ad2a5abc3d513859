"""Fixtures every test module may use; the helpers they are built from live in kit/."""

import sys
import zlib

import numpy as np
import pytest
from kit import simd_levels, tuned_for
from kit.fake_gpu import CpuKernelsAsCuda, fake_cupy
from kit.gpu import libraries
from kit.isolated import IsolatedRunner

from opzoo import _cpu, _device


@pytest.fixture(params=simd_levels())
def simd_level(request):
    """Runs the test once per SIMD variant, restoring the default afterwards."""
    before = _cpu.simd_level()
    _cpu.set_simd_level(request.param)
    yield request.param
    _cpu.set_simd_level(before)


@pytest.fixture(params=["intel", "amd"])
def cpu_vendor(request):
    """Runs the test once per CPU vendor kernels tune for (the paths they take differ),
    restoring the default afterwards."""
    with tuned_for(request.param):
        yield request.param


@pytest.fixture
def rng(request):
    # A fresh, reproducible stream per test: the seed is derived from the test's name
    # (crc32, not hash(): str hashes change from process to process).
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def fake_gpu(monkeypatch):
    """A CuPy stand-in and an opzoo._cuda stand-in running the CPU kernels (kit.fake_gpu)."""
    module = CpuKernelsAsCuda()
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    monkeypatch.setattr(_device, "_cuda", module)
    return module


@pytest.fixture(scope="session")
def isolated():
    """A child process that runs op calls under a memory cap (kit.isolated)."""
    runner = IsolatedRunner()
    yield runner
    runner.close()


@pytest.fixture(params=libraries())
def lib(request, monkeypatch):
    """(name, to_device, to_numpy) of each GPU array library usable here (kit.gpu): the
    CUDA tests run once per library, the emulated build on host-memory CuPy stand-ins."""
    if request.param[0] == "emulated":
        monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    return request.param

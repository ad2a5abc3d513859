import numpy as np
import pytest

from opzoo import _cpu

_ORDER = ["scalar", "avx2", "avx512"]


def available_simd_levels():
    """Every SIMD variant this CPU can run, lowest first: the x86 levels up to the
    detected one, or the portable kernels and NEON on AArch64."""
    best = _cpu.detected_simd_level()
    return _ORDER[: _ORDER.index(best) + 1] if best in _ORDER else ["scalar", best]


@pytest.fixture(params=available_simd_levels())
def simd_level(request):
    """Runs the test once per SIMD variant, restoring the default afterwards."""
    before = _cpu.simd_level()
    _cpu.set_simd_level(request.param)
    yield request.param
    _cpu.set_simd_level(before)


@pytest.fixture
def rng(request):
    # A fresh, reproducible stream per test: the seed is derived from the test's name.
    return np.random.default_rng(abs(hash(request.node.nodeid)) % (2**32))


def assert_close(got, ref, rtol=1e-5, name="result"):
    """Max error relative to the reference's scale: |got - ref| <= rtol * (max|ref| + 1)."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{name}: shape {got.shape} != {ref.shape}"
    if ref.size == 0:
        return
    scale = np.abs(ref).max() + 1.0
    err = np.abs(got - ref).max() / scale
    assert err <= rtol, f"{name}: max error {err:.3g} (relative to scale {scale:.3g}) > {rtol:g}"

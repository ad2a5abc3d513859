"""The activation backward kernel (opzoo._cpu.activation_backward, the step an op's
backward takes through the activation it fused) against the NumPy reference."""

import numpy as np
import pytest
from kit import ACTIVATIONS, KINKS, assert_close

from opzoo import _cpu
from opzoo.reference.activation import activation_grad


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n", [0, 1, 15, 17, 40003])
def test_matches_reference(simd_level, rng, activation, n):
    z = (rng.standard_normal(n) * 5).astype(np.float32)
    z[::7] = np.resize(np.array([0, 6, -3, 3, -100, 100, np.nan, np.inf, -np.inf], np.float32), z[::7].shape)
    grad = rng.standard_normal(n).astype(np.float32)
    out = np.full(n, -1.0, np.float32)
    _cpu.activation_backward(z, grad, out, activation=activation)
    with np.errstate(invalid="ignore"):  # inf * 0 in the reference, as in torch: NaN
        want = activation_grad(z, grad, activation)
    # At a kink float32 and float64 agree (the kinks are exact), elsewhere to rounding;
    # NaN where the reference has NaN, and nowhere else.
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    finite = ~np.isnan(want)
    assert_close(out[finite], want[finite], 1e-6, activation or "None")
    assert not any(np.isnan(out[z == k]).any() for k in KINKS.get(activation, ()))


def test_float64_and_any_shape(rng):
    z = rng.standard_normal((3, 4, 5))
    grad = rng.standard_normal((3, 4, 5))
    out = np.empty_like(z)
    _cpu.activation_backward(z, grad, out, activation="silu")
    assert_close(out, activation_grad(z, grad, "silu"), 1e-14)


def test_binding_checks_its_arguments(rng):
    z = rng.standard_normal(8).astype(np.float32)
    out = np.empty_like(z)
    with pytest.raises(ValueError, match=r"grad: expected shape \(8,\)"):
        _cpu.activation_backward(z, z[:7].copy(), out, activation="relu")
    with pytest.raises(TypeError, match="grad: expected dtype float32"):
        _cpu.activation_backward(z, z.astype(np.float64), out, activation="relu")
    with pytest.raises(ValueError, match="out: must not share memory with z"):
        _cpu.activation_backward(z, z.copy(), z, activation="relu")
    with pytest.raises(ValueError, match="activation must be one of None, 'relu'"):
        _cpu.activation_backward(z, z.copy(), out, activation="gelu")
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.activation_backward(z[::2], z[::2].copy(), out[:4], activation="relu")

"""The activation backward kernel (opzoo._cpu.activation_backward, the step an op's
backward takes through the activation it fused) and the bias-activation op against the
NumPy reference."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import ACTIVATIONS, KINKS, assert_close

import opzoo
from opzoo import _cpu, reference
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


# The bias-activation op (opzoo.bias_activation, the epilogue of the model layer's GEMMs).

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=4), data=st.data())
def test_bias_activation_matches_reference_on_random_shapes(simd_level, rng, shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    activation = data.draw(st.sampled_from(ACTIVATIONS))
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    bias = rng.standard_normal(shape[axis]).astype(np.float32)
    residual = rng.standard_normal(shape).astype(np.float32)
    y = opzoo.bias_activation(x, bias, activation, residual=residual, axis=axis)
    assert_close(y, reference.bias_activation(x, bias, activation, residual, axis), 1e-6)
    g = rng.standard_normal(shape).astype(np.float32)
    gx, gb = opzoo.bias_activation_backward(g, x, bias, activation, axis=axis)
    want_x, want_b = reference.bias_activation_backward(g, x, bias, activation, axis)
    finite = ~np.isin(x + reference.activation._along(bias, x.ndim, axis), KINKS.get(activation, ()))
    assert_close(gx[finite], want_x[finite], 1e-6, "grad_x")
    if finite.all():
        # A float sum's rounding error grows as the square root of its terms: 1e-5 of the
        # scale up to 1024 terms a channel, more beyond (a 33^3 plane: 5.9e-5).
        terms = x.size // max(1, shape[axis])
        assert_close(gb, want_b, 1e-5 * max(1.0, np.sqrt(terms / 1024)), "grad_bias")


@pytest.mark.parametrize("shape, axis", [((3000, 1152), -1), ((8, 96, 112, 112), 1), ((70000, 3), 1), ((5, 1, 7), 1)])
def test_bias_activation_large_and_lopsided(simd_level, rng, shape, axis):
    """Many row blocks of partial bias sums (channels last), planes of every size, few channels."""
    x = rng.standard_normal(shape).astype(np.float32)
    bias = rng.standard_normal(shape[axis]).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    assert_close(opzoo.bias_activation(x, bias, "relu6", axis=axis), reference.bias_activation(x, bias, "relu6", None, axis), 1e-6)
    gx, gb = opzoo.bias_activation_backward(g, x, bias, "silu", axis=axis)
    want_x, want_b = reference.bias_activation_backward(g, x, bias, "silu", axis)
    assert_close(gx, want_x, 1e-6, "grad_x")
    assert_close(gb, want_b, 1e-5, "grad_bias")


def test_bias_activation_without_bias_keeps_negative_zero():
    x = np.array([-0.0, 0.0, -1.5], np.float32)
    y = opzoo.bias_activation(x)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(x))


def test_bias_activation_in_place_and_into_the_residual(rng):
    x = rng.standard_normal((6, 10)).astype(np.float32)
    bias, residual = rng.standard_normal(10).astype(np.float32), rng.standard_normal((6, 10)).astype(np.float32)
    want = reference.bias_activation(x, bias, "silu", residual)
    x_in, r_in = x.copy(), residual.copy()
    assert opzoo.bias_activation(x_in, bias, "silu", residual=residual, out=x_in) is x_in
    assert opzoo.bias_activation(x, bias, "silu", residual=r_in, out=r_in) is r_in
    assert_close(x_in, want, 1e-6)
    assert_close(r_in, want, 1e-6)


def test_bias_activation_channels_last_tensor_stays_channels_last(rng):
    torch = pytest.importorskip("torch", reason="channels_last tensors need torch")
    x = torch.from_numpy(rng.standard_normal((2, 5, 4, 3)).astype(np.float32)).contiguous(memory_format=torch.channels_last)
    bias = torch.from_numpy(rng.standard_normal(5).astype(np.float32))
    y = opzoo.bias_activation(x, bias, "hardswish", residual=x, axis=1)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert_close(y.numpy(), reference.bias_activation(x.numpy(), bias.numpy(), "hardswish", x.numpy(), 1), 1e-6)
    gx, gb = opzoo.bias_activation_backward(torch.ones_like(x), x, bias, "relu", axis=1)
    assert gx.is_contiguous(memory_format=torch.channels_last)
    want_x, want_b = reference.bias_activation_backward(np.ones(x.shape), x.numpy(), bias.numpy(), "relu", 1)
    assert_close(gx.numpy(), want_x, 1e-6)
    assert_close(gb.numpy(), want_b, 1e-6)


def test_bias_activation_axis_rules():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="axis: expected an int, got float"):
        opzoo.bias_activation(x, axis=1.0)
    with pytest.raises(TypeError, match="axis: expected an int, got bool"):
        opzoo.bias_activation(x, axis=True)
    assert opzoo.bias_activation(x, np.ones(2, np.float32), axis=np.int64(0))[1, 2] == 1.0
    with pytest.raises(ValueError, match=r"axis: expected an int in \[-2, 2\) for x of shape \(2, 3\), got -3"):
        opzoo.bias_activation(x, axis=-3)


# The model layer's matrix products: NumPy's sgemm in row or column blocks on opzoo's
# threads, each block's bias-activation epilogue right after it.

def _gemm_or_skip():
    from opzoo.nn._blas import sgemm_attached

    if not sgemm_attached():
        pytest.skip("no OpenBLAS loaded whose sgemm opzoo could attach (NumPy built with another BLAS)")


@pytest.mark.parametrize("M, K, N", [(1, 1, 1), (49, 1152, 192), (12544, 16, 96), (7, 33, 1280), (300, 0, 5),
                                     (0, 8, 8), (1000, 24, 3)])
def test_gemm_bias_activation_matches_numpy(rng, M, K, N):
    _gemm_or_skip()
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    bias, residual = rng.standard_normal(N).astype(np.float32), rng.standard_normal((M, N)).astype(np.float32)
    for threads in (1, 2, 3):
        before = opzoo.get_num_threads()
        opzoo.set_num_threads(threads)
        try:
            out = np.full((M, N), np.nan, np.float32)
            _cpu.gemm_bias_activation(a, b, bias, residual, out, "silu")
            plain = np.full((M, N), np.nan, np.float32)
            _cpu.gemm_bias_activation(a, b, None, None, plain, None)
        finally:
            opzoo.set_num_threads(before)
        z = a.astype(np.float64) @ b
        assert_close(out, reference.bias_activation(z, bias, "silu", residual), 1e-5)
        assert_close(plain, z, 1e-5)


def test_gemm_bias_activation_checks_its_arguments(rng):
    a, b = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)
    out = np.empty((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"b: expected shape \(3, N\) for a of shape \(4, 3\), got \(2, 5\)"):
        _cpu.gemm_bias_activation(a, b[:2].copy(), None, None, out, None)
    with pytest.raises(TypeError, match="a: expected dtype float32, got float64"):
        _cpu.gemm_bias_activation(a.astype(np.float64), b.astype(np.float64), None, None, out.astype(np.float64), None)
    with pytest.raises(ValueError, match=r"out: expected shape \(4, 5\)"):
        _cpu.gemm_bias_activation(a, b, None, None, out[:3].copy(), None)
    with pytest.raises(ValueError, match=r"bias: expected shape \(5,\)"):
        _cpu.gemm_bias_activation(a, b, np.ones(4, np.float32), None, out, None)
    with pytest.raises(ValueError, match="out: must not share memory with residual"):
        _cpu.gemm_bias_activation(a, b, None, out, out, None)
    with pytest.raises(ValueError, match="out: must not share memory with a"):
        buf = np.ones(20, np.float32)
        _cpu.gemm_bias_activation(buf[:12].reshape(4, 3), b, None, None, buf.reshape(4, 5), None)
    with pytest.raises(ValueError, match=r"a: expected 2 dimensions \(M, K\)"):
        _cpu.gemm_bias_activation(a[None], b, None, None, out, None)
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.gemm_bias_activation(np.ones((3, 4), np.float32).T, b, None, None, out, None)

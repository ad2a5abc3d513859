"""Squeeze-excite (opzoo.squeeze_excite and its backward) against the NumPy reference at
every SIMD level: random shapes in both layouts, the kernels' pixel chunks, in place,
channels_last tensors, determinism; the contract suite (tests/kit/squeeze_excite.py)
runs the rest."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import assert_close
from kit.squeeze_excite import make_inputs

import opzoo
from opzoo import reference


def _check(arrays, layout, activation, rng, rtol=1e-5):
    y = opzoo.squeeze_excite(**arrays, activation=activation, layout=layout)
    assert_close(y, reference.squeeze_excite(**arrays, activation=activation, layout=layout), rtol, "y")
    g = rng.standard_normal(arrays["x"].shape).astype(np.float32)
    got = opzoo.squeeze_excite_backward(g, **arrays, activation=activation, layout=layout)
    want = reference.squeeze_excite_backward(g, **arrays, activation=activation, layout=layout)
    for name, a, e in zip(("grad_x", "grad_w_reduce", "grad_w_expand", "grad_b_reduce", "grad_b_expand"), got, want):
        assert_close(a, e, 10 * rtol, name)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(N=st.integers(1, 3), C=st.integers(1, 70), H=st.integers(1, 20), W=st.integers(1, 20), R=st.integers(1, 12),
       layout=st.sampled_from(["NCHW", "NHWC"]), activation=st.sampled_from([None, "silu", "sigmoid", "hardswish"]),
       biases=st.booleans())
def test_matches_reference_on_random_shapes(simd_level, rng, N, C, H, W, R, layout, activation, biases):
    _check(make_inputs(rng, N, C, H, W, R, layout, biases=biases), layout, activation, rng)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("N, C, H, W, R", [(8, 96, 112, 112, 4), (1, 1152, 7, 7, 48), (2, 3, 300, 200, 1)])
def test_efficientnet_sizes_and_many_chunks(simd_level, rng, layout, N, C, H, W, R):
    """B0's first and last SE layers, and pixels split into the most chunks."""
    _check(make_inputs(rng, N, C, H, W, R, layout), layout, "silu", rng)


def test_in_place(rng):
    arrays = make_inputs(rng, 2, 24, 9, 9, 6, "NHWC")
    want = opzoo.squeeze_excite(**arrays, layout="NHWC")
    x = arrays.pop("x").copy()
    assert opzoo.squeeze_excite(x, **arrays, layout="NHWC", out=x) is x
    np.testing.assert_array_equal(x, want)


def test_channels_last_tensor_stays_channels_last(rng):
    torch = pytest.importorskip("torch", reason="channels_last tensors need torch")
    arrays = make_inputs(rng, 2, 8, 5, 6, 2)
    t = {k: torch.from_numpy(a) for k, a in arrays.items()}
    t["x"] = t["x"].contiguous(memory_format=torch.channels_last)
    y = opzoo.squeeze_excite(**t)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert_close(y.numpy(), reference.squeeze_excite(**arrays), 1e-5)
    gx = opzoo.squeeze_excite_backward(torch.ones_like(t["x"]), **t)[0]
    assert gx.is_contiguous(memory_format=torch.channels_last)


def test_bit_identical_for_any_thread_count(rng):
    arrays = make_inputs(rng, 3, 40, 31, 29, 10, "NHWC")
    g = rng.standard_normal(arrays["x"].shape).astype(np.float32)
    before = opzoo.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            opzoo.set_num_threads(threads)
            results.append((opzoo.squeeze_excite(**arrays, layout="NHWC"),
                            *opzoo.squeeze_excite_backward(g, **arrays, layout="NHWC")))
    finally:
        opzoo.set_num_threads(before)
    for got in results[1:]:
        for a, e in zip(got, results[0]):
            np.testing.assert_array_equal(a, e)


def test_no_pixels_gives_nan_means_as_torch():
    torch = pytest.importorskip("torch", reason="compares with torch")
    x = np.zeros((2, 3, 0, 4), np.float32)
    w_reduce, w_expand = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    assert opzoo.squeeze_excite(x, w_reduce, w_expand).shape == x.shape
    grads = opzoo.squeeze_excite_backward(x, x, w_reduce, w_expand)
    xt, wr, we = (torch.tensor(a, requires_grad=True) for a in (x, w_reduce, w_expand))
    y = xt * torch.sigmoid(torch.nn.functional.silu(xt.mean((2, 3)) @ wr.T) @ we.T)[:, :, None, None]
    y.backward(torch.zeros_like(y))
    np.testing.assert_array_equal(np.isnan(grads[1]), np.isnan(wr.grad.numpy()))

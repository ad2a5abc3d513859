"""opzoo.lif_forward / lif_backward / if_forward / if_backward against the NumPy
reference at every SIMD level (random shapes, every option combination), chunked
sequences against one call, SpikingJelly's multi-step LIFNode and IFNode (forward and
autograd backward), thread counts, and bad inputs; the contract suite
(tests/kit/spiking.py) runs the rest."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import assert_close

import opzoo
from opzoo.reference import spiking as ref

OPTIONS = [dict(v_reset=v_reset, decay_input=decay, tau=tau)
           for v_reset, decay, tau in itertools.product([0.0, None, -0.4], [True, False], [2.0, 3.0])]
SURROGATES = [("sigmoid", None, 4.0), ("atan", None, 2.0), ("sigmoid", 1.5, 1.5)]


def _inputs(rng, shape, dtype=np.float32):
    return (rng.standard_normal(shape) * 1.0 + 0.8).astype(dtype), rng.standard_normal(shape).astype(dtype)


def _run(neuron, x, g, kw, surrogate="sigmoid", alpha=None, detach_reset=False, v_init=None, grad_v_final=None):
    fkw = dict(kw) if neuron == "lif" else {k: v for k, v in kw.items() if k == "v_reset"}
    fwd, bwd = (opzoo.lif_forward, opzoo.lif_backward) if neuron == "lif" else (opzoo.if_forward, opzoo.if_backward)
    s, state = fwd(x, v_init=v_init, return_state=True, **fkw)
    gx, gv = bwd(g, state, surrogate=surrogate, alpha=alpha, detach_reset=detach_reset, grad_v_final=grad_v_final,
                 return_grad_v_init=True)
    return s, state, gx, gv


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(T=st.integers(1, 12), step_shape=st.lists(st.integers(1, 9), min_size=0, max_size=3),
       neuron=st.sampled_from(["lif", "if"]), option=st.sampled_from(OPTIONS), surrogate=st.sampled_from(SURROGATES),
       detach_reset=st.booleans(), with_v_init=st.booleans(), with_grad_v_final=st.booleans())
def test_matches_reference_on_random_shapes(simd_level, rng, T, step_shape, neuron, option, surrogate, detach_reset,
                                            with_v_init, with_grad_v_final):
    shape = (T, *step_shape)
    x, g = _inputs(rng, shape)
    v_init = np.asarray(rng.standard_normal(shape[1:]) * 0.5, np.float32) if with_v_init else None
    gv_final = np.asarray(rng.standard_normal(shape[1:]), np.float32) if with_grad_v_final else None
    name, alpha, ref_alpha = surrogate
    s, state, gx, gv = _run(neuron, x, g, option, name, alpha, detach_reset, v_init, gv_final)
    kw = option if neuron == "lif" else dict(v_reset=option["v_reset"])
    want_s, want_h, want_v = ref.forward(neuron, x, v_init=v_init, **kw)
    np.testing.assert_array_equal(s, want_s)  # the float32 arithmetic itself: the same bits
    np.testing.assert_array_equal(state.h_seq, want_h)
    np.testing.assert_array_equal(state.v_final, want_v)
    want_gx, want_gv = ref.backward(neuron, g, want_h, surrogate=name, alpha=ref_alpha, detach_reset=detach_reset,
                                    grad_v_final=gv_final, **kw)
    assert gx.dtype == np.float32 and gx.shape == shape and gv.shape == shape[1:]
    assert_close(gx, want_gx, 1e-5)
    assert_close(gv, want_gv, 1e-5)


@pytest.mark.parametrize("neurons", [1, 15, 16, 17, 2047, 2049, 5000])
def test_odd_neuron_counts_and_float64(simd_level, rng, neurons):
    for dtype in (np.float32, np.float64):
        x, g = _inputs(rng, (5, neurons), dtype)
        s, state, gx, gv = _run("lif", x, g, dict(v_reset=None, decay_input=False, tau=1.7))
        want_s, want_h, want_v = ref.forward("lif", x, v_reset=None, decay_input=False, tau=1.7)
        np.testing.assert_array_equal(s, want_s)
        np.testing.assert_array_equal(state.v_final, want_v)
        assert s.dtype == dtype and state.h_seq.dtype == dtype
        want_gx, _ = ref.backward("lif", g, want_h, v_reset=None, decay_input=False, tau=1.7)
        assert_close(gx, want_gx, 1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("neuron", ["lif", "if"])
def test_chunks_give_what_one_call_gives(rng, neuron):
    x, g = _inputs(rng, (24, 3, 50))
    fwd = opzoo.lif_forward if neuron == "lif" else opzoo.if_forward
    bwd = opzoo.lif_backward if neuron == "lif" else opzoo.if_backward
    whole, state = fwd(x, return_state=True)
    first, s1 = fwd(x[:10], return_state=True)
    second, s2 = fwd(x[10:], v_init=s1.v_final, return_state=True)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    np.testing.assert_array_equal(s2.v_final, state.v_final)
    # Back through the second chunk first, its v_init's gradient carried into the first.
    g2, gv2 = bwd(g[10:], s2, return_grad_v_init=True)
    g1 = bwd(g[:10], s1, grad_v_final=gv2)
    np.testing.assert_array_equal(np.concatenate([g1, g2]), bwd(g, state))


def test_large_inputs_stream_and_agree(rng):
    """Outputs past kStreamOutputBytes take the streaming-store path, with unaligned rows."""
    x, g = _inputs(rng, (9, 3, 100003))
    s, state, gx, _ = _run("lif", x, g, dict(v_reset=0.0, decay_input=True, tau=2.0))
    want_s, want_h, _ = ref.forward("lif", x)
    np.testing.assert_array_equal(s, want_s)
    np.testing.assert_array_equal(state.h_seq, want_h)
    assert_close(gx, ref.backward("lif", g, want_h)[0], 1e-5)


def test_same_bits_for_any_thread_count(rng):
    x, g = _inputs(rng, (16, 70001))
    before = opzoo.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            opzoo.set_num_threads(threads)
            results.append(_run("lif", x, g, dict(v_reset=None, decay_input=True, tau=2.5)))
    finally:
        opzoo.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip((results[0][0], results[0][2], results[0][3]), (other[0], other[2], other[3])):
            np.testing.assert_array_equal(a, b)


def test_zero_sizes_and_non_contiguous_inputs(rng):
    s, state = opzoo.lif_forward(np.zeros((0, 3), np.float32), return_state=True)
    assert s.shape == (0, 3) and state.h_seq.shape == (0, 3)
    np.testing.assert_array_equal(state.v_final, np.zeros(3, np.float32))  # v_reset, as a fresh node
    v0 = np.full(3, 0.25, np.float32)
    _, state = opzoo.if_forward(np.zeros((0, 3), np.float32), v_init=v0, return_state=True)
    np.testing.assert_array_equal(state.v_final, v0)
    assert opzoo.lif_forward(np.zeros((4, 0, 2), np.float32)).shape == (4, 0, 2)
    x, _ = _inputs(rng, (6, 8, 10))
    strided = x.transpose(0, 2, 1)
    np.testing.assert_array_equal(opzoo.lif_forward(strided), ref.forward("lif", np.ascontiguousarray(strided))[0])
    np.testing.assert_array_equal(opzoo.if_forward(np.float32([0.6, 0.6, 0.6])), [0, 1, 0])  # per-step shape ()


@pytest.mark.parametrize("call, error, match", [
    (lambda x: opzoo.lif_forward(x, tau=1.0), ValueError, "tau"),
    (lambda x: opzoo.lif_forward(x, tau=0.5), ValueError, "tau"),
    (lambda x: opzoo.lif_forward(x, tau=float("inf")), ValueError, "tau"),
    (lambda x: opzoo.lif_forward(x, v_reset=1.0), ValueError, "v_reset"),
    (lambda x: opzoo.if_forward(x, v_threshold=0.5, v_reset=0.7), ValueError, "v_reset"),
    (lambda x: opzoo.lif_forward(x, v_threshold=float("nan")), ValueError, "v_threshold"),
    (lambda x: opzoo.lif_forward(x, tau="2"), TypeError, "tau"),
    (lambda x: opzoo.lif_forward(x, decay_input=1), TypeError, "decay_input"),
    (lambda x: opzoo.lif_forward(x.astype(np.int32)), TypeError, "dtype"),
    (lambda x: opzoo.lif_forward(x.astype(np.float16)), TypeError, "dtype"),
    (lambda x: opzoo.lif_forward(np.float32(1)), ValueError, "time axis"),
    (lambda x: opzoo.lif_forward(x, v_init=np.zeros((2, 4), np.float32)), ValueError, "v_init"),
    (lambda x: opzoo.lif_forward(x, v_init=np.zeros((2, 3), np.float64)), TypeError, "v_init"),
    (lambda x: opzoo.lif_backward(x, opzoo.if_forward(x, return_state=True)[1]), ValueError, "if_forward"),
    (lambda x: opzoo.lif_backward(x, None), TypeError, "SpikingState"),
    (lambda x: opzoo.lif_backward(x[:3], opzoo.lif_forward(x, return_state=True)[1]), ValueError, "h_seq"),
    (lambda x: opzoo.lif_backward(x, opzoo.lif_forward(x, return_state=True)[1], surrogate="relu"), ValueError,
     "surrogate"),
    (lambda x: opzoo.lif_backward(x, opzoo.lif_forward(x, return_state=True)[1], alpha=0), ValueError, "alpha"),
    (lambda x: opzoo.lif_backward(x, opzoo.lif_forward(x, return_state=True)[1],
                                  grad_v_final=np.zeros(3, np.float32)), ValueError, "grad_v_final"),
])
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(np.ones((5, 2, 3), np.float32))


@pytest.fixture(scope="module")
def spikingjelly():
    pytest.importorskip("torch", reason="SpikingJelly needs torch")
    return pytest.importorskip("spikingjelly.activation_based.neuron",
                               reason="spikingjelly is not installed (pip install spikingjelly)")


SJ_CASES = [("lif", option) for option in OPTIONS[::2]] + [("if", dict(v_reset=v)) for v in (0.0, None, -0.4)]


@pytest.mark.parametrize("neuron, option", SJ_CASES)
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_matches_spikingjelly_multistep_nodes(spikingjelly, rng, neuron, option, surrogate, detach_reset):
    import torch
    from spikingjelly.activation_based import surrogate as sj_surrogate

    x, g = _inputs(rng, (20, 4, 131))
    sg = sj_surrogate.Sigmoid() if surrogate == "sigmoid" else sj_surrogate.ATan()
    common = dict(v_reset=option["v_reset"], surrogate_function=sg, detach_reset=detach_reset, step_mode="m")
    if neuron == "lif":
        node = spikingjelly.LIFNode(tau=option["tau"], decay_input=option["decay_input"], **common)
    else:
        node = spikingjelly.IFNode(**common)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    spikes = node(xt)
    spikes.backward(torch.from_numpy(g))
    s, state, gx, _ = _run(neuron, x, g, option, surrogate, None, detach_reset)
    np.testing.assert_array_equal(s, spikes.detach().numpy())
    np.testing.assert_array_equal(state.v_final, node.v.detach().numpy())
    assert_close(gx, xt.grad.numpy(), 1e-5)


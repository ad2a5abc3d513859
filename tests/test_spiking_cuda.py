"""Spiking neurons on CUDA arrays: PyTorch and CuPy (or, in the emulated build,
host-memory stand-ins for CuPy arrays) against the NumPy reference in float32, float16
and bfloat16 inputs (float32 potentials), every neuron model, reset and surrogate,
chunked sequences; the torch op on CUDA tensors goes through the same path. Skipped, with
the reason, where no CUDA device or emulated module is there."""

import numpy as np
import pytest
from kit import assert_close
from kit.fake_gpu import FakeGpuArray, from_fake_gpu
from kit.gpu import TOLERANCE, rounded

import opzoo
from opzoo.reference import spiking as ref

pytestmark = pytest.mark.cuda

CASES = [("lif", dict(tau=2.0, v_reset=0.0, decay_input=True)), ("lif", dict(tau=3.0, v_reset=None, decay_input=False)),
         ("if", dict(v_reset=-0.4))]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("neuron, kw", CASES)
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
def test_matches_reference(lib, rng, dtype, neuron, kw, surrogate):
    name, to_dev, to_np = lib
    if name == "cupy" and dtype == "bfloat16":
        pytest.skip("CuPy has no bfloat16 dtype")
    fwd, bwd = (opzoo.lif_forward, opzoo.lif_backward) if neuron == "lif" else (opzoo.if_forward, opzoo.if_backward)
    x = rounded((rng.standard_normal((9, 3, 257)) + 0.8).astype(np.float32), dtype)
    g = rounded(rng.standard_normal(x.shape).astype(np.float32), dtype)
    v0 = (rng.standard_normal((3, 257)) * 0.5).astype(np.float32)
    spikes, state = fwd(to_dev(x, dtype), v_init=to_dev(v0, "float32"), return_state=True, **kw)
    want_s, want_h, want_v = ref.forward(neuron, x, v_init=v0, **kw)
    # The inputs as the device holds them, integrated in float32: the reference's bits.
    np.testing.assert_array_equal(to_np(spikes), want_s)
    np.testing.assert_array_equal(to_np(state.h_seq), want_h)
    np.testing.assert_array_equal(to_np(state.v_final), want_v)
    gv = rng.standard_normal((3, 257)).astype(np.float32)
    gx, gv0 = bwd(to_dev(g, dtype), state, surrogate=surrogate, grad_v_final=to_dev(gv, "float32"),
                  return_grad_v_init=True)
    alpha = 4.0 if surrogate == "sigmoid" else 2.0
    want_gx, want_gv0 = ref.backward(neuron, g, want_h, surrogate=surrogate, alpha=alpha, grad_v_final=gv, **kw)
    assert_close(to_np(gx), want_gx, max(TOLERANCE[dtype], 1e-5) * 4, "grad_x")
    assert_close(to_np(gv0), want_gv0, 1e-5, "grad_v_init")


def test_device_arrays_take_the_cuda_path(fake_gpu, rng):
    x = (rng.standard_normal((6, 40)) + 0.8).astype(np.float32)
    spikes, state = opzoo.lif_forward(FakeGpuArray(x), return_state=True)
    assert isinstance(spikes, FakeGpuArray) and isinstance(state.h_seq, FakeGpuArray)
    np.testing.assert_array_equal(from_fake_gpu(spikes), ref.forward("lif", x)[0])
    gx = opzoo.lif_backward(FakeGpuArray(np.ones_like(x)), state)
    assert_close(from_fake_gpu(gx), ref.backward("lif", np.ones_like(x), ref.forward("lif", x)[1])[0], 1e-5)
    assert fake_gpu.streams
    with pytest.raises(ValueError, match="mixed devices"):
        opzoo.lif_forward(FakeGpuArray(x), v_init=np.zeros(40, np.float32))

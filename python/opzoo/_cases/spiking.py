"""The spiking family's benchmark case and demo: PERF.md case F (LIF neurons, T=32,
64x4096, float32; tau 2, v_threshold 1, v_reset 0, decay_input, sigmoid surrogate with
alpha 4), the forward and the forward+backward, against SpikingJelly's multi-step
LIFNode on the CPU (its torch loop), a torch eager loop (with autograd for the
backward), a numba loop (../shared/peers/baseline.py's), the NumPy loop, and the memory
floor of the same run: NumPy ``-x`` (x read, one array written) for the forward and
``-x`` plus ``x + g`` (five arrays' bytes) for the forward+backward, on as many threads
as opzoo runs. snnTorch's Leaky fires on '>' and resets with a delay (ANCHORS.md), so
its spikes are not these; it is left out."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _runtime
from ..ops.spiking import lif_backward, lif_forward
from ..reference import spiking as reference
from . import BenchCase, Row, error_against, register_case, register_demo, threaded_ufunc

CASE_F_SHAPE = (32, 64, 4096)
OPZOO, FLOOR, SJ, TORCH, NUMBA, NUMPY = ("opzoo", "floor: NumPy -x (+ x + g)", "spikingjelly LIFNode(m)",
                                         "torch eager loop", "numba loop", "NumPy loop")


def _numba_forward():
    """baseline.py's numba loop: chunks of 2048 neurons in prange, the time loop inside."""
    if importlib.util.find_spec("numba") is None:
        return None
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def lif(X, tau, vth, vr, out):
        T, M = X.shape
        CH = 2048
        for ci in prange((M + CH - 1) // CH):
            lo, hi = ci * CH, min(M, ci * CH + CH)
            v = np.empty(hi - lo, dtype=np.float32)
            v[:] = vr
            for t in range(T):
                for j in range(lo, hi):
                    vv = v[j - lo]
                    h = vv + (X[t, j] - (vv - vr)) / tau
                    if h >= vth:
                        out[t, j] = 1.0
                        v[j - lo] = vr
                    else:
                        out[t, j] = 0.0
                        v[j - lo] = h

    def run(X):
        out = np.empty_like(X)
        lif(X.reshape(X.shape[0], -1), np.float32(2.0), np.float32(1.0), np.float32(0.0), out.reshape(X.shape[0], -1))
        return out

    return run


def _torch_peers(X, G):
    """The torch loops and SpikingJelly's node, forward and forward+backward, or {} without torch."""
    if importlib.util.find_spec("torch") is None:
        return {}, {}
    import torch

    alpha = 4.0

    class SigmoidSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return (z >= 0).to(z.dtype)

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            s = torch.sigmoid(alpha * z)
            return g * (1 - s) * s * alpha

    def loop(x, spike):
        v = torch.zeros_like(x[0])
        outs = []
        for xt in x.unbind(0):
            h = v + (xt - v) / 2.0
            s = spike(h - 1.0)
            outs.append(s)
            v = h * (1 - s)
        return torch.stack(outs)

    tx, tg = torch.from_numpy(X), torch.from_numpy(G)
    xg = tx.clone().requires_grad_(True)

    def loop_backward():
        xg.grad = None
        loop(xg, SigmoidSpike.apply).backward(tg)
        return xg.grad

    forward = {TORCH: lambda: loop(tx, lambda z: (z >= 0).to(z.dtype))}
    both = {TORCH: loop_backward}
    if importlib.util.find_spec("spikingjelly") is not None:
        from spikingjelly.activation_based import neuron, surrogate

        node = neuron.LIFNode(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                              surrogate_function=surrogate.Sigmoid(alpha=alpha), step_mode="m")

        def sj_forward():
            node.reset()
            with torch.no_grad():
                return node(tx)

        def sj_backward():
            node.reset()
            xg.grad = None
            node(xg).backward(tg)
            return xg.grad

        forward[SJ], both[SJ] = sj_forward, sj_backward
    return forward, both


def case_f_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    shape = (8, 4, 1024) if quick else CASE_F_SHAPE
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal(shape, dtype=np.float32) + 0.8).astype(np.float32)
    G = rng.standard_normal(shape, dtype=np.float32)
    threads = _runtime.get_num_threads()
    pool = ThreadPoolExecutor(threads)
    negative, add = threaded_ufunc(pool, threads, np.negative), threaded_ufunc(pool, threads, np.add)
    spikes_ref, h_ref, _ = reference.forward("lif", X)
    grad_ref, _ = reference.backward("lif", G, h_ref)

    def opzoo_both():
        _, state = lif_forward(X, return_state=True)
        return lif_backward(G, state)

    forward = {OPZOO: lambda: lif_forward(X), FLOOR: lambda: negative(X)}
    both = {OPZOO: opzoo_both, FLOOR: lambda: (negative(X), add(X, G))}
    torch_forward, torch_both = _torch_peers(X, G)
    forward.update(torch_forward)
    both.update(torch_both)
    numba = _numba_forward()
    if numba is not None:
        forward[NUMBA] = lambda: numba(X)
    forward[NUMPY] = lambda: reference.forward("lif", X)[0]
    both[NUMPY] = lambda: reference.backward("lif", G, reference.forward("lif", X)[1])[0]
    return [Row("forward", forward, error_against(spikes_ref), rtol=0, floors=(FLOOR,)),
            Row("forward+backward", both, error_against(grad_ref), floors=(FLOOR,))]


register_case(BenchCase(
    "F", "LIF neurons, multi-step, T x neurons = {shape}, float32: forward; forward+backward (sigmoid surrogate)",
    case_f_rows, [OPZOO, FLOOR, NUMBA, SJ, TORCH, NUMPY],
    [(OPZOO, FLOOR), (OPZOO, NUMBA), (OPZOO, SJ), (OPZOO, TORCH)],
    params=lambda quick: {"shape": "x".join(map(str, (8, 4, 1024) if quick else CASE_F_SHAPE))}))


def _demo() -> tuple[str, bool]:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 8, 100)) + 0.8).astype(np.float32)
    spikes, state = lif_forward(x, return_state=True)
    ok = bool(np.array_equal(spikes, reference.forward("lif", x)[0]))
    return f"x{x.shape} -> spikes{spikes.shape}, firing rate {spikes.mean():.3f}, same spikes as the reference", ok


register_demo("spiking", _demo)

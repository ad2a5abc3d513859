"""The spiking family's benchmark case and demo: PERF.md case F (LIF neurons, T=32,
64x4096, float32; tau 2, v_threshold 1, v_reset 0, decay_input, sigmoid surrogate with
alpha 4), the forward and the forward+backward, against SpikingJelly's multi-step
LIFNode on the CPU (its torch loop), a torch eager loop (with autograd for the
backward), numba loops (../shared/peers/baseline.py's forward; for the backward the
same chunks back through time), the NumPy loop, and the memory
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
from . import GPU_TOLERANCE, BenchCase, Row, as_numpy, error_against, register_case, register_demo, threaded_ufunc

CASE_F_SHAPE = (32, 64, 4096)
OPZOO, FLOOR, SJ, TORCH, NUMBA, NUMPY = ("opzoo", "floor: NumPy -x (+ x + g)", "spikingjelly LIFNode(m)",
                                         "torch eager loop", "numba loop", "NumPy loop")
ALPHA = 4.0  # the sigmoid surrogate's


def _numba_loops():
    """(forward, forward+backward) numba loops, or None without numba: baseline.py's
    forward (chunks of 2048 neurons in prange, the time loop inside), and for the
    backward the same chunks keeping H, then back through time with the sigmoid surrogate
    (the reference's arithmetic)."""
    if importlib.util.find_spec("numba") is None:
        return None
    import math

    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def lif(X, tau, vth, vr, out, H):
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
                    if H.shape[0]:
                        H[t, j] = h
                    if h >= vth:
                        out[t, j] = 1.0
                        v[j - lo] = vr
                    else:
                        out[t, j] = 0.0
                        v[j - lo] = h

    @njit(parallel=True, cache=False)
    def lif_backward(G, H, tau, vth, vr, alpha, gx):
        T, M = G.shape
        CH = 2048
        for ci in prange((M + CH - 1) // CH):
            lo, hi = ci * CH, min(M, ci * CH + CH)
            carry = np.zeros(hi - lo, dtype=np.float32)
            for t in range(T - 1, -1, -1):
                for j in range(lo, hi):
                    h = H[t, j]
                    sig = np.float32(1.0) / (np.float32(1.0) + np.float32(math.exp(-(alpha * (h - vth)))))
                    sg = (np.float32(1.0) - sig) * sig * alpha
                    reset_grad = (np.float32(0.0) if h >= vth else np.float32(1.0)) + (vr - h) * sg
                    gh = G[t, j] * sg + carry[j - lo] * reset_grad
                    gx[t, j] = gh / tau
                    carry[j - lo] = gh - gh / tau

    f32 = np.float32
    no_h = np.empty((0, 0), np.float32)

    def forward(X):
        out = np.empty_like(X)
        lif(X.reshape(X.shape[0], -1), f32(2.0), f32(1.0), f32(0.0), out.reshape(X.shape[0], -1), no_h)
        return out

    def forward_backward(X, G):
        flat = (X.shape[0], -1)
        spikes, H, gx = np.empty_like(X), np.empty_like(X), np.empty_like(X)
        lif(X.reshape(flat), f32(2.0), f32(1.0), f32(0.0), spikes.reshape(flat), H.reshape(flat))
        lif_backward(G.reshape(flat), H.reshape(flat), f32(2.0), f32(1.0), f32(0.0), f32(ALPHA), gx.reshape(flat))
        return gx

    return forward, forward_backward



def _sigmoid_spike(torch):
    """Heaviside forward, SpikingJelly's sigmoid surrogate (alpha 4) backward, as a function of z = H - v_threshold."""

    class SigmoidSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return (z >= 0).to(z.dtype)

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            s = torch.sigmoid(ALPHA * z)
            return g * (1 - s) * s * ALPHA

    return SigmoidSpike.apply


def _spikingjelly_node(torch):
    """(x, g) -> a call of case F's SpikingJelly LIFNode(step_mode="m") from a reset state:
    its forward without autograd (g None) or its forward+backward (x requiring grad,
    returning x's gradient); None without SpikingJelly."""
    if importlib.util.find_spec("spikingjelly") is None:
        return None
    from spikingjelly.activation_based import neuron, surrogate

    node = neuron.LIFNode(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                          surrogate_function=surrogate.Sigmoid(alpha=ALPHA), step_mode="m")

    def call(x, g):
        def forward():
            node.reset()
            with torch.no_grad():
                return node(x)

        def forward_backward():
            node.reset()
            x.grad = None
            node(x).backward(g)
            return x.grad

        return forward if g is None else forward_backward

    return call


def _torch_loop(x, spike):
    """The torch eager loop of case F's LIF (v_reset 0, so V - v_reset is V), its
    potentials in float32 whatever x's dtype, as opzoo's CUDA kernel keeps them."""
    import torch

    v = torch.zeros_like(x[0], dtype=torch.float32)
    outs = []
    for xt in x.unbind(0):
        h = v + (xt.float() - v) / 2.0
        s = spike(h - 1.0)
        outs.append(s.to(x.dtype))
        v = h * (1 - s)
    return torch.stack(outs)


def _torch_peers(X, G):
    """The torch loops and SpikingJelly's node, forward and forward+backward, or {} without torch."""
    if importlib.util.find_spec("torch") is None:
        return {}, {}
    import torch

    tx, tg = torch.from_numpy(X), torch.from_numpy(G)
    xg = tx.clone().requires_grad_(True)

    sigmoid_spike = _sigmoid_spike(torch)

    def loop_backward():
        xg.grad = None
        _torch_loop(xg, sigmoid_spike).backward(tg)
        return xg.grad

    forward = {TORCH: lambda: _torch_loop(tx, lambda z: (z >= 0).float())}
    both = {TORCH: loop_backward}
    sj = _spikingjelly_node(torch)
    if sj is not None:
        forward[SJ], both[SJ] = sj(tx, None), sj(xg, tg)
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
    numba = _numba_loops()
    if numba is not None:
        forward[NUMBA], both[NUMBA] = (lambda: numba[0](X)), (lambda: numba[1](X, G))
    forward[NUMPY] = lambda: reference.forward("lif", X)[0]
    both[NUMPY] = lambda: reference.backward("lif", G, reference.forward("lif", X)[1])[0]
    return [Row("forward", forward, error_against(spikes_ref), rtol=0, floors=(FLOOR,)),
            Row("forward+backward", both, error_against(grad_ref), floors=(FLOOR,))]


register_case(BenchCase(
    "F", "LIF neurons, multi-step, T x neurons = {shape}, float32: forward; forward+backward (sigmoid surrogate)",
    case_f_rows, [OPZOO, FLOOR, NUMBA, SJ, TORCH, NUMPY],
    [(OPZOO, FLOOR), (OPZOO, NUMBA), (OPZOO, SJ), (OPZOO, TORCH)],
    params=lambda quick: {"shape": "x".join(map(str, (8, 4, 1024) if quick else CASE_F_SHAPE))}))


GPU_FLOOR = "floor: torch -x (+ x + g)"
#: The GPU rows' error is the share of elements off by more than the dtype's tolerance,
#: and may be this large: a peer whose kernels contract to FMA or compute in half
#: precision flips the odd spike within rounding of the threshold, and that neuron's
#: later steps with it (opzoo's CUDA spikes are the reference's bits: 0).
FLIPS = 1e-3


def _share_off(expected: np.ndarray, tolerance: float):
    """A check: the share of elements farther than `tolerance` x the scale from `expected`."""

    def check(result) -> float:
        scale = np.abs(expected).max() + 1.0
        return float(np.mean(np.abs(as_numpy(result).astype(np.float64) - expected) > tolerance * scale))

    return check


def case_f_gpu_rows(quick: bool = False) -> list[Row]:
    """Case F on the GPU, float32 and float16 inputs (potentials in float32): opzoo's CUDA
    LIF forward and forward+backward on torch tensors against SpikingJelly's LIFNode (its
    CUDA kernels, chosen by the tensors' device) where installed and the torch eager loop
    (autograd with the sigmoid surrogate), with torch -x (+ x + g) as the floor; spikes
    checked exactly and gradients to the dtype's tolerance against the NumPy reference
    on the inputs' float32 values."""
    import torch

    generator = torch.Generator(device="cuda").manual_seed(0)
    shape = (8, 4, 1024) if quick else CASE_F_SHAPE
    rows = []
    for short, name in (("fp32", "float32"), ("fp16", "float16")):
        dtype = getattr(torch, name)
        X = (torch.randn(shape, device="cuda", generator=generator) + 0.8).to(dtype)
        G = torch.randn(shape, device="cuda", generator=generator).to(dtype)
        spikes_ref, h_ref, _ = reference.forward("lif", as_numpy(X))
        grad_ref, _ = reference.backward("lif", as_numpy(G), h_ref)
        xg = X.clone().requires_grad_(True)
        sigmoid_spike = _sigmoid_spike(torch)

        def opzoo_both(X=X, G=G):
            _, state = lif_forward(X, return_state=True)
            return lif_backward(G, state)

        def torch_both(xg=xg, G=G, spike=sigmoid_spike):
            xg.grad = None
            _torch_loop(xg, spike).backward(G)
            return xg.grad

        forward = {OPZOO: lambda X=X: lif_forward(X), GPU_FLOOR: lambda X=X: -X,
                   TORCH: lambda X=X: _torch_loop(X, lambda z: (z >= 0).float())}
        both = {OPZOO: opzoo_both, GPU_FLOOR: lambda X=X, G=G: (-X, X + G), TORCH: torch_both}
        sj = _spikingjelly_node(torch)
        if sj is not None:
            forward[SJ], both[SJ] = sj(X, None), sj(xg, G)
        rows += [Row(f"forward {short}", forward, _share_off(spikes_ref, 0.0), FLIPS, group=short, floors=(GPU_FLOOR,)),
                 Row(f"forward+backward {short}", both, _share_off(grad_ref, GPU_TOLERANCE[name]), FLIPS, group=short,
                     floors=(GPU_FLOOR,))]
    return rows


register_case(BenchCase(
    "F", "LIF neurons, multi-step, T x neurons = {shape}, float32 and float16 inputs: forward; forward+backward, "
    "against SpikingJelly and torch on the GPU",
    case_f_gpu_rows, [OPZOO, GPU_FLOOR, SJ, TORCH], [(OPZOO, GPU_FLOOR), (OPZOO, SJ), (OPZOO, TORCH)],
    params=lambda quick: {"shape": "x".join(map(str, (8, 4, 1024) if quick else CASE_F_SHAPE))}, device="gpu"))


def _demo() -> tuple[str, bool]:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 8, 100)) + 0.8).astype(np.float32)
    spikes, state = lif_forward(x, return_state=True)
    ok = bool(np.array_equal(spikes, reference.forward("lif", x)[0]))
    return f"x{x.shape} -> spikes{spikes.shape}, firing rate {spikes.mean():.3f}, same spikes as the reference", ok


register_demo("spiking", _demo)

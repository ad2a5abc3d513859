"""Multi-step LIF and IF neurons in NumPy, as SpikingJelly's ``LIFNode`` and ``IFNode``
(``step_mode="m"``) compute them, and their backward through time with a surrogate
spike derivative.

Unlike the other references this one computes in the input's dtype, operation by
operation in SpikingJelly's order: a spike is a threshold decision, and one decision
flipped by a rounding difference changes the neuron's whole future, so the spec of a
float32 kernel is the float32 arithmetic itself. Pass float64 inputs for float64 maths.

One step (X the input, V the potential carried between steps, V_r the reset value or 0
under a soft reset)::

    H = V + (X - (V - V_r)) / tau        LIF, decay_input
    H = V - (V - V_r) / tau + X          LIF, no decay_input
    H = V + X                            IF
    S = 1 where H >= v_threshold else 0
    V = S * V_r + (1 - S) * H            hard reset (v_reset a number)
    V = H - S * v_threshold              soft reset (v_reset None)
"""

import math

import numpy as np


def _charge(neuron, x, v, tau, v_r, decay_input):
    if neuron == "if":
        return v + x
    if decay_input:
        return v + (x - (v - v_r)) / tau
    return v - (v - v_r) / tau + x


def forward(neuron, x, *, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True, v_init=None):
    """(spikes, h_seq, v_final) of `neuron` ("lif" or "if") over x of shape (T, ...)."""
    x = np.asarray(x)
    dt = x.dtype.type
    tau, vth = dt(tau), dt(v_threshold)
    v_r = dt(0 if v_reset is None else v_reset)
    v = np.full(x.shape[1:], v_r, x.dtype) if v_init is None else np.array(v_init, x.dtype)
    spikes, h_seq = np.empty_like(x), np.empty_like(x)
    for t in range(x.shape[0]):
        h = _charge(neuron, x[t], v, tau, v_r, decay_input)
        s = (h >= vth).astype(x.dtype)
        v = h - s * vth if v_reset is None else s * v_r + (dt(1) - s) * h
        spikes[t], h_seq[t] = s, h
    return spikes, h_seq, v


def surrogate_slope(z, surrogate, alpha):
    """The surrogate's derivative at z = H - v_threshold (SpikingJelly's formulas)."""
    dt = z.dtype.type
    if surrogate == "sigmoid":
        s = 1 / (1 + np.exp(-(dt(alpha) * z)))
        return (1 - s) * s * dt(alpha)
    if surrogate == "atan":
        w = z * dt(math.pi / 2 * alpha)
        return dt(alpha / 2) / (1 + w * w)
    raise ValueError(f"surrogate must be 'sigmoid' or 'atan', got {surrogate!r}")


def backward(neuron, grad_spikes, h_seq, *, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True,
             surrogate="sigmoid", alpha=4.0, detach_reset=False, grad_v_final=None):
    """(grad_x, grad_v_init): back through time from the last step, the gradient of V
    carried from each step to the one before."""
    h_seq = np.asarray(h_seq)
    dt = h_seq.dtype.type
    tau, vth = dt(tau), dt(v_threshold)
    g = np.asarray(grad_spikes, h_seq.dtype)
    carry = np.zeros(h_seq.shape[1:], h_seq.dtype) if grad_v_final is None else np.array(grad_v_final, h_seq.dtype)
    grad_x = np.empty_like(h_seq)
    for t in range(h_seq.shape[0] - 1, -1, -1):
        h = h_seq[t]
        sg = surrogate_slope(h - vth, surrogate, alpha)
        if v_reset is None:  # dV/dH of V = H - S * v_threshold
            reset_grad = np.ones_like(h) if detach_reset else 1 - vth * sg
        else:  # of V = S * v_reset + (1 - S) * H
            reset_grad = 1 - (h >= vth).astype(h.dtype)
            if not detach_reset:
                reset_grad = reset_grad + (dt(v_reset) - h) * sg
        gh = g[t] * sg + carry * reset_grad
        leaky = neuron == "lif"
        grad_x[t] = gh / tau if leaky and decay_input else gh
        carry = gh - gh / tau if leaky else gh
    return grad_x, carry


def lif_forward(x, *, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True, v_init=None):
    return forward("lif", x, tau=tau, v_threshold=v_threshold, v_reset=v_reset, decay_input=decay_input,
                   v_init=v_init)


def if_forward(x, *, v_threshold=1.0, v_reset=0.0, v_init=None):
    return forward("if", x, v_threshold=v_threshold, v_reset=v_reset, v_init=v_init)

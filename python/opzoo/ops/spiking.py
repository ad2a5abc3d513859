"""Spiking neurons over time: SpikingJelly's multi-step LIF and IF neurons
(``activation_based.neuron.LIFNode`` / ``IFNode`` with ``step_mode="m"``), all T steps
in one kernel call with each neuron's membrane potential carried through the time loop,
and their backward through time with a surrogate gradient.

The forward is SpikingJelly's arithmetic, operation by operation in float32
(``opzoo.reference.spiking`` writes it out), so the spikes are the same bits as its
torch back end's. ``return_state=True`` also returns a :class:`SpikingState`: the
potential after the last step (``v_final``, to pass as ``v_init`` of the next chunk of a
sequence: a sequence fed in chunks gives what one call gives) and H, the potential
before each step's reset (``h_seq``, all the backward needs).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _cpu
from .._device import DeviceBackend, type_name
from .._dispatch import backend_for

__all__ = ["SpikingState", "if_backward", "if_forward", "lif_backward", "lif_forward"]

#: The surrogates' default alpha, as SpikingJelly's surrogate.Sigmoid() and surrogate.ATan().
DEFAULT_ALPHA = {"sigmoid": 4.0, "atan": 2.0}


@dataclass(frozen=True)
class SpikingState:
    """What a spiking forward leaves for its backward and for the next chunk of a sequence.

    Attributes
    ----------
    neuron : {"lif", "if"}
    h_seq : array, shape (T, ...)
        H, the membrane potential after each step's charge and before its reset
        (SpikingJelly's ``h_seq``), float32 (float64 for float64 inputs).
    v_final : array, shape (...)
        The membrane potential after the last step, of h_seq's dtype.
    tau, v_threshold, v_reset, decay_input
        The forward's parameters (tau None for IF neurons).
    """

    neuron: str
    h_seq: Any
    v_final: Any
    tau: float | None
    v_threshold: float
    v_reset: float | None
    decay_input: bool


def _number(value, name: str) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    raise TypeError(f"{name}: expected a real number, got {type_name(value)}")


def _flag(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name}: expected a bool, got {type_name(value)}")


def neuron_params(neuron: str, tau, v_threshold, v_reset, decay_input) -> tuple:
    """(neuron, tau, v_threshold, v_reset, decay_input) as the kernels take them, checked
    by the kernel module's rules (opzoo._cpu.spiking_check_neuron)."""
    tau = _number(tau, "tau") if neuron == "lif" else 1.0
    params = (neuron, tau, _number(v_threshold, "v_threshold"), None if v_reset is None else _number(v_reset, "v_reset"),
              _flag(decay_input, "decay_input"))
    _cpu.spiking_check_neuron(*params)
    return params


def surrogate_params(surrogate, alpha, detach_reset) -> tuple:
    """(surrogate, alpha, detach_reset), alpha None meaning the surrogate's default,
    checked by the kernel module's rules (opzoo._cpu.spiking_check_surrogate)."""
    if not isinstance(surrogate, str):
        raise TypeError(f"surrogate: expected 'sigmoid' or 'atan', got {type_name(surrogate)}")
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(surrogate, 1.0)
    params = (surrogate, _number(alpha, "alpha"), _flag(detach_reset, "detach_reset"))
    _cpu.spiking_check_surrogate(*params[:2])
    return params


def _state_array(be, first_name: str, first, a, name: str):
    """`a` (or None) read by the back end of `first`; ValueError or TypeError when it lives
    elsewhere or is another type of array (its dtype the kernel module checks)."""
    if a is None:
        return None
    be_a, (a_,) = backend_for(**{name: a})
    on_device = isinstance(be, DeviceBackend), isinstance(be_a, DeviceBackend)
    if on_device[0] != on_device[1] or (all(on_device) and be_a.device != be.device):
        raise ValueError(f"mixed devices: {name} and {first_name} live on different devices")
    same_type = be_a.library == be.library if all(on_device) else be_a.wrap is be.wrap
    if not same_type:
        raise TypeError(f"all arrays must be of one type: {first_name} is {type_name(first)}, {name} is "
                        f"{type_name(a)}")
    return be.contiguous(a_, name)


def state_dtype(a) -> str | None:
    """The dtype name of the potentials for inputs like `a` (None: a's own), as the kernels'
    rule (spiking_shape.h: spiking_state_dtype) has it."""
    name = str(a.dtype).removeprefix("torch.")
    return None if name in ("float32", "float64") else "float32"


def forward(params: tuple, x, v_init, return_state: bool):
    be, (x_,) = backend_for(x=x)
    v_ = _state_array(be, "x", x, v_init, "v_init")
    xk = be.contiguous(x_, "x")
    if len(xk.shape) == 0:
        raise ValueError("x: expected shape (T, ...) with a time axis first, got shape ()")
    potentials = state_dtype(xk)
    spikes = be.empty(tuple(xk.shape), like=xk)
    h_seq = be.empty(tuple(xk.shape), like=xk, dtype=potentials) if return_state else None
    v_final = be.empty(tuple(xk.shape[1:]), like=xk, dtype=potentials)
    be.run("spiking_forward", (xk, v_, spikes, h_seq, v_final), *params)
    if not return_state:
        return be.wrap(spikes)
    neuron, tau, v_threshold, v_reset, decay_input = params
    state = SpikingState(neuron, be.wrap(h_seq), be.wrap(v_final), tau if neuron == "lif" else None, v_threshold,
                         v_reset, decay_input)
    return be.wrap(spikes), state


def backward(params: tuple, surrogate: tuple, grad_spikes, h_seq, grad_v_final, want_grad_v_init: bool):
    """(grad_x, grad_v_init or None) for the forward of `params` that left `h_seq`."""
    be, (g_,) = backend_for(grad_spikes=grad_spikes)
    h_ = _state_array(be, "grad_spikes", grad_spikes, h_seq, "h_seq")
    gv_ = _state_array(be, "grad_spikes", grad_spikes, grad_v_final, "grad_v_final")
    gk = be.contiguous(g_, "grad_spikes")
    if len(gk.shape) == 0:
        raise ValueError("grad_spikes: expected shape (T, ...) with a time axis first, got shape ()")
    grad_x = be.empty(tuple(gk.shape), like=gk)
    grad_v_init = be.empty(tuple(gk.shape[1:]), like=gk, dtype=state_dtype(gk)) if want_grad_v_init else None
    be.run("spiking_backward", (gk, gv_, h_, grad_x, grad_v_init), *params, *surrogate)
    return be.wrap(grad_x), None if grad_v_init is None else be.wrap(grad_v_init)


def lif_forward(x, *, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True, v_init=None, return_state=False):
    """Leaky integrate-and-fire neurons over T steps, as SpikingJelly's multi-step ``LIFNode``.

    Each step charges ``H = V + (X - (V - v_reset)) / tau`` (``decay_input=True``) or
    ``H = V - (V - v_reset) / tau + X``, fires ``S = H >= v_threshold``, then resets
    ``V = S * v_reset + (1 - S) * H``, or ``V = H - S * v_threshold`` when ``v_reset`` is
    None (soft reset, with 0 in place of v_reset in the charge).

    Parameters
    ----------
    x : array, shape (T, ...)
        The input current of every step, time first, any per-step shape; float32 or
        float64 on the CPU; float32, float16 or bfloat16 on a CUDA device (integrated
        in float32).
    tau : float
        Membrane time constant, > 1.
    v_threshold : float
    v_reset : float or None
        The potential after a spike (< v_threshold), or None for a soft reset.
    decay_input : bool
        Whether the input decays with the potential (divided by tau).
    v_init : array, shape x.shape[1:], optional
        The potential before the first step (a previous call's ``state.v_final``), of
        the potentials' dtype (float32, float64 for float64 x); default v_reset (0 under
        a soft reset), as a freshly reset SpikingJelly node.
    return_state : bool
        Also return the :class:`SpikingState` the backward and the next chunk need.

    Returns
    -------
    spikes : array, shape and dtype of x
        1 where a neuron fired at a step, else 0.
    state : SpikingState
        Only with ``return_state=True``.

    Raises
    ------
    TypeError
        A dtype the back end has no kernels for, a v_init of another dtype, parameters
        of the wrong type.
    ValueError
        x without a time axis, a v_init of the wrong shape, tau <= 1, v_reset >=
        v_threshold, a non-finite parameter.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> x = np.array([[1.5, 0.5], [1.5, 0.5], [1.5, 0.5]], dtype=np.float32)
    >>> opzoo.lif_forward(x)
    array([[0., 0.],
           [1., 0.],
           [0., 0.]], dtype=float32)
    """
    return forward(neuron_params("lif", tau, v_threshold, v_reset, decay_input), x, v_init,
                   _flag(return_state, "return_state"))


def if_forward(x, *, v_threshold=1.0, v_reset=0.0, v_init=None, return_state=False):
    """Integrate-and-fire neurons over T steps, as SpikingJelly's multi-step ``IFNode``:
    ``H = V + X``, then the spike and reset of :func:`lif_forward`.

    Parameters, returns and errors are those of :func:`lif_forward` without tau and
    decay_input.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> opzoo.if_forward(np.full((3, 1), 0.6, np.float32))
    array([[0.],
           [1.],
           [0.]], dtype=float32)
    """
    return forward(neuron_params("if", None, v_threshold, v_reset, True), x, v_init,
                   _flag(return_state, "return_state"))


def _backward(neuron: str, grad_spikes, state, surrogate, alpha, detach_reset, grad_v_final, return_grad_v_init):
    if not isinstance(state, SpikingState):
        raise TypeError(f"state: expected the SpikingState of a forward with return_state=True, got "
                        f"{type_name(state)}")
    if state.neuron != neuron:
        raise ValueError(f"state: comes from {state.neuron}_forward, not {neuron}_forward")
    params = (state.neuron, 1.0 if state.tau is None else state.tau, state.v_threshold, state.v_reset,
              state.decay_input)
    grad_x, grad_v_init = backward(params, surrogate_params(surrogate, alpha, detach_reset), grad_spikes, state.h_seq,
                                   grad_v_final, _flag(return_grad_v_init, "return_grad_v_init"))
    return (grad_x, grad_v_init) if return_grad_v_init else grad_x


def lif_backward(grad_spikes, state, *, surrogate="sigmoid", alpha=None, detach_reset=False, grad_v_final=None,
                 return_grad_v_init=False):
    """The gradient of :func:`lif_forward` with respect to x, back through time, with a
    surrogate derivative for the spike, as SpikingJelly's autograd computes it.

    At each step ``dS/dH`` is the surrogate's slope at ``H - v_threshold``: "sigmoid"
    ``alpha * s * (1 - s)`` with ``s = sigmoid(alpha * (H - v_threshold))``, or "atan"
    ``(alpha / 2) / (1 + (pi / 2 * alpha * (H - v_threshold))^2)``. The gradient of V
    flows to the step before through the reset (without the spike's share when
    ``detach_reset``) and the charge.

    Parameters
    ----------
    grad_spikes : array, shape (T, ...)
        The gradient of the spikes, x's dtype.
    state : SpikingState
        From ``lif_forward(..., return_state=True)``.
    surrogate : {"sigmoid", "atan"}
    alpha : float, optional
        The surrogate's sharpness, > 0; default 4 for "sigmoid" and 2 for "atan", as
        SpikingJelly's ``surrogate.Sigmoid()`` and ``surrogate.ATan()``.
    detach_reset : bool
        SpikingJelly's ``detach_reset``: no gradient through the spike into the reset.
    grad_v_final : array, shape x.shape[1:], optional
        The gradient of ``state.v_final`` (when a later chunk used it), potentials' dtype.
    return_grad_v_init : bool
        Also return the gradient of the forward's v_init.

    Returns
    -------
    grad_x : array, shape and dtype of grad_spikes
    grad_v_init : array, shape x.shape[1:]
        Only with ``return_grad_v_init=True``.

    Examples
    --------
    >>> import numpy as np, opzoo
    >>> x = np.array([[1.5], [1.5]], dtype=np.float32)
    >>> s, state = opzoo.lif_forward(x, return_state=True)
    >>> opzoo.lif_backward(np.ones_like(x), state).round(4)
    array([[0.4896],
           [0.47  ]], dtype=float32)
    """
    return _backward("lif", grad_spikes, state, surrogate, alpha, detach_reset, grad_v_final, return_grad_v_init)


def if_backward(grad_spikes, state, *, surrogate="sigmoid", alpha=None, detach_reset=False, grad_v_final=None,
                return_grad_v_init=False):
    """The gradient of :func:`if_forward` with respect to x; as :func:`lif_backward`."""
    return _backward("if", grad_spikes, state, surrogate, alpha, detach_reset, grad_v_final, return_grad_v_init)

"""The spiking ops' test-kit entries: the forward (spikes, H and the final potential)
and the backward (grad_x and the initial potential's gradient) of LIF and IF neurons on
random sequences of any per-step rank, the NumPy reference, SpikingJelly's own CPU
operators (torch.ops.sj_lif / sj_if, the ones its multi-step nodes call) as the peer,
and what a user can get wrong. The state the functional backward takes is not an array,
so the entries run the forward inside the backward's call."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo.reference import spiking as ref

from . import BadInput, KitEntry, changed, param

_SURROGATE_IDS = {"sigmoid": 0, "atan": 1}
_DEFAULT_ALPHA = {"sigmoid": 4.0, "atan": 2.0}


def _neuron_params(rng, neuron):
    v_reset = [0.0, None, -0.3][int(rng.integers(3))]
    if neuron == "if":
        return {"v_reset": v_reset, "v_threshold": float(rng.choice([1.0, 0.7]))}
    return {"v_reset": v_reset, "v_threshold": float(rng.choice([1.0, 0.7])), "tau": float(rng.choice([2.0, 3.0])),
            "decay_input": bool(rng.random() < 0.5)}


def _sequence(rng):
    step = tuple(int(rng.integers(1, 7)) for _ in range(int(rng.integers(0, 3))))
    T = int(rng.integers(1, 9))
    return (rng.standard_normal((T, *step)) + 0.8).astype(np.float32)


def _forward_call(neuron):
    def make(rng):
        x = _sequence(rng)
        v_init = np.asarray(rng.standard_normal(x.shape[1:]) * 0.5, np.float32) if rng.random() < 0.5 else None
        return {"x": x, "v_init": v_init}, _neuron_params(rng, neuron)
    return make


def _backward_call(neuron):
    def make(rng):
        arrays, params = _forward_call(neuron)(rng)
        x = arrays["x"]
        arrays["grad_spikes"] = rng.standard_normal(x.shape).astype(np.float32)
        arrays["grad_v_final"] = (np.asarray(rng.standard_normal(x.shape[1:]), np.float32) if rng.random() < 0.5
                                  else None)
        surrogate = ["sigmoid", "atan"][int(rng.integers(2))]
        return {"grad_spikes": arrays.pop("grad_spikes"), **arrays}, {
            **params, "surrogate": surrogate, "alpha": None, "detach_reset": bool(rng.random() < 0.5)}
    return make


def _op_forward(neuron):
    fwd = opzoo.lif_forward if neuron == "lif" else opzoo.if_forward

    def op(x, v_init=None, **params):
        spikes, state = fwd(x, v_init=v_init, return_state=True, **params)
        return spikes, state.h_seq, state.v_final
    return op


def _op_backward(neuron):
    fwd = opzoo.lif_forward if neuron == "lif" else opzoo.if_forward
    bwd = opzoo.lif_backward if neuron == "lif" else opzoo.if_backward

    def op(grad_spikes, x, v_init=None, grad_v_final=None, surrogate="sigmoid", alpha=None, detach_reset=False,
           **params):
        _, state = fwd(x, v_init=v_init, return_state=True, **params)
        return bwd(grad_spikes, state, surrogate=surrogate, alpha=alpha, detach_reset=detach_reset,
                   grad_v_final=grad_v_final, return_grad_v_init=True)
    return op


def _ref_forward(neuron):
    def reference(x, v_init=None, **params):
        return ref.forward(neuron, x, v_init=v_init, **params)
    return reference


def _ref_backward(neuron):
    def reference(grad_spikes, x, v_init=None, grad_v_final=None, surrogate="sigmoid", alpha=None,
                  detach_reset=False, **params):
        _, h, _ = ref.forward(neuron, x, v_init=v_init, **params)
        return ref.backward(neuron, grad_spikes, h, surrogate=surrogate, detach_reset=detach_reset,
                            alpha=_DEFAULT_ALPHA[surrogate] if alpha is None else alpha, grad_v_final=grad_v_final,
                            **params)
    return reference


def _spikingjelly_ops(neuron):
    """SpikingJelly's registered CPU operators for `neuron`, or None where it is not installed."""
    try:
        import torch
        import spikingjelly._ops.if_  # noqa: F401  (registers torch.ops.sj_if)
        import spikingjelly._ops.lif  # noqa: F401  (registers torch.ops.sj_lif)
    except ImportError:
        return None
    return torch, (torch.ops.sj_lif if neuron == "lif" else torch.ops.sj_if)


def _sj_args(neuron, params):
    """SpikingJelly's operator arguments after (x, v) or (gs, gv, h), as (T, neurons) tensors take them."""
    common = (params.get("v_threshold", 1.0), params.get("v_reset", 0.0))
    if neuron == "lif":
        return (params.get("tau", 2.0), params.get("decay_input", True), *common)
    return common


def _rows(torch, a, T):
    """An array of a (T, ...) call as the (T, neurons) tensor (or (neurons,) for T None) SpikingJelly's operators take."""
    a = np.ascontiguousarray(a)
    return torch.from_numpy(a.reshape(-1) if T is None else a.reshape(T, -1))


def _peer_forward(neuron):
    found = _spikingjelly_ops(neuron)
    if found is None:
        return None
    torch, ops = found

    def peer(x, v_init=None, **params):
        T = x.shape[0]
        xt = _rows(torch, x, T)
        v = torch.full((xt.shape[1],), 0.0 if params.get("v_reset") is None else params["v_reset"])
        if v_init is not None:
            v = _rows(torch, v_init, None)
        spikes, v_final, h = ops.forward(xt, v, *_sj_args(neuron, params), False, 4.0, False, 0)
        return spikes.numpy().reshape(x.shape), h.numpy().reshape(x.shape), v_final.numpy().reshape(x.shape[1:])
    return peer


def _peer_backward(neuron):
    found = _spikingjelly_ops(neuron)
    if found is None:
        return None
    torch, ops = found
    forward = _peer_forward(neuron)

    def peer(grad_spikes, x, v_init=None, grad_v_final=None, surrogate="sigmoid", alpha=None, detach_reset=False,
             **params):
        _, h, _ = forward(x, v_init, **params)
        T = x.shape[0]
        gs = _rows(torch, grad_spikes, T)
        gv = (torch.zeros(gs.shape[1]) if grad_v_final is None
              else _rows(torch, grad_v_final, None))
        a = _DEFAULT_ALPHA[surrogate] if alpha is None else alpha
        gx, gv_init = ops.backward(gs, gv, torch.from_numpy(h.reshape(T, -1)), *_sj_args(neuron, params),
                                   detach_reset, a, False, _SURROGATE_IDS[surrogate])
        return gx.numpy().reshape(x.shape), gv_init.numpy().reshape(x.shape[1:])
    return peer


def _valid_forward(neuron):
    def make(rng):
        x = (rng.standard_normal((5, 2, 3)) + 0.8).astype(np.float32)
        params = {"v_reset": 0.0} if neuron == "if" else {"tau": 2.0, "v_reset": 0.0}
        return {"x": x, "v_init": rng.standard_normal((2, 3)).astype(np.float32)}, params
    return make


def _valid_backward(neuron):
    def make(rng):
        arrays, params = _valid_forward(neuron)(rng)
        return {"grad_spikes": rng.standard_normal((5, 2, 3)).astype(np.float32), **arrays,
                "grad_v_final": rng.standard_normal((2, 3)).astype(np.float32)}, {**params, "surrogate": "atan"}
    return make


def _zero_size_forward(neuron):
    def make(rng):
        calls = []
        for shape in [(0,), (0, 4), (3, 0), (2, 0, 5), (0, 2, 3)]:
            x = rng.standard_normal(shape).astype(np.float32)
            calls.append(({"x": x, "v_init": rng.standard_normal(shape[1:]).astype(np.float32)},
                          _valid_forward(neuron)(rng)[1]))
        return calls
    return make


def _zero_size_backward(neuron):
    def make(rng):
        return [({"grad_spikes": rng.standard_normal(a["x"].shape).astype(np.float32), **a,
                  "grad_v_final": rng.standard_normal(a["x"].shape[1:]).astype(np.float32)}, p)
                for a, p in _zero_size_forward(neuron)(rng)]
    return make


def _bad_forward(neuron):
    table = [
        BadInput("x 0-d", changed("x", lambda a: np.asarray(1.0, np.float32)), ValueError, r"x: expected shape \(T, ...\)"),
        BadInput("x a list", changed("x", lambda a: a["x"].tolist()), TypeError, r"x: expected an array"),
        BadInput("v_init shape", changed("v_init", lambda a: a["v_init"][:1]), ValueError,
                 r"v_init: expected shape \(2, 3\)"),
        BadInput("v_init float64", changed("v_init", lambda a: a["v_init"].astype(np.float64)), TypeError,
                 r"v_init: expected dtype float32"),
        BadInput("v_reset at v_threshold", param(v_reset=1.0), ValueError, r"v_reset: expected a value below"),
        BadInput("v_reset above v_threshold", param(v_threshold=0.5, v_reset=0.6), ValueError, r"v_reset"),
        BadInput("v_threshold inf", param(v_threshold=float("inf")), ValueError, r"v_threshold: expected a finite"),
        BadInput("v_reset nan", param(v_reset=float("nan")), ValueError, r"v_reset: expected a finite"),
        BadInput("v_threshold a string", param(v_threshold="1"), TypeError, r"v_threshold: expected a real number"),
        BadInput("soft reset", param(v_reset=None), None),
    ]
    if neuron == "lif":
        table += [
            BadInput("tau 1", param(tau=1.0), ValueError, r"tau: expected a number > 1"),
            BadInput("tau -2", param(tau=-2.0), ValueError, r"tau: expected a number > 1"),
            BadInput("tau nan", param(tau=float("nan")), ValueError, r"tau: expected a finite"),
            BadInput("tau 2**70 (valid)", param(tau=2.0**70), None),
            BadInput("decay_input 1", param(decay_input=1), TypeError, r"decay_input: expected a bool"),
        ]
    return table


def _bad_backward(neuron):
    return [b for b in _bad_forward(neuron) if not b.label.startswith("x ")] + [
        BadInput("grad_spikes shape", changed("grad_spikes", lambda a: a["grad_spikes"][1:]), ValueError,
                 r"h_seq: expected shape \(4, 2, 3\)"),
        BadInput("grad_v_final shape", changed("grad_v_final", lambda a: a["grad_v_final"][0]), ValueError,
                 r"grad_v_final: expected shape \(2, 3\)"),
        BadInput("grad_v_final float64", changed("grad_v_final", lambda a: a["grad_v_final"].astype(np.float64)),
                 TypeError, r"grad_v_final: expected dtype float32"),
        BadInput("surrogate 'relu'", param(surrogate="relu"), ValueError, r"surrogate: expected 'sigmoid' or 'atan'"),
        BadInput("surrogate 1", param(surrogate=1), TypeError, r"surrogate: expected 'sigmoid' or 'atan'"),
        BadInput("alpha 0", param(alpha=0.0), ValueError, r"alpha: expected a number > 0"),
        BadInput("alpha inf", param(alpha=float("inf")), ValueError, r"alpha: expected a finite"),
        BadInput("detach_reset 'yes'", param(detach_reset="yes"), TypeError, r"detach_reset: expected a bool"),
    ]


ENTRIES = []
for _neuron in ("lif", "if"):
    ENTRIES += [
        KitEntry(f"{_neuron}_forward", _op_forward(_neuron), _forward_call(_neuron), _ref_forward(_neuron),
                 lambda n=_neuron: _peer_forward(n), "spikingjelly", _valid_forward(_neuron), _bad_forward(_neuron),
                 rtol=(0, 0, 0), dtypes=(np.float32, np.float64), optional=("v_init",),
                 zero_size_calls=_zero_size_forward(_neuron), special_arrays=("x", "v_init")),
        KitEntry(f"{_neuron}_backward", _op_backward(_neuron), _backward_call(_neuron), _ref_backward(_neuron),
                 lambda n=_neuron: _peer_backward(n), "spikingjelly", _valid_backward(_neuron),
                 _bad_backward(_neuron), rtol=(1e-5, 1e-5), dtypes=(np.float32, np.float64),
                 optional=("v_init", "grad_v_final"), zero_size_calls=_zero_size_backward(_neuron),
                 special_arrays=("grad_spikes", "x", "grad_v_final")),
    ]

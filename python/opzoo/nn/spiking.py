"""Spiking networks on opzoo's LIF kernel: a LIF layer that keeps its membrane potential
between calls (SpikingJelly's multi-step ``LIFNode`` without autograd), and a spiking
MLP that loads the state_dict of a SpikingJelly ``nn.Sequential`` of Linear layers each
followed by a LIF node, with the spike counts and firing rates of every layer.

>>> import numpy as np, opzoo.nn
>>> sd = {"0.weight": np.eye(3, dtype=np.float32) * 2, "0.bias": np.zeros(3, np.float32)}
>>> mlp = opzoo.nn.SpikingMLP.from_state_dict(sd)
>>> mlp(np.ones((4, 1, 3), np.float32))[:, 0, 0]
array([1., 1., 1., 1.], dtype=float32)
>>> mlp.firing_rates
[1.0]
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from ..ops.spiking import lif_forward, neuron_params
from ._layers import StateDict, as_float32, pointwise, Workspace

__all__ = ["LIF", "SpikingMLP"]


class LIF:
    """Multi-step LIF neurons with SpikingJelly's ``LIFNode`` parameters; ``layer(x)`` on
    x (T, ...) returns the spikes and keeps the final potential ``v`` for the next call
    until :meth:`reset`. ``spike_count`` and ``firing_rate`` describe the last call."""

    def __init__(self, tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0):
        neuron_params("lif", tau, v_threshold, v_reset, decay_input)
        self.tau, self.decay_input, self.v_threshold, self.v_reset = tau, decay_input, v_threshold, v_reset
        self.v = None
        self.spike_count, self.firing_rate = 0, 0.0

    def reset(self) -> None:
        self.v = None

    def __call__(self, x):
        if self.v is not None and self.v.shape != x.shape[1:]:
            self.v = None  # another batch shape: a new sequence, as a freshly reset node
        spikes, state = lif_forward(x, tau=self.tau, v_threshold=self.v_threshold, v_reset=self.v_reset,
                                    decay_input=self.decay_input, v_init=self.v, return_state=True)
        self.v = state.v_final
        self.spike_count = int(spikes.sum())
        self.firing_rate = float(spikes.mean()) if spikes.size else 0.0
        return spikes


class SpikingMLP:
    """Linear layers (x @ W.T + b as one GEMM over all T steps) each followed by LIF
    neurons, as SpikingJelly's ``nn.Sequential(layer.Linear(...), neuron.LIFNode(...), ...)``
    in multi-step mode. ``model(x)`` takes x (T, N, in_features) and returns the last
    layer's spikes (T, N, out_features); ``spike_counts`` and ``firing_rates`` list each
    LIF layer's for that call. The potentials carry over between calls until :meth:`reset`.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray | None]], **lif):
        self.layers = layers
        self.neurons = [LIF(**lif) for _ in layers]
        self._ws = Workspace()

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Any], *, tau: float = 2.0, decay_input: bool = True,
                        v_threshold: float = 1.0, v_reset: float | None = 0.0) -> "SpikingMLP":
        """The model of a SpikingJelly Sequential's state_dict: its Linear layers are the
        entries ``<index>.weight`` (out, in) and optional ``<index>.bias``, in index order;
        each layer's in_features must be the previous one's out_features. The LIF settings
        (which a state_dict does not hold) apply to every node."""
        sd = StateDict(state_dict, "a spiking MLP")
        indices = sorted({int(m.group(1)) for k in state_dict if (m := re.fullmatch(r"(\d+)\.weight", k))})
        if not indices:
            raise ValueError("state_dict: no '<index>.weight' entries (a SpikingJelly nn.Sequential's Linear layers)")
        layers, width = [], None
        for i in indices:
            shape = sd.shape(f"{i}.weight")
            if len(shape) != 2 or (width is not None and shape[1] != width):
                raise ValueError(f"{i}.weight: expected shape (out_features, {width or 'in_features'}), got {shape}")
            w = as_float32(np.ascontiguousarray(sd.get(f"{i}.weight", shape).T))
            b = as_float32(sd.get(f"{i}.bias", (shape[0],))) if f"{i}.bias" in state_dict else None
            layers.append((w, b))
            width = shape[0]
        sd.check_all_used()
        return cls(layers, tau=tau, decay_input=decay_input, v_threshold=v_threshold, v_reset=v_reset)

    def reset(self) -> None:
        for n in self.neurons:
            n.reset()

    @property
    def spike_counts(self) -> list[int]:
        return [n.spike_count for n in self.neurons]

    @property
    def firing_rates(self) -> list[float]:
        return [n.firing_rate for n in self.neurons]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.ndim != 3:
            raise ValueError(f"x: expected a NumPy array of shape (T, N, in_features), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        if x.shape[2] != self.layers[0][0].shape[0]:
            raise ValueError(f"x: expected {self.layers[0][0].shape[0]} features, got shape {x.shape}")
        h = np.ascontiguousarray(x, np.float32)
        for (w, b), neuron in zip(self.layers, self.neurons):
            T, N, _ = h.shape
            y = pointwise(np, self._ws, h.reshape(T, N, 1, -1), w, b, None)
            h = neuron(y.reshape(T, N, w.shape[1]))
            self._ws.give(y)
        return h

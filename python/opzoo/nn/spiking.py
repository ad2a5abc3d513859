"""Spiking networks on opzoo's LIF kernel: a LIF layer that keeps its membrane potential
between calls (SpikingJelly's multi-step ``LIFNode`` without autograd); a spiking MLP and
a spiking conv net that load the state_dict of a SpikingJelly ``nn.Sequential``, its
linear and convolution layers as opzoo's depthwise convolution and matrix products over
all T steps at once, with the spike counts and firing rates of every LIF layer. They run
on NumPy arrays, and on CuPy arrays with opzoo's CUDA kernels.

>>> import numpy as np, opzoo.nn
>>> sd = {"0.weight": np.eye(3, dtype=np.float32) * 2, "0.bias": np.zeros(3, np.float32)}
>>> mlp = opzoo.nn.SpikingMLP.from_state_dict(sd)
>>> mlp(np.ones((4, 1, 3), np.float32))[:, 0, 0]
array([1., 1., 1., 1.], dtype=float32)
>>> mlp.firing_rates
[1.0]
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..ops.depthwise import depthwise_conv2d
from ..ops.spiking import lif_forward, neuron_params
from ._blas import single_threaded_blas
from ._layers import Params, StateDict, Workspace, array_module, as_float32, conv_patches, folded_batch_norm, \
    pointwise

__all__ = ["LIF", "SpikingConvNet", "SpikingMLP"]


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
        if self.v is not None and (self.v.shape != x.shape[1:] or type(self.v) is not type(x)):
            self.v = None  # another batch shape or device: a new sequence, as a freshly reset node
        spikes, state = lif_forward(x, tau=self.tau, v_threshold=self.v_threshold, v_reset=self.v_reset,
                                    decay_input=self.decay_input, v_init=self.v, return_state=True)
        self.v = state.v_final
        self.spike_count = int(spikes.sum())
        self.firing_rate = float(spikes.mean()) if spikes.size else 0.0
        return spikes


def _sequential_indices(state_dict: Mapping[str, Any], what: str) -> list[int]:
    """The module indices of a SpikingJelly nn.Sequential's state_dict that hold a weight."""
    indices = sorted({int(m.group(1)) for k in state_dict if (m := re.fullmatch(r"(\d+)\.weight", str(k)))})
    if not indices:
        raise ValueError(f"state_dict: no '<index>.weight' entries (a SpikingJelly nn.Sequential's {what})")
    return indices


def _linear(sd: StateDict, i: int, in_features: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Linear layer `i` as (weight (in, out), bias or None), x @ weight + bias."""
    shape = sd.shape(f"{i}.weight")
    if len(shape) != 2 or (in_features is not None and shape[1] != in_features):
        raise ValueError(f"{i}.weight: expected shape (out_features, {in_features or 'in_features'}), got {shape}")
    w = as_float32(sd.get(f"{i}.weight", shape).T)
    b = as_float32(sd.get(f"{i}.bias", (shape[0],))) if sd.has(f"{i}.bias") else None
    return w, b


def _time_major_input(x, ndim: int, axes: str):
    """x (T, N, ...) of `ndim` axes as float32, and its array module and device."""
    xp, device = array_module(x)
    if x.ndim != ndim:
        raise ValueError(f"x: expected shape {axes}, got {tuple(x.shape)}")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"x: expected real numbers (spikes or currents), got dtype {x.dtype}")
    return xp.ascontiguousarray(x, dtype=xp.float32), xp, device


class _SpikingSequential:
    """What the networks share: a LIF layer per node (`neurons`, reset together), and
    blocks of Linear (weights `<key>.w`, `<key>.b`) + LIF run as one GEMM over all steps."""

    neurons: list[LIF]
    _ws: Workspace

    def reset(self) -> None:
        for n in self.neurons:
            n.reset()

    @property
    def spike_counts(self) -> list[int]:
        return [n.spike_count for n in self.neurons]

    @property
    def firing_rates(self) -> list[float]:
        return [n.firing_rate for n in self.neurons]

    def __call__(self, x):
        with single_threaded_blas():  # opzoo's threads run the products (see _blas)
            return self._run(x)

    def _linear_blocks(self, xp, h, p: dict, keys: list, neurons: list[LIF]):
        """The spikes of Linear + LIF blocks `keys` on h (T, N, features)."""
        T, N, _ = h.shape
        for key, neuron in zip(keys, neurons):
            w = p[f"{key}.w"]
            y = pointwise(xp, self._ws, h.reshape(T, N, 1, -1), w, p.get(f"{key}.b"), None)
            h = neuron(y.reshape(T, N, w.shape[1]))
            self._ws.give(y)
        return h


class SpikingMLP(_SpikingSequential):
    """Linear layers (x @ W.T + b as one GEMM over all T steps) each followed by LIF
    neurons, as SpikingJelly's ``nn.Sequential(layer.Linear(...), neuron.LIFNode(...), ...)``
    in multi-step mode. ``model(x)`` takes x (T, N, in_features) and returns the last
    layer's spikes (T, N, out_features); ``spike_counts`` and ``firing_rates`` list each
    LIF layer's for that call. The potentials carry over between calls until :meth:`reset`.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray | None]], **lif):
        self.layers = layers
        self.neurons = [LIF(**lif) for _ in layers]
        self._params = Params({f"{i}.{name}": a for i, (w, b) in enumerate(layers)
                               for name, a in (("w", w), ("b", b)) if a is not None})
        self._ws = Workspace()

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Any], *, tau: float = 2.0, decay_input: bool = True,
                        v_threshold: float = 1.0, v_reset: float | None = 0.0) -> "SpikingMLP":
        """The model of a SpikingJelly Sequential's state_dict: its Linear layers are the
        entries ``<index>.weight`` (out, in) and optional ``<index>.bias``, in index order;
        each layer's in_features must be the previous one's out_features. The LIF settings
        (which a state_dict does not hold) apply to every node."""
        sd = StateDict(state_dict, "a spiking MLP")
        layers, width = [], None
        for i in _sequential_indices(state_dict, "Linear layers"):
            layers.append(_linear(sd, i, width))
            width = layers[-1][0].shape[1]
        sd.check_all_used()
        return cls(layers, tau=tau, decay_input=decay_input, v_threshold=v_threshold, v_reset=v_reset)

    def _run(self, x):
        h, xp, device = _time_major_input(x, 3, "(T, N, in_features)")
        if h.shape[2] != self.layers[0][0].shape[0]:
            raise ValueError(f"x: expected {self.layers[0][0].shape[0]} features, got shape {tuple(x.shape)}")
        return self._linear_blocks(xp, h, self._params.on(xp, device), list(range(len(self.layers))), self.neurons)


@dataclass(frozen=True)
class _Conv:
    """A convolution of the conv net, its batch norm folded into its weight and bias: a
    depthwise one (groups = its input channels; weight (C*M, 1, k, k)) or a dense one
    (weight (k * k * c_in, c_out), the matrix of its patches' product)."""

    index: int
    depthwise: bool
    c_in: int  # 1 when depthwise: any number of input channels, each its own group
    c_out: int
    kernel: int
    stride: int
    padding: int

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        return tuple((n + 2 * self.padding - self.kernel) // self.stride + 1 for n in (h, w))


def _per_conv(value, count: int, name: str, smallest: int, none_ok: bool) -> list:
    """An int (None if `none_ok`) for every convolution, from one or a sequence of one each."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value] * count
    if len(values) != count:
        raise ValueError(f"{name}: expected an int or one per convolution ({count}), got {len(values)} values")
    for v in values:
        if not ((v is None and none_ok) or (isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                             and v >= smallest)):
            raise ValueError(f"{name}: expected ints >= {smallest}{' or None' if none_ok else ''}, got {value!r}")
    return values


def _layer_kinds(sd: StateDict, indices: list[int]) -> dict[int, str]:
    """"conv", "batch_norm" or "linear" for each weighted module of a Sequential's state_dict."""
    kinds = {}
    for i in indices:
        ndim = len(sd.shape(f"{i}.weight"))
        if ndim == 1 and sd.has(f"{i}.running_mean"):
            kinds[i] = "batch_norm"
        elif ndim in (2, 4):
            kinds[i] = "linear" if ndim == 2 else "conv"
        else:
            raise ValueError(f"{i}.weight: expected a Conv2d (4-D), a BatchNorm2d with running statistics or a "
                             f"Linear (2-D) weight, got shape {sd.shape(f'{i}.weight')}")
    return kinds


def _expect_index(index: int, expected: int, after: str) -> None:
    if index != expected:
        raise ValueError(f"{index}: expected the next Conv2d or Linear at index {expected}, {after}; other modules "
                         f"(pooling, dropout) between the layers are not supported")


class SpikingConvNet(_SpikingSequential):
    """A SpikingJelly convolutional SNN: convolution blocks (a Conv2d, an optional
    BatchNorm2d folded into it, a LIFNode), then a Flatten and Linear + LIFNode blocks,
    as ``nn.Sequential`` in multi-step mode. A convolution whose weight is (C*M, 1, k, k)
    is depthwise (``groups`` = its input channels, run by opzoo's depthwise kernel); any
    other is dense, one matrix product over the k x k patches of all T steps at once (1x1
    ones directly). ``model(x)`` takes x (T, N, C, H, W) and returns the last LIF layer's
    spikes: (T, N, out_features) after a Linear, (T, N, C, H, W) after a convolution.
    ``spike_counts`` and ``firing_rates`` list every LIF layer's for that call; the
    potentials carry over between calls until :meth:`reset`.

    Examples
    --------
    >>> import numpy as np, opzoo.nn
    >>> rng = np.random.default_rng(0)
    >>> sd = {"0.weight": rng.standard_normal((4, 1, 3, 3), np.float32),  # depthwise, 4 channels
    ...       "2.weight": rng.standard_normal((8, 4, 1, 1), np.float32),  # 1x1, 4 -> 8
    ...       "5.weight": rng.standard_normal((10, 8 * 4 * 4), np.float32)}  # after LIF, Flatten
    >>> net = opzoo.nn.SpikingConvNet.from_state_dict(sd, stride=[2, 1])
    >>> net(rng.random((6, 2, 4, 8, 8), np.float32)).shape
    (6, 2, 10)
    >>> len(net.firing_rates)
    3
    """

    def __init__(self, convs: list[_Conv], linears: list[int], arrays: dict[str, np.ndarray], **lif):
        self.convs, self.linears = convs, linears
        self.neurons = [LIF(**lif) for _ in range(len(convs) + len(linears))]
        self._params = Params(arrays)
        self._ws = Workspace()

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Any], *, stride: int | Sequence[int] = 1,
                        padding: int | None | Sequence[int | None] = None, eps: float = 1e-5, tau: float = 2.0,
                        decay_input: bool = True, v_threshold: float = 1.0,
                        v_reset: float | None = 0.0) -> "SpikingConvNet":
        """The model of a SpikingJelly Sequential's state_dict.

        Parameters
        ----------
        state_dict : mapping of str to torch.Tensor or numpy.ndarray
            ``net.state_dict()`` of an ``nn.Sequential`` laid out as
            ``[Conv2d, BatchNorm2d (optional), LIFNode] * n_conv, Flatten,
            [Linear, LIFNode] * n_linear`` (n_conv >= 1, n_linear >= 0), of SpikingJelly's
            ``layer`` or torch's modules. What a state_dict does not hold (the neurons,
            Flatten) is read from the gaps in its indices; other layouts (pooling or
            dropout between the layers) raise ValueError. Square kernels; dense or
            depthwise (``groups`` = in_channels) convolutions, with or without a bias.
        stride, padding : int, or a sequence of one per convolution
            Each convolution's stride, and its zero padding on every side (None: k // 2).
        eps : float
            The batch norms' eps (torch's default 1e-5).
        tau, decay_input, v_threshold, v_reset
            The settings of every LIF node, as ``neuron.LIFNode``'s.

        Raises
        ------
        ValueError
            An entry of another shape than the layout gives it, a layout this class does
            not read, a bad stride or padding.
        KeyError
            A batch norm entry is missing.
        TypeError
            `state_dict` is not a mapping, or an entry is not a tensor or an array.
        """
        neuron_params("lif", tau, v_threshold, v_reset, decay_input)
        sd = StateDict(state_dict, "a spiking conv net")
        kinds = _layer_kinds(sd, _sequential_indices(state_dict, "Conv2d and Linear layers"))
        for i, kind in kinds.items():
            if kind == "batch_norm" and kinds.get(i - 1) != "conv":
                raise ValueError(f"{i}: expected a BatchNorm2d right after a Conv2d, found it after "
                                 f"{kinds.get(i - 1, 'a module without weights')}")
        layers = [i for i, kind in kinds.items() if kind != "batch_norm"]
        n_conv = next((n for n, i in enumerate(layers) if kinds[i] == "linear"), len(layers))
        if n_conv == 0 or any(kinds[i] == "conv" for i in layers[n_conv:]):
            raise ValueError("state_dict: expected Conv2d layers (4-D weights) first, then Linear layers (2-D), got "
                             + ", ".join(f"{i}: {kinds[i]}" for i in layers))
        strides = _per_conv(stride, n_conv, "stride", 1, none_ok=False)
        paddings = _per_conv(padding, n_conv, "padding", 0, none_ok=True)
        convs, arrays, c_in, expected = [], {}, None, layers[0]
        for i, s, pad in zip(layers[:n_conv], strides, paddings):
            _expect_index(i, expected, "after the previous block's LIFNode")
            c_out, group_width, k, k_w = sd.shape(f"{i}.weight")
            depthwise = group_width == 1 and c_in != 1
            if k != k_w or not (c_in is None or group_width == c_in or (depthwise and c_out % c_in == 0)):
                raise ValueError(f"{i}.weight: expected a square kernel, (C_out, {c_in or 'C_in'}, k, k) or "
                                 f"depthwise (C*M, 1, k, k), got {(c_out, group_width, k, k_w)}")
            w = sd.get(f"{i}.weight", (c_out, group_width, k, k))
            bias = sd.get(f"{i}.bias", (c_out,)) if sd.has(f"{i}.bias") else np.zeros(c_out)
            expected = i + 2
            if kinds.get(i + 1) == "batch_norm":
                scale, shift = folded_batch_norm(sd, f"{i + 1}", c_out, eps)
                w, bias, expected = w * scale[:, None, None, None], bias * scale + shift, i + 3
            matrix = w if depthwise else w.transpose(2, 3, 1, 0).reshape(k * k * group_width, c_out)
            arrays[f"{i}.w"], arrays[f"{i}.b"] = as_float32(matrix), as_float32(bias)
            convs.append(_Conv(i, depthwise, 1 if depthwise else group_width, c_out, k, s,
                               k // 2 if pad is None else pad))
            c_in = c_out
        width, expected = None, expected + 1
        for i in layers[n_conv:]:
            _expect_index(i, expected, "after the LIFNode and Flatten" if width is None else "after a LIFNode")
            w, b = _linear(sd, i, width)
            arrays[f"{i}.w"] = w
            if b is not None:
                arrays[f"{i}.b"] = b
            width, expected = w.shape[1], i + 2
        sd.check_all_used()
        return cls(convs, layers[n_conv:], arrays, tau=tau, decay_input=decay_input, v_threshold=v_threshold,
                   v_reset=v_reset)

    def _check_input(self, x):
        h, xp, device = _time_major_input(x, 5, "(T, N, C, H, W)")
        channels, size = h.shape[2], h.shape[3:]
        first = self.convs[0]
        if first.depthwise and first.c_out % channels:
            raise ValueError(f"x: expected channels that divide {first.c_out} (the first convolution is depthwise), "
                             f"got shape {tuple(x.shape)}")
        if not first.depthwise and channels != first.c_in:
            raise ValueError(f"x: expected {first.c_in} channels, got shape {tuple(x.shape)}")
        for conv in self.convs:
            size = conv.output_size(*size)
            if min(size) < 1:
                raise ValueError(f"x: {x.shape[3]} x {x.shape[4]} images leave no pixels after convolution "
                                 f"{conv.index}")
        if self.linears:
            features, wanted = self.convs[-1].c_out * size[0] * size[1], self._params.host[f"{self.linears[0]}.w"]
            if features != wanted.shape[0]:
                raise ValueError(f"x: {x.shape[3]} x {x.shape[4]} images give the first Linear {features} features, "
                                 f"it takes {wanted.shape[0]}")
        return h, xp, device

    def _conv(self, xp, h, conv: _Conv, p: dict):
        """Convolution `conv` (with its bias) of NHWC h (B, H, W, C): a workspace array."""
        w, b = p[f"{conv.index}.w"], p[f"{conv.index}.b"]
        if conv.depthwise:
            y = self._ws.take(xp, (h.shape[0], *conv.output_size(*h.shape[1:3]), conv.c_out))
            depthwise_conv2d(h, w, b, conv.stride, conv.padding, layout="NHWC", out=y)
            return y
        if conv.kernel == 1 and conv.stride == 1 and conv.padding == 0:
            return pointwise(xp, self._ws, h, w, b, None)
        patches = conv_patches(xp, self._ws, h.transpose(0, 3, 1, 2), conv.kernel, conv.stride, (conv.padding,) * 4)
        y = pointwise(xp, self._ws, patches, w, b, None)
        self._ws.give(patches)
        return y

    def _run(self, x):
        h, xp, device = self._check_input(x)
        T, N = h.shape[:2]
        p = self._params.on(xp, device)
        h = xp.ascontiguousarray(h.reshape(T * N, *h.shape[2:]).transpose(0, 2, 3, 1))  # NHWC, as the kernels run
        for conv, neuron in zip(self.convs, self.neurons):
            y = self._conv(xp, h, conv, p)
            h = neuron(y.reshape(T, N, *y.shape[1:])).reshape(y.shape)
            self._ws.give(y)
        if not self.linears:
            return h.reshape(T, N, *h.shape[1:]).transpose(0, 1, 4, 2, 3)
        h = xp.ascontiguousarray(h.transpose(0, 3, 1, 2)).reshape(T, N, -1)  # Flatten's order: (C, H, W)
        return self._linear_blocks(xp, h, p, self.linears, self.neurons[len(self.convs):])

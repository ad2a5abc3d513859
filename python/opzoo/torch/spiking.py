"""Spiking neurons for PyTorch: the custom ops ``opzoo::lif_forward`` and
``opzoo::if_forward`` (all T steps in one kernel call) with their backward ops
``opzoo::lif_backward`` / ``opzoo::if_backward`` (back through time with a surrogate
gradient), the functions :func:`lif` and :func:`if_neuron`, and
:class:`LIFNode` / :class:`IFNode`, drop-ins for SpikingJelly's multi-step nodes.

Each op takes x (T, ...) and the initial potential and returns the spikes, the final
potential and H (the potential before each reset, which the backward reads and
autograd does not differentiate). Gradients flow to x and to the initial potential, so a
node that carries its potential from one call to the next (as SpikingJelly's does until
``reset()``) back-propagates through all of them. Eager calls on plain tensors take a
``torch.autograd.Function`` instead of the custom op (:mod:`opzoo.torch._eager`).
"""

from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from ..ops import spiking as functional
from ._eager import eager, wants_grad
from .convert import register_converter

__all__ = ["IFNode", "LIFNode", "if_neuron", "lif"]

_SCHEMA_PARAMS = "float tau, float v_threshold, float? v_reset, bool decay_input, str surrogate, float alpha, " \
                 "bool detach_reset"


def _state_dtype(x: Tensor) -> torch.dtype:
    name = functional.state_dtype(x)
    return x.dtype if name is None else getattr(torch, name)


class _Neuron:
    """One neuron model's custom ops, fakes, autograd formula and eager Function."""

    def __init__(self, neuron: str):
        self.neuron = neuron
        self.op = torch.library.custom_op(
            f"opzoo::{neuron}_forward", self._forward, mutates_args=(),
            schema=f"(Tensor x, Tensor v_init, {_SCHEMA_PARAMS}) -> (Tensor, Tensor, Tensor)")
        self.backward_op = torch.library.custom_op(
            f"opzoo::{neuron}_backward", self._backward, mutates_args=(),
            schema=f"(Tensor grad_spikes, Tensor? grad_v_final, Tensor h_seq, {_SCHEMA_PARAMS}) -> (Tensor, Tensor)")
        self.op.register_fake(self._fake_forward)
        self.backward_op.register_fake(self._fake_backward)
        self.op.register_autograd(lambda ctx, gs, gv, gh: self._gradients(ctx, gs, gv, self.backward_op),
                                  setup_context=self._setup_context)
        neuron_ops = self

        class Eager(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, v_init, *params):
                spikes, v_final, h_seq = neuron_ops._forward(x, v_init, *params)
                neuron_ops._setup_context(ctx, (x, v_init, *params), (spikes, v_final, h_seq))
                return spikes, v_final, h_seq

            @staticmethod
            def backward(ctx, gs, gv, gh):
                return neuron_ops._gradients(ctx, gs, gv, neuron_ops._backward)

        self.eager = Eager

    def _params(self, tau, v_threshold, v_reset, decay_input):
        return functional.neuron_params(self.neuron, tau, v_threshold, v_reset, decay_input)

    def _forward(self, x, v_init, tau, v_threshold, v_reset, decay_input, surrogate, alpha, detach_reset):
        spikes, state = functional.forward(self._params(tau, v_threshold, v_reset, decay_input), x.detach(),
                                           v_init.detach(), True)
        return spikes, state.v_final, state.h_seq

    def _backward(self, grad_spikes, grad_v_final, h_seq, tau, v_threshold, v_reset, decay_input, surrogate, alpha,
                  detach_reset):
        return functional.backward(self._params(tau, v_threshold, v_reset, decay_input),
                                   functional.surrogate_params(surrogate, alpha, detach_reset), grad_spikes,
                                   h_seq, grad_v_final, True)

    def _check(self, x, v_init, tau, v_threshold, v_reset, decay_input, surrogate, alpha):
        self._params(tau, v_threshold, v_reset, decay_input)
        functional.surrogate_params(surrogate, alpha, False)
        if x.dim() == 0:
            raise ValueError("x: expected shape (T, ...) with a time axis first, got shape ()")
        if v_init is not None and tuple(v_init.shape) != tuple(x.shape[1:]):
            raise ValueError(f"v_init: expected shape {tuple(x.shape[1:])} (x.shape[1:]), got {tuple(v_init.shape)}")

    def _fake_forward(self, x, v_init, tau, v_threshold, v_reset, decay_input, surrogate, alpha, detach_reset):
        self._check(x, v_init, tau, v_threshold, v_reset, decay_input, surrogate, alpha)
        state = _state_dtype(x)
        return (torch.empty_like(x, memory_format=torch.contiguous_format), x.new_empty(x.shape[1:], dtype=state),
                x.new_empty(x.shape, dtype=state))

    def _fake_backward(self, grad_spikes, grad_v_final, h_seq, tau, v_threshold, v_reset, decay_input, surrogate,
                       alpha, detach_reset):
        self._check(h_seq, grad_v_final, tau, v_threshold, v_reset, decay_input, surrogate, alpha)
        return (torch.empty_like(grad_spikes, memory_format=torch.contiguous_format),
                h_seq.new_empty(h_seq.shape[1:]))

    def _setup_context(self, ctx, inputs, output):
        ctx.save_for_backward(output[2])
        ctx.params = tuple(inputs[2:])
        ctx.x_dtype = inputs[0].dtype
        ctx.mark_non_differentiable(output[2])
        ctx.set_materialize_grads(False)

    def _gradients(self, ctx, grad_spikes, grad_v_final, backward):
        (h_seq,) = ctx.saved_tensors
        if grad_spikes is None:
            grad_spikes = torch.zeros(h_seq.shape, dtype=ctx.x_dtype, device=h_seq.device)
        grad_x, grad_v_init = backward(grad_spikes.contiguous(), grad_v_final, h_seq, *ctx.params)
        return (grad_x, grad_v_init, *(None for _ in ctx.params))

    def __call__(self, x, v_init, *params) -> Tuple[Tensor, Tensor]:
        for name, t in (("x", x), ("v_init", v_init)):
            if not isinstance(t, Tensor) and (t is not None or name != "v_init"):
                raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if v_init is None:
            v_reset = params[2]
            v_init = torch.full(x.shape[1:], 0.0 if v_reset is None else float(v_reset), dtype=_state_dtype(x),
                                device=x.device)
        if eager(x, v_init):
            if wants_grad(x, v_init):
                spikes, v_final, _ = self.eager.apply(x, v_init, *params)
            else:
                spikes, v_final, _ = self._forward(x, v_init, *params)
            return spikes, v_final
        spikes, v_final, _ = self.op(x, v_init, *params)
        return spikes, v_final


_lif = _Neuron("lif")
_if = _Neuron("if")


def _surrogate(surrogate: str, alpha: Optional[float]) -> Tuple[str, float]:
    """(surrogate, alpha) checked, alpha None meaning the surrogate's default; under
    torch.compile the custom op's fake checks them."""
    if torch.compiler.is_compiling():
        return surrogate, functional.DEFAULT_ALPHA.get(surrogate, 1.0) if alpha is None else float(alpha)
    return functional.surrogate_params(surrogate, alpha, False)[:2]


def lif(x: Tensor, v_init: Optional[Tensor] = None, *, tau: float = 2.0, v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0, decay_input: bool = True, surrogate: str = "sigmoid",
        alpha: Optional[float] = None, detach_reset: bool = False) -> Tuple[Tensor, Tensor]:
    """Multi-step LIF neurons with autograd: ``torch.ops.opzoo.lif_forward``.

    The dynamics of :func:`opzoo.lif_forward`; the gradient of :func:`opzoo.lif_backward`,
    to x and to v_init.

    Parameters
    ----------
    x : Tensor, shape (T, ...)
        float32 or float64 on the CPU; float32, float16 or bfloat16 on a CUDA device.
    v_init : Tensor, shape x.shape[1:], optional
        The initial potential (float32; float64 for float64 x); default v_reset (0
        under a soft reset).
    tau, v_threshold, v_reset, decay_input
        As :func:`opzoo.lif_forward`.
    surrogate : {"sigmoid", "atan"}
    alpha : float, optional
        Default 4 for "sigmoid", 2 for "atan" (SpikingJelly's defaults).
    detach_reset : bool

    Returns
    -------
    spikes : Tensor, shape and dtype of x
    v_final : Tensor, shape x.shape[1:]

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> x = torch.full((3, 2), 1.5, requires_grad=True)
    >>> spikes, v = opzoo.torch.lif(x)
    >>> spikes[:, 0]
    tensor([0., 1., 0.], grad_fn=<SelectBackward0>)
    """
    return _lif(x, v_init, tau, v_threshold, v_reset, decay_input, *_surrogate(surrogate, alpha), detach_reset)


def if_neuron(x: Tensor, v_init: Optional[Tensor] = None, *, v_threshold: float = 1.0,
              v_reset: Optional[float] = 0.0, surrogate: str = "sigmoid", alpha: Optional[float] = None,
              detach_reset: bool = False) -> Tuple[Tensor, Tensor]:
    """Multi-step IF neurons with autograd: ``torch.ops.opzoo.if_forward``; as :func:`lif`
    without tau and decay_input (``H = V + X``).

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> opzoo.torch.if_neuron(torch.full((3, 1), 0.6))[0][:, 0]
    tensor([0., 1., 0.])
    """
    return _if(x, v_init, 1.0, v_threshold, v_reset, True, *_surrogate(surrogate, alpha), detach_reset)


def _surrogate_of(surrogate, alpha, surrogate_function) -> Tuple[str, Optional[float]]:
    """(name, alpha) from opzoo's arguments or a SpikingJelly surrogate object
    (surrogate.Sigmoid or surrogate.ATan, whose alpha it takes)."""
    if surrogate_function is None:
        return surrogate, alpha
    names = {"Sigmoid": "sigmoid", "ATan": "atan"}
    name = names.get(type(surrogate_function).__name__)
    if name is None or not hasattr(surrogate_function, "alpha"):
        raise ValueError(f"surrogate_function: expected SpikingJelly's surrogate.Sigmoid or surrogate.ATan, got "
                         f"{type(surrogate_function).__name__}")
    if getattr(surrogate_function, "spiking", True) is False:
        raise ValueError("surrogate_function: spiking=False (a smooth forward) is not a spiking neuron")
    return name, float(surrogate_function.alpha)


class _Node(nn.Module):
    """What LIFNode and IFNode share: the potential carried between calls, reset(), the step modes."""

    def __init__(self, v_threshold, v_reset, surrogate, alpha, detach_reset, step_mode, surrogate_function):
        super().__init__()
        if step_mode not in ("s", "m"):
            raise ValueError(f"step_mode: expected 's' or 'm', got {step_mode!r}")
        self.v_threshold, self.v_reset, self.detach_reset, self.step_mode = v_threshold, v_reset, detach_reset, step_mode
        self.surrogate, alpha = _surrogate_of(surrogate, alpha, surrogate_function)
        self.alpha = _surrogate(self.surrogate, alpha)[1]
        self.reset()

    def reset(self) -> None:
        """Forgets the carried potential: the next call starts from v_reset (0 under a soft reset)."""
        self.v = 0.0 if self.v_reset is None else float(self.v_reset)

    def _run(self, neuron_fn, x: Tensor, **kw) -> Tensor:
        seq = x.unsqueeze(0) if self.step_mode == "s" else x
        v = self.v if isinstance(self.v, Tensor) and tuple(self.v.shape) == tuple(seq.shape[1:]) else None
        if v is None and isinstance(self.v, Tensor):
            raise ValueError(f"x: the carried potential has shape {tuple(self.v.shape)}, this call's steps "
                             f"{tuple(seq.shape[1:])}; call reset() between sequences of different shapes")
        if v is None and self.v != (0.0 if self.v_reset is None else float(self.v_reset)):
            v = torch.full(seq.shape[1:], float(self.v), dtype=_state_dtype(seq), device=seq.device)
        spikes, self.v = neuron_fn(seq, v, v_threshold=self.v_threshold, v_reset=self.v_reset,
                                   surrogate=self.surrogate, alpha=self.alpha, detach_reset=self.detach_reset, **kw)
        return spikes[0] if self.step_mode == "s" else spikes

    def extra_repr(self) -> str:
        return (f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
                f"step_mode={self.step_mode}, surrogate={self.surrogate}(alpha={self.alpha})")


class LIFNode(_Node):
    """SpikingJelly's ``activation_based.neuron.LIFNode`` on opzoo's kernels: the same
    constructor arguments (``surrogate_function`` takes SpikingJelly's ``surrogate.Sigmoid``
    or ``surrogate.ATan``; ``surrogate="sigmoid"|"atan"`` and ``alpha`` are opzoo's
    spelling), the same spikes (bit for bit in float32) and gradients, no parameters
    (an empty state_dict, as SpikingJelly's), and the membrane potential ``v`` carried
    from one call to the next until :meth:`reset`.

    ``step_mode="m"`` (the default here; SpikingJelly's is "s") takes x of shape
    (T, N, ...); ``"s"`` one step of shape (N, ...).

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> node = opzoo.torch.LIFNode(tau=2.0)
    >>> node(torch.full((2, 1), 1.5))[:, 0], node(torch.full((2, 1), 1.5))[:, 0]
    (tensor([0., 1.]), tensor([0., 1.]))
    >>> node.reset()
    """

    def __init__(self, tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: Optional[float] = 0.0, surrogate_function=None, detach_reset: bool = False,
                 step_mode: str = "m", *, surrogate: str = "sigmoid", alpha: Optional[float] = None):
        self.tau, self.decay_input = tau, decay_input
        super().__init__(v_threshold, v_reset, surrogate, alpha, detach_reset, step_mode, surrogate_function)
        functional.neuron_params("lif", tau, v_threshold, v_reset, decay_input)

    def forward(self, x: Tensor) -> Tensor:
        return self._run(lif, x, tau=self.tau, decay_input=self.decay_input)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, decay_input={self.decay_input}, " + super().extra_repr()


class IFNode(_Node):
    """SpikingJelly's ``activation_based.neuron.IFNode`` on opzoo's kernels, as
    :class:`LIFNode` without tau and decay_input.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> opzoo.torch.IFNode()(torch.full((3, 1), 0.6))[:, 0]
    tensor([0., 1., 0.])
    """

    def __init__(self, v_threshold: float = 1.0, v_reset: Optional[float] = 0.0, surrogate_function=None,
                 detach_reset: bool = False, step_mode: str = "m", *, surrogate: str = "sigmoid",
                 alpha: Optional[float] = None):
        super().__init__(v_threshold, v_reset, surrogate, alpha, detach_reset, step_mode, surrogate_function)
        functional.neuron_params("if", 1.0, v_threshold, v_reset, True)

    def forward(self, x: Tensor) -> Tensor:
        return self._run(if_neuron, x)


@register_converter
def _convert_spikingjelly(module: nn.Module):
    """SpikingJelly's LIFNode / IFNode (exactly those classes) by opzoo's, same settings."""
    cls = type(module)
    if not cls.__module__.startswith("spikingjelly.") or cls.__name__ not in ("LIFNode", "IFNode"):
        return None
    if getattr(module, "store_v_seq", False):
        return "store_v_seq=True (opzoo keeps the final potential only)"
    common = dict(v_threshold=module.v_threshold, v_reset=module.v_reset, detach_reset=module.detach_reset,
                  step_mode=module.step_mode)
    try:
        name, alpha = _surrogate_of(None, None, module.surrogate_function)
    except ValueError as e:
        return str(e)
    if cls.__name__ == "LIFNode":
        return LIFNode(tau=module.tau, decay_input=module.decay_input, surrogate=name, alpha=alpha, **common)
    return IFNode(surrogate=name, alpha=alpha, **common)

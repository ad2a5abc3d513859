"""The bias-activation op for PyTorch: the custom op ``opzoo::bias_activation`` with its
backward ``opzoo::bias_activation_backward``, and the function users call.

``activation(x + bias) + residual`` with the bias along ``axis`` (the last by default;
``axis=1`` for NCHW tensors), on CPU and CUDA tensors; a ``channels_last`` input gives a
``channels_last`` result, as torch's elementwise ops do. Gradients flow to x, the bias
and the residual (which receives grad_out itself). Both ops run the functional API's
pipeline on the tensors; eager calls on plain tensors take a ``torch.autograd.Function``
instead of the custom op (:mod:`opzoo.torch._eager`).
"""

from typing import List, Optional, Tuple

import torch
from torch import Tensor

from ..ops import activation as functional
from ._eager import eager, wants_grad
from ._fake import empty_in_memory_order

__all__ = ["bias_activation"]


def _forward(x, bias, residual, activation, axis) -> Tensor:
    return functional.bias_activation(x, bias, activation, residual=residual, axis=axis)


def _gradients(grad_out, x, bias, activation, axis, output_mask):
    """(grad_x, grad_bias), None where output_mask says not to compute them."""
    return functional.backward(grad_out, x, bias, activation, axis, output_mask[0], output_mask[1])


@torch.library.custom_op("opzoo::bias_activation", mutates_args=())
def _forward_op(x: Tensor, bias: Optional[Tensor], residual: Optional[Tensor], activation: Optional[str],
                axis: int) -> Tensor:
    return _forward(x, bias, residual, activation, axis)


@torch.library.custom_op("opzoo::bias_activation_backward", mutates_args=())
def _backward_op(grad_out: Tensor, x: Tensor, bias: Optional[Tensor], activation: Optional[str], axis: int,
                 output_mask: List[bool]) -> Tuple[Tensor, Tensor]:
    """(grad_x, grad_bias); the one output_mask leaves out comes back as an empty tensor."""
    grads = _gradients(grad_out, x, bias, activation, axis, output_mask)
    return tuple(x.new_empty((0,)) if g is None else g for g in grads)


@_forward_op.register_fake
def _forward_fake(x, bias, residual, activation, axis):
    functional.check_axis(x, bias, axis)
    return empty_in_memory_order(x, x.shape)


@_backward_op.register_fake
def _backward_fake(grad_out, x, bias, activation, axis, output_mask):
    channels = x.shape[functional.check_axis(x, bias, axis)]
    return (empty_in_memory_order(x, x.shape) if output_mask[0] else x.new_empty((0,)),
            x.new_empty((channels,)) if output_mask[1] else x.new_empty((0,)))


def _setup_context(ctx, inputs, output):
    x, bias, residual, activation, axis = inputs
    ctx.save_for_backward(x, bias)
    ctx.op = (activation, axis)


def _input_gradients(ctx, grad_out, gradients):
    x, bias = ctx.saved_tensors
    need_x, need_bias, need_residual = ctx.needs_input_grad[:3]
    gx, gb = gradients(grad_out, x, bias, *ctx.op, [need_x, need_bias])
    return (gx if need_x else None, gb if need_bias else None, grad_out if need_residual else None, None, None)


_forward_op.register_autograd(lambda ctx, grad_out: _input_gradients(ctx, grad_out, _backward_op),
                              setup_context=_setup_context)


class _Eager(torch.autograd.Function):
    """The custom op's forward and autograd formula, for eager calls on plain tensors."""

    @staticmethod
    def forward(ctx, x, bias, residual, activation, axis):
        inputs = (x, bias, residual, activation, axis)
        _setup_context(ctx, inputs, None)
        return _forward(*inputs)

    @staticmethod
    def backward(ctx, grad_out):
        return _input_gradients(ctx, grad_out, _gradients)


def bias_activation(x: Tensor, bias: Optional[Tensor] = None, activation: Optional[str] = None,
                    residual: Optional[Tensor] = None, axis: int = -1) -> Tensor:
    """``activation(x + bias) + residual`` with autograd: ``torch.ops.opzoo.bias_activation``.

    Parameters
    ----------
    x : Tensor, any shape with at least one dimension
        float32 or float64 on the CPU; float32, float16 or bfloat16 on a CUDA device.
    bias : Tensor, shape (x.shape[axis],), optional
    activation : {None, "relu", "relu6", "silu", "hardswish", "sigmoid"}
    residual : Tensor, shape of x, optional
        Added after the activation.
    axis : int
        The dimension the bias runs along (1 for NCHW); negative counts from the end.

    Returns
    -------
    Tensor, shape of x, in x's memory format

    Raises
    ------
    TypeError, ValueError
        As :func:`opzoo.bias_activation`; TypeError also for arguments that are not tensors.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> x = torch.randn(2, 8, 4, 4, requires_grad=True)
    >>> y = opzoo.torch.bias_activation(x, torch.zeros(8), "silu", axis=1)
    >>> y.sum().backward()
    >>> x.grad.shape
    torch.Size([2, 8, 4, 4])
    """
    for name, t in (("x", x), ("bias", bias), ("residual", residual)):
        if not isinstance(t, Tensor) and (t is not None or name == "x"):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    axis = functional.int_axis(axis)  # its range is the op's to check: dynamo traces this function
    if eager(x, bias, residual):
        if wants_grad(x, bias, residual):
            return _Eager.apply(x, bias, residual, activation, axis)
        return _forward(x, bias, residual, activation, axis)
    return _forward_op(x, bias, residual, activation, axis)

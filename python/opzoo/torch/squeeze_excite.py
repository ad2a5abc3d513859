"""Squeeze-excite for PyTorch: the custom op ``opzoo::squeeze_excite`` with its backward
``opzoo::squeeze_excite_backward``, and the function users call.

The op takes NCHW-shaped tensors on the CPU or a CUDA device; a ``channels_last``
tensor runs the NHWC kernels and gives a ``channels_last`` result. Gradients flow to x
and the four parameters through opzoo's backward kernels. Eager calls on plain tensors
take a ``torch.autograd.Function`` instead of the custom op (:mod:`opzoo.torch._eager`).
"""

from typing import List, Optional, Tuple

import torch
from torch import Tensor

# Names, not the module: opzoo.ops.squeeze_excite is also the name of the function.
from ..ops.squeeze_excite import backward as functional_backward
from ..ops.squeeze_excite import check_shapes
from ..ops.squeeze_excite import squeeze_excite as functional_forward
from ._eager import eager, wants_grad
from ._fake import empty_in_memory_order

__all__ = ["squeeze_excite"]


def _forward(x, w_reduce, w_expand, b_reduce, b_expand, activation) -> Tensor:
    return functional_forward(x, w_reduce, w_expand, b_reduce, b_expand, activation=activation)


def _gradients(grad_out, x, w_reduce, w_expand, b_reduce, b_expand, activation, output_mask):
    """(grad_x, grad_w_reduce, grad_w_expand, grad_b_reduce, grad_b_expand), None where
    output_mask (x, the parameters) says not to compute them."""
    return functional_backward(grad_out, x, w_reduce, w_expand, b_reduce, b_expand, activation, "NCHW",
                               output_mask[0], output_mask[1])


@torch.library.custom_op("opzoo::squeeze_excite", mutates_args=())
def _forward_op(x: Tensor, w_reduce: Tensor, w_expand: Tensor, b_reduce: Optional[Tensor], b_expand: Optional[Tensor],
                activation: Optional[str]) -> Tensor:
    return _forward(x, w_reduce, w_expand, b_reduce, b_expand, activation)


@torch.library.custom_op("opzoo::squeeze_excite_backward", mutates_args=())
def _backward_op(grad_out: Tensor, x: Tensor, w_reduce: Tensor, w_expand: Tensor, b_reduce: Optional[Tensor],
                 b_expand: Optional[Tensor], activation: Optional[str],
                 output_mask: List[bool]) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The five gradients; those output_mask leaves out come back as empty tensors."""
    grads = _gradients(grad_out, x, w_reduce, w_expand, b_reduce, b_expand, activation, output_mask)
    return tuple(x.new_empty((0,)) if g is None else g for g in grads)


@_forward_op.register_fake
def _forward_fake(x, w_reduce, w_expand, b_reduce, b_expand, activation):
    check_shapes(x, w_reduce, w_expand, b_reduce, b_expand, "NCHW")
    return empty_in_memory_order(x, x.shape)


@_backward_op.register_fake
def _backward_fake(grad_out, x, w_reduce, w_expand, b_reduce, b_expand, activation, output_mask):
    check_shapes(x, w_reduce, w_expand, b_reduce, b_expand, "NCHW")
    R, C = w_reduce.shape
    gx = empty_in_memory_order(x, x.shape) if output_mask[0] else x.new_empty((0,))
    params = [x.new_empty(shape) if output_mask[1] else x.new_empty((0,)) for shape in ((R, C), (C, R), (R,), (C,))]
    return (gx, *params)


def _setup_context(ctx, inputs, output):
    *tensors, activation = inputs
    ctx.save_for_backward(*tensors)
    ctx.activation = activation


def _input_gradients(ctx, grad_out, gradients):
    x, w_reduce, w_expand, b_reduce, b_expand = ctx.saved_tensors
    need = ctx.needs_input_grad[:5]
    grads = gradients(grad_out, x, w_reduce, w_expand, b_reduce, b_expand, ctx.activation, [need[0], any(need[1:])])
    return (*(g if wanted else None for g, wanted in zip(grads, need)), None)


_forward_op.register_autograd(lambda ctx, grad_out: _input_gradients(ctx, grad_out, _backward_op),
                              setup_context=_setup_context)


class _Eager(torch.autograd.Function):
    """The custom op's forward and autograd formula, for eager calls on plain tensors."""

    @staticmethod
    def forward(ctx, x, w_reduce, w_expand, b_reduce, b_expand, activation):
        inputs = (x, w_reduce, w_expand, b_reduce, b_expand, activation)
        _setup_context(ctx, inputs, None)
        return _forward(*inputs)

    @staticmethod
    def backward(ctx, grad_out):
        return _input_gradients(ctx, grad_out, _gradients)


def squeeze_excite(x: Tensor, w_reduce: Tensor, w_expand: Tensor, b_reduce: Optional[Tensor] = None,
                   b_expand: Optional[Tensor] = None, activation: Optional[str] = "silu") -> Tensor:
    """Squeeze-and-excitation with autograd: ``torch.ops.opzoo.squeeze_excite``.

    Equal to timm's ``SqueezeExcite.forward``: ``x * sigmoid(conv_expand(activation(
    conv_reduce(x.mean((2, 3), keepdim=True)))))``, with the 1x1 convolutions' weights
    without their 1x1 (``conv.weight[:, :, 0, 0]``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
        float32 or float64 on the CPU; float32, float16 or bfloat16 on a CUDA device.
        A ``channels_last`` tensor gives a ``channels_last`` result.
    w_reduce : Tensor, shape (R, C)
    w_expand : Tensor, shape (C, R)
    b_reduce : Tensor, shape (R,), optional
    b_expand : Tensor, shape (C,), optional
    activation : {None, "relu", "relu6", "silu", "hardswish", "sigmoid"}

    Returns
    -------
    Tensor, shape (N, C, H, W)

    Raises
    ------
    TypeError, ValueError
        As :func:`opzoo.squeeze_excite`; TypeError also for arguments that are not tensors.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> x = torch.randn(2, 16, 7, 7, requires_grad=True)
    >>> y = opzoo.torch.squeeze_excite(x, torch.randn(4, 16), torch.randn(16, 4))
    >>> y.sum().backward()
    >>> x.grad.shape
    torch.Size([2, 16, 7, 7])
    """
    for name, t in (("x", x), ("w_reduce", w_reduce), ("w_expand", w_expand), ("b_reduce", b_reduce),
                    ("b_expand", b_expand)):
        if not isinstance(t, Tensor) and (t is not None or not name.startswith("b_")):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    args = (x, w_reduce, w_expand, b_reduce, b_expand, activation)
    if eager(*args[:5]):
        if wants_grad(*args[:5]):
            return _Eager.apply(*args)
        return _forward(*args)
    return _forward_op(*args)

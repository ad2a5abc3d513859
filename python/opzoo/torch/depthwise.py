"""Depthwise conv2d for PyTorch: the custom op ``opzoo::depthwise_conv2d`` with its
backward ``opzoo::depthwise_conv2d_backward``, the function users call, the module
:class:`DepthwiseConv2d` (``nn.Conv2d(C, C*M, k, groups=C)``'s parameters) and its
converter.

The ops take NCHW-shaped tensors on the CPU or a CUDA device. Memory order follows the
input as in :func:`opzoo.depthwise_conv2d` (a ``channels_last`` tensor runs the NHWC
kernels and gives a ``channels_last`` result; grad_x comes back in the input's order).
Both ops run the functional API's pipeline on the tensors themselves, which reads CPU
tensors as NumPy views of their memory: no copies, a few microseconds per call.

Eager calls on plain tensors run the same forward and backward through a
``torch.autograd.Function`` instead of the custom op (:mod:`opzoo.torch._eager`: the
custom op's dispatch costs about 50 microseconds per forward+backward, which a 7x7
layer's 300 notice), and the forward alone when no gradient is wanted.
"""

import math
from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from .. import _cpu
from .._args import _PADDING_FORMS, conv2d_params, int_tuple
from .._dispatch import _torch_cpu_views, _torch_host
from ..ops import depthwise as functional
from ._eager import eager, wants_grad
from ._fake import empty_in_memory_order
from .convert import register_converter

__all__ = ["DepthwiseConv2d", "depthwise_conv2d"]

_NO_PADDING = (0, 0, 0, 0)


def _padding_arguments(padding) -> Tuple[Tuple[int, int, int, int], bool]:
    """`padding` as the ops take it: (top, bottom, left, right), and whether it is
    TensorFlow's SAME (whose pads depend on the input's size)."""
    if isinstance(padding, str):
        if padding == "same":
            return _NO_PADDING, True
        if padding == "valid":
            return _NO_PADDING, False
        raise ValueError(f"padding: expected {_PADDING_FORMS}, got {padding!r}")
    return conv2d_params(1, padding, 1)[1], False


def _kernel_padding(padding: List[int], same: bool):
    return "same" if same else padding


# CPU tensors of a dtype the kernels take go to the functional API's pipeline as NumPy
# views, with the arguments already normalised; the rest (CUDA tensors, and what the
# functional API converts or rejects) take its whole path from the public function. In a
# model every Python step counts: right after a large op each costs several times what it
# does in a loop (a 2x2 layer's module call after a 38 MB op: 165 us, 250 before this
# path and the no-grad one in _apply; torch's own conv2d: 255).
def _forward(x, weight, bias, stride, padding, dilation, same, activation) -> Tensor:
    params = (stride, _kernel_padding(padding, same), dilation)
    views = _torch_cpu_views({"x": x, "weight": weight, "bias": bias})
    if views is None:
        return functional.depthwise_conv2d(x, weight, bias, *params, activation=activation)
    return functional.forward_on(_torch_host(), *views, params, "NCHW", activation)


def _gradients(grad_out, x, weight, bias, stride, padding, dilation, same, activation, output_mask):
    """(grad_x, grad_weight, grad_bias), None where output_mask (grad_x, grad_weight and
    grad_bias) says not to compute them."""
    params = (stride, _kernel_padding(padding, same), dilation)
    views = _torch_cpu_views({"grad_out": grad_out, "x": x, "weight": weight, "bias": bias})
    if views is None:
        return functional.backward(grad_out, x, weight, bias, *params, "NCHW", activation, output_mask[0],
                                   output_mask[1])
    return functional.backward_on(_torch_host(), *views, params, "NCHW", activation, output_mask[0], output_mask[1])


@torch.library.custom_op("opzoo::depthwise_conv2d", mutates_args=())
def _forward_op(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: List[int], padding: List[int],
                dilation: List[int], same: bool, activation: Optional[str]) -> Tensor:
    return _forward(x, weight, bias, stride, padding, dilation, same, activation)


@torch.library.custom_op("opzoo::depthwise_conv2d_backward", mutates_args=())
def _backward_op(grad_out: Tensor, x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: List[int],
                 padding: List[int], dilation: List[int], same: bool, activation: Optional[str],
                 output_mask: List[bool]) -> Tuple[Tensor, Tensor, Tensor]:
    """(grad_x, grad_weight, grad_bias); output_mask (grad_x, grad_weight and grad_bias)
    says which to compute, the others come back as empty tensors."""
    grads = _gradients(grad_out, x, weight, bias, stride, padding, dilation, same, activation, output_mask)
    return tuple(x.new_empty((0,)) if g is None else g for g in grads)


@_forward_op.register_fake
def _forward_fake(x, weight, bias, stride, padding, dilation, same, activation):
    shape = _cpu.depthwise_output_shape(tuple(x.shape), tuple(weight.shape), tuple(stride),
                                        _kernel_padding(tuple(padding), same), tuple(dilation), "NCHW")
    return empty_in_memory_order(x, shape)


@_backward_op.register_fake
def _backward_fake(grad_out, x, weight, bias, stride, padding, dilation, same, activation, output_mask):
    gx = empty_in_memory_order(x, x.shape) if output_mask[0] else x.new_empty((0,))
    gw = weight.new_empty(weight.shape) if output_mask[1] else x.new_empty((0,))
    gb = weight.new_empty((weight.shape[0],)) if output_mask[1] else x.new_empty((0,))
    return gx, gw, gb


def _setup_context(ctx, inputs, output):
    x, weight, bias, stride, padding, dilation, same, activation = inputs
    ctx.save_for_backward(x, weight, bias)
    ctx.conv = (stride, padding, dilation, same, activation)


def _input_gradients(ctx, grad_out, gradients):
    """The autograd formula: the gradients the inputs ask for, by `gradients` (the
    backward op, or its implementation in eager calls); None for the others."""
    x, weight, bias = ctx.saved_tensors
    need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
    gx, gw, gb = gradients(grad_out, x, weight, bias, *ctx.conv, [need_x, need_weight or need_bias])
    return (gx if need_x else None, gw if need_weight else None, gb if need_bias else None,
            None, None, None, None, None)


_forward_op.register_autograd(lambda ctx, grad_out: _input_gradients(ctx, grad_out, _backward_op),
                              setup_context=_setup_context)


class _Eager(torch.autograd.Function):
    """The custom op's forward and autograd formula, for eager calls on plain tensors."""

    # forward(ctx, ...), not a separate setup_context: torch runs that form in 3 us, the
    # other in 14.
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, same, activation):
        inputs = (x, weight, bias, stride, padding, dilation, same, activation)
        _setup_context(ctx, inputs, None)
        return _forward(*inputs)

    @staticmethod
    def backward(ctx, grad_out):
        return _input_gradients(ctx, grad_out, _gradients)


def _apply(x, weight, bias, stride, padding, dilation, same, activation) -> Tensor:
    """The op on normalised arguments: eagerly when nothing traces the call (through
    :class:`_Eager` when a gradient is wanted, else the kernels alone), else the custom op."""
    if eager(x, weight, bias):
        if wants_grad(x, weight, bias):
            return _Eager.apply(x, weight, bias, stride, padding, dilation, same, activation)
        return _forward(x, weight, bias, stride, padding, dilation, same, activation)
    return _forward_op(x, weight, bias, stride, padding, dilation, same, activation)


def depthwise_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0, dilation=1,
                     activation: Optional[str] = None) -> Tensor:
    """Depthwise conv2d with autograd: ``torch.ops.opzoo.depthwise_conv2d``.

    Equal to ``torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation,
    groups=C)`` followed by `activation`, with :func:`opzoo.depthwise_conv2d`'s
    arguments (``padding="same"`` is TensorFlow's SAME at any stride) on NCHW-shaped
    tensors. Gradients flow to x, weight and bias through opzoo's backward kernels;
    ``torch.compile(fullgraph=True)`` traces it.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
        float32 or float64 on the CPU; float32, float16 or bfloat16 on a CUDA device.
        A ``channels_last`` tensor gives a ``channels_last`` result.
    weight : Tensor, shape (C*M, 1, kh, kw)
    bias : Tensor, shape (C*M,), optional
    stride, dilation : int or (int, int)
    padding : int, (ph, pw), (top, bottom, left, right), "same" or "valid"
    activation : {None, "relu", "relu6", "silu", "hardswish", "sigmoid"}

    Returns
    -------
    Tensor, shape (N, C*M, Ho, Wo)

    Raises
    ------
    TypeError, ValueError
        As :func:`opzoo.depthwise_conv2d`; TypeError also for arguments that are not tensors.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> x = torch.randn(1, 8, 32, 32, requires_grad=True)
    >>> w = torch.randn(8, 1, 3, 3, requires_grad=True)
    >>> y = opzoo.torch.depthwise_conv2d(x, w, stride=2, padding="same", activation="silu")
    >>> y.sum().backward()
    >>> y.shape, x.grad.shape, w.grad.shape
    (torch.Size([1, 8, 16, 16]), torch.Size([1, 8, 32, 32]), torch.Size([8, 1, 3, 3]))
    """
    for name, t in (("x", x), ("weight", weight), ("bias", bias)):
        if not isinstance(t, Tensor) and (t is not None or name != "bias"):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    pads, same = _padding_arguments(padding)
    return _apply(x, weight, bias, int_tuple(stride, "stride", 2), pads, int_tuple(dilation, "dilation", 2), same,
                  activation)


class DepthwiseConv2d(nn.Module):
    """Depthwise 2-D convolution: ``nn.Conv2d(in_channels, in_channels * depth_multiplier,
    kernel_size, groups=in_channels)`` on opzoo's kernels, with a fused activation and
    TensorFlow's SAME padding at any stride.

    Its parameters are named and shaped as that ``nn.Conv2d``'s (``weight`` (C*M, 1, kh,
    kw), ``bias`` (C*M,) or None) and initialised as it initialises them, so state_dicts
    load both ways; it has the same attributes (``in_channels``, ``out_channels``,
    ``kernel_size``, ``stride``, ``padding``, ``dilation``, ``groups``).

    Parameters
    ----------
    in_channels : int
    kernel_size : int or (int, int)
    stride, dilation : int or (int, int)
    padding : int, (ph, pw), (top, bottom, left, right), "same" or "valid"
        ``"same"`` is TensorFlow's SAME (output ``ceil(H / stride)``, the odd pixel at the
        bottom and right); at stride 1 that is ``nn.Conv2d``'s ``"same"`` too.
    bias : bool
    depth_multiplier : int
        Output channels per input channel (M).
    activation : {None, "relu", "relu6", "silu", "hardswish", "sigmoid"}
        Applied after the bias in the same pass.
    device, dtype
        Of the parameters, as for ``nn.Conv2d``.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> conv = opzoo.torch.DepthwiseConv2d(16, 5, stride=2, padding="same", activation="silu")
    >>> conv(torch.randn(2, 16, 15, 15).contiguous(memory_format=torch.channels_last)).shape
    torch.Size([2, 16, 8, 8])
    """

    def __init__(self, in_channels: int, kernel_size, stride=1, padding=0, dilation=1, bias: bool = True,
                 depth_multiplier: int = 1, activation: Optional[str] = None, device=None, dtype=None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("depth_multiplier", depth_multiplier)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        if activation is not None and activation not in _cpu.activations:
            raise ValueError(f"activation must be one of None, {', '.join(map(repr, _cpu.activations))}; "
                             f"got {activation!r}")
        kernel = int_tuple(kernel_size, "kernel_size", 2)
        if min(kernel) < 1:
            raise ValueError(f"kernel_size: expected ints >= 1, got {kernel_size!r}")
        self._set_geometry(in_channels, in_channels * depth_multiplier, kernel, int_tuple(stride, "stride", 2),
                           padding, int_tuple(dilation, "dilation", 2), activation)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty((self.out_channels, 1, *self.kernel_size), **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _set_geometry(self, in_channels, out_channels, kernel_size, stride, padding, dilation, activation) -> None:
        """The attributes nn.Conv2d has (kernel_size, stride, dilation as int pairs), and
        the padding as the op takes it."""
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, in_channels
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation
        self.padding = padding
        self._pads, self._same = _padding_arguments(padding)
        self.activation = activation

    def reset_parameters(self) -> None:
        """As ``nn.Conv2d.reset_parameters``: Kaiming-uniform weight (a = sqrt(5)),
        bias uniform in +-1/sqrt(fan_in), fan_in = kh * kw."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.kernel_size[0] * self.kernel_size[1])
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return _apply(x, self.weight, self.bias, self.stride, self._pads, self.dilation, self._same, self.activation)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.out_channels != self.in_channels:
            s += f", depth_multiplier={self.out_channels // self.in_channels}"
        if self.bias is None:
            s += ", bias=False"
        if self.activation is not None:
            s += f", activation={self.activation!r}"
        return s

    @classmethod
    def from_conv2d(cls, conv: nn.Conv2d, padding=None) -> "DepthwiseConv2d":
        """A DepthwiseConv2d holding `conv`'s own weight and bias parameters (not copies),
        with its geometry; `padding` overrides conv.padding (timm's Conv2dSame: "same")."""
        new = cls.__new__(cls)  # no __init__: it would allocate and initialise parameters of its own
        nn.Module.__init__(new)
        new._set_geometry(conv.in_channels, conv.out_channels, tuple(conv.kernel_size), tuple(conv.stride),
                          conv.padding if padding is None else padding, tuple(conv.dilation), None)
        new.weight = conv.weight
        if conv.bias is None:
            new.register_parameter("bias", None)
        else:
            new.bias = conv.bias
        new.train(conv.training)
        return new


def _timm_conv2d_same():
    import sys

    module = sys.modules.get("timm.layers.conv2d_same")
    return getattr(module, "Conv2dSame", None)


@register_converter
def _convert_depthwise(module: nn.Module) -> Union[nn.Module, str, None]:
    if not isinstance(module, nn.Conv2d):
        return None
    depthwise = module.groups == module.in_channels > 1
    if not depthwise:
        return None
    same = _timm_conv2d_same()
    if type(module) is not nn.Conv2d and not (same is not None and type(module) is same):
        return f"a subclass of nn.Conv2d with its own forward ({type(module).__module__}.{type(module).__name__})"
    if module.padding_mode != "zeros":
        return f"padding_mode {module.padding_mode!r} (opzoo pads with zeros)"
    if type(module) is nn.Conv2d:
        return DepthwiseConv2d.from_conv2d(module)
    if tuple(module.padding) != (0, 0):
        return f"Conv2dSame with explicit padding {module.padding} on top of SAME"
    return DepthwiseConv2d.from_conv2d(module, padding="same")

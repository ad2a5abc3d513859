"""Corner and center pooling for PyTorch: the custom ops ``opzoo::corner_pool``,
``opzoo::corner_pool_pair`` and ``opzoo::center_pool`` with their backward ops, the
functions users call, mmcv's ``CornerPool`` module as a drop-in, and CenterNet's
detection decoding ``opzoo::heatmap_decode`` (no gradient).

The pools take NCHW-shaped tensors on the CPU (float32, float64) or a CUDA device
(float32, float16, bfloat16); a ``channels_last`` tensor runs the NHWC kernels and gives
a ``channels_last`` result (gradients too); decoding takes the same. Each pool's gradient goes
to the arg-max of its window, on ties the nearest one: what autograd gives through
mmcv's flips and torch.cummax. Eager calls on plain tensors take a
``torch.autograd.Function`` instead of the custom op (:mod:`opzoo.torch._eager`).
"""

from typing import Optional

import torch
from torch import Tensor, nn

from .. import _cpu
# Names, not the module: opzoo.ops.corner_pool is also the name of the function.
from ..ops.corner_pool import center_pool as functional_center
from ..ops.corner_pool import center_pool_backward as functional_center_backward
from ..ops.corner_pool import corner_pool as functional_corner
from ..ops.corner_pool import corner_pool_backward as functional_corner_backward
from ..ops.corner_pool import corner_pool_pair as functional_pair
from ..ops.corner_pool import corner_pool_pair_backward as functional_pair_backward
from ..ops.heatmap_decode import heatmap_decode as functional_decode
from ._eager import eager, wants_grad
from ._fake import empty_in_memory_order

__all__ = ["CornerPool", "center_pool", "corner_pool", "corner_pool_pair", "heatmap_decode"]


class _Pool:
    """One pool's custom op ``opzoo::<name>`` over `inputs` (tensors) and, where it takes
    one, a str parameter; its backward op, fake implementations, autograd formula and
    eager autograd.Function; calling it runs whichever the call needs."""

    def __init__(self, name: str, inputs: tuple, param: Optional[str], forward, backward):
        self.inputs, self.param, self.forward, self.backward = inputs, param, forward, backward
        tensors = ", ".join(f"Tensor {n}" for n in inputs)
        extra = f", str {param}" if param else ""
        grads = "Tensor" if len(inputs) == 1 else "(" + ", ".join("Tensor" for _ in inputs) + ")"
        self.op = torch.library.custom_op(f"opzoo::{name}", self._run_forward, mutates_args=(),
                                          schema=f"({tensors}{extra}) -> Tensor")
        self.backward_op = torch.library.custom_op(f"opzoo::{name}_backward", self._run_backward, mutates_args=(),
                                                   schema=f"(Tensor grad_out, {tensors}{extra}) -> {grads}")
        self.op.register_fake(self._fake_forward)
        self.backward_op.register_fake(self._fake_backward)
        self.op.register_autograd(lambda ctx, g: self._input_gradients(ctx, g, self.backward_op),
                                  setup_context=self._setup_context)
        pool = self

        class Eager(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *args):
                pool._setup_context(ctx, args, None)
                return pool._run_forward(*args)

            @staticmethod
            def backward(ctx, grad_out):
                return pool._input_gradients(ctx, grad_out, pool._run_backward)

        self.eager = Eager

    def _split(self, args):
        return (args[:-1], args[-1:]) if self.param else (args, ())

    def _run_forward(self, *args):
        return self.forward(*args)

    def _run_backward(self, grad_out, *args):
        grads = self.backward(grad_out, *args)
        return grads if len(self.inputs) == 1 else tuple(grads)

    def _check(self, tensors, names) -> None:
        _cpu.corner_pool_check([tuple(t.shape) for t in tensors], list(names), "NCHW")

    def _fake_forward(self, *args):
        tensors, _ = self._split(args)
        self._check(tensors, self.inputs)
        return empty_in_memory_order(tensors[0], tensors[0].shape)

    def _fake_backward(self, grad_out, *args):
        tensors, _ = self._split(args)
        self._check((grad_out, *tensors), ("grad_out", *self.inputs))
        grads = [empty_in_memory_order(tensors[0], t.shape) for t in tensors]
        return grads[0] if len(grads) == 1 else tuple(grads)

    def _setup_context(self, ctx, inputs, output):
        tensors, params = self._split(tuple(inputs))
        ctx.save_for_backward(*tensors)
        ctx.params = params

    def _input_gradients(self, ctx, grad_out, backward):
        grads = backward(grad_out, *ctx.saved_tensors, *ctx.params)
        grads = (grads,) if len(self.inputs) == 1 else tuple(grads)
        return (*grads, *(None for _ in ctx.params))

    def __call__(self, *args):
        tensors, _ = self._split(args)
        for name, t in zip(self.inputs, tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if eager(*tensors):
            return self.eager.apply(*args) if wants_grad(*tensors) else self._run_forward(*args)
        return self.op(*args)


_corner = _Pool("corner_pool", ("x",), "direction", functional_corner, functional_corner_backward)
_pair = _Pool("corner_pool_pair", ("a", "b"), "corner", functional_pair, functional_pair_backward)
_center = _Pool("center_pool", ("a", "b"), None, functional_center, functional_center_backward)


def corner_pool(x: Tensor, direction: str) -> Tensor:
    """CornerNet's directional max pooling with autograd: ``torch.ops.opzoo.corner_pool``.

    Equal to mmcv's ``CornerPool(direction)(x)`` (torch.cummax along H or W, on a flipped
    tensor for "top" and "left"), gradients included.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W), float32 or float64 on the CPU; float32, float16 or
        bfloat16 on a CUDA device. A ``channels_last`` tensor gives a ``channels_last`` result.
    direction : {"top", "bottom", "left", "right"}

    Returns
    -------
    Tensor, shape (N, C, H, W)

    Raises
    ------
    TypeError, ValueError
        As :func:`opzoo.corner_pool`; TypeError also for an x that is not a tensor.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> x = torch.tensor([[[[1., 3., 2.]]]], requires_grad=True)
    >>> y = opzoo.torch.corner_pool(x, "left")
    >>> y.sum().backward()
    >>> y.detach()[0, 0], x.grad[0, 0]
    (tensor([[3., 3., 2.]]), tensor([[0., 2., 1.]]))
    """
    return _corner(x, direction)


def corner_pool_pair(a: Tensor, b: Tensor, corner: str = "top_left") -> Tensor:
    """``corner_pool(a, "top") + corner_pool(b, "left")`` (``"top_left"``) or the bottom and
    right pools (``"bottom_right"``) in one pass, with autograd: ``torch.ops.opzoo.corner_pool_pair``.

    Parameters
    ----------
    a, b : Tensor, shape (N, C, H, W), one dtype
    corner : {"top_left", "bottom_right"}

    Returns
    -------
    Tensor, shape (N, C, H, W), in a's memory format

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> a, b = torch.randn(2, 1, 4, 6, 6)
    >>> y = opzoo.torch.corner_pool_pair(a, b)
    >>> torch.allclose(y, opzoo.torch.corner_pool(a, "top") + opzoo.torch.corner_pool(b, "left"))
    True
    """
    return _pair(a, b, corner)


def center_pool(a: Tensor, b: Tensor) -> Tensor:
    """CenterNet's center pooling with autograd: ``torch.ops.opzoo.center_pool``; the
    maximum of a's column plus the maximum of b's row at every pixel, with the gradients
    autograd gives through BottomPool(TopPool(a)) + RightPool(LeftPool(b)).

    Parameters
    ----------
    a, b : Tensor, shape (N, C, H, W), one dtype

    Returns
    -------
    Tensor, shape (N, C, H, W), in a's memory format

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> a = torch.tensor([[[[1., 4.], [2., 0.]]]])
    >>> opzoo.torch.center_pool(a, a)[0, 0]
    tensor([[6., 8.],
            [4., 6.]])
    """
    return _center(a, b)


class CornerPool(nn.Module):
    """mmcv's ``mmcv.ops.CornerPool`` on opzoo's kernels: the running maximum towards one
    side, with the same modes, no parameters (an empty state_dict) and the same
    gradients (torch.cummax's tie rule).

    Parameters
    ----------
    mode : {"top", "bottom", "left", "right"}

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> pool = opzoo.torch.CornerPool("top")
    >>> pool(torch.tensor([[[[1.], [3.], [2.]]]]))[0, 0, :, 0]
    tensor([3., 3., 2.])
    """

    MODES = ("top", "bottom", "left", "right")

    def __init__(self, mode: str):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"mode: expected one of {', '.join(self.MODES)}, got {mode!r}")
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return corner_pool(x, self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


@torch.library.custom_op("opzoo::heatmap_decode", mutates_args=())
def _decode_op(heat: Tensor, wh: Tensor, reg: Optional[Tensor], K: int) -> Tensor:
    return functional_decode(heat, wh, reg, K)


@_decode_op.register_fake
def _decode_fake(heat, wh, reg, K):
    _cpu.heatmap_decode_shape(tuple(heat.shape), tuple(wh.shape), None if reg is None else tuple(reg.shape), K, "NCHW")
    return heat.new_empty((heat.shape[0], K, 6))


def heatmap_decode(heat: Tensor, wh: Tensor, reg: Optional[Tensor] = None, K: int = 100) -> Tensor:
    """CenterNet's ``ctdet_decode`` as one op: ``torch.ops.opzoo.heatmap_decode`` (no gradient).

    As :func:`opzoo.heatmap_decode`: the 3x3 peak keep, the K best scores of each image
    over C*H*W (score-descending, then index-ascending), boxes around their pixels.

    Parameters
    ----------
    heat : Tensor, shape (N, C, H, W), scores after the sigmoid
        A ``channels_last`` tensor is read in place.
    wh : Tensor, shape (N, 2, H, W)
    reg : Tensor, shape (N, 2, H, W), optional
    K : int

    Returns
    -------
    Tensor, shape (N, K, 6): x1, y1, x2, y2, score, class in heatmap pixels

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> heat = torch.zeros(1, 2, 4, 4); heat[0, 1, 2, 1] = 0.9
    >>> opzoo.torch.heatmap_decode(heat, torch.full((1, 2, 4, 4), 2.0), torch.zeros(1, 2, 4, 4), K=1)
    tensor([[[0.0000, 1.0000, 2.0000, 3.0000, 0.9000, 1.0000]]])
    """
    for name, t in (("heat", heat), ("wh", wh), ("reg", reg)):
        if not isinstance(t, Tensor) and (t is not None or name != "reg"):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if eager(heat, wh, reg):
        return functional_decode(heat.detach(), wh.detach(), None if reg is None else reg.detach(), K)
    return _decode_op(heat, wh, reg, K)

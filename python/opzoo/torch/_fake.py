"""What the fake implementations of every family's custom ops share: results in the
memory format the real ops give them, by the functional API's own rule
(:func:`opzoo._layout.dense_in_memory_order`)."""

import torch
from torch import Tensor

from .._layout import dense_in_memory_order


class _TensorLayout:
    """What :func:`opzoo._layout.dense_in_memory_order` asks of an array library, for
    torch tensors (fake ones included): the rule that picks the kernels' memory order."""

    permutes = True

    @staticmethod
    def is_dense(t: Tensor) -> bool:
        return t.is_contiguous()

    @staticmethod
    def permute(t: Tensor, axes) -> Tensor:
        return t.permute(*axes)

    @staticmethod
    def contiguous(t: Tensor, name: str) -> Tensor:
        return t.contiguous()


def memory_format(x: Tensor) -> torch.memory_format:
    """The memory format the real ops give results in x's order: channels_last when the
    kernels read a 4-D x as NHWC, else contiguous."""
    if x.dim() != 4:
        return torch.contiguous_format
    _, memory = dense_in_memory_order(_TensorLayout, x, "NCHW", "x")
    return torch.channels_last if memory == "NHWC" else torch.contiguous_format


def empty_in_memory_order(x: Tensor, shape) -> Tensor:
    """An empty tensor of `shape` like x (dtype, device), in the memory format x's result takes."""
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=memory_format(x))

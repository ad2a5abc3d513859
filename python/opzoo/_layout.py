"""Memory layouts and output buffers, one set of rules for every op and back end.

A kernel runs on arrays dense in NCHW or NHWC memory. ``layout`` names the axis order
of the arrays a caller passes; independently of it, an input dense in the other order
(a ``torch.channels_last`` tensor, a transposed NumPy view) is read in place and the
result comes back in that memory order, as PyTorch does. Other strided inputs are
copied once. ``out=`` buffers are checked here and written in place when they are dense
in the kernel's order, else through a copy.
"""

from __future__ import annotations

from typing import Any

PERMUTE = {("NCHW", "NHWC"): (0, 2, 3, 1), ("NHWC", "NCHW"): (0, 3, 1, 2)}


def other(layout: str) -> str:
    return "NHWC" if layout == "NCHW" else "NCHW"


def permute_shape(shape: tuple[int, ...], src: str, dst: str) -> tuple[int, ...]:
    return tuple(shape) if src == dst else tuple(shape[i] for i in PERMUTE[(src, dst)])


def to_layout(be, a: Any, src: str, dst: str) -> Any:
    """A view of `a` (axes in `src`) with its axes in `dst`."""
    return a if src == dst else be.permute(a, PERMUTE[(src, dst)])


def dense_in_memory_order(be, a: Any, layout: str, name: str) -> tuple[Any, str]:
    """`a` (axes in `layout`) dense in the memory order it already has, and that order;
    copied into `layout` when it is dense in neither."""
    if be.is_dense(a):
        return a, layout
    if be.permutes:
        alt = be.permute(a, PERMUTE[(layout, other(layout))])
        if be.is_dense(alt):
            return alt, other(layout)
    return be.contiguous(a, name), layout


def dense_in_layout(be, a: Any, src: str, dst: str, name: str) -> Any:
    """`a` (axes in `src`) as a dense array with its axes in `dst`."""
    return be.contiguous(to_layout(be, a, src, dst), name)


def check_shape(a: Any, name: str, expected: tuple[int, ...]) -> None:
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {tuple(a.shape)}")


class Output:
    """Where a kernel writes one result of shape `shape` (axes in `layout`) in the memory
    order of `kernel_layout`: `out`'s own memory when it is dense in that order, else a
    fresh array (copied into `out` afterwards when one was given).

    `out` is the caller's argument and `view` the back end's view of it; `inputs` (name ->
    array) are the arrays `out` must not share memory with.
    """

    __slots__ = ("_be", "_out", "_view", "_layout", "_kernel_layout", "_in_place", "array")

    def __init__(self, be, out, view, shape, layout: str, kernel_layout: str, like, inputs: dict):
        self._be, self._out, self._view = be, out, view
        self._layout, self._kernel_layout = layout, kernel_layout
        self._in_place = False
        if out is not None:
            check_shape(view, "out", shape)
            if not be.writable(view):
                raise ValueError("out: array is read-only")
            for name, a in inputs.items():
                if a is not None and be.may_share_memory(view, a):
                    raise ValueError(f"out: must not share memory with {name}")
            target = to_layout(be, view, layout, kernel_layout)
            self._in_place = be.is_dense(target)
            if self._in_place:
                self.array = target
                return
        self.array = be.empty(permute_shape(shape, layout, kernel_layout), like)

    def result(self):
        """What the op returns, once the kernel has written `array`: `out` itself, or the
        fresh array in the caller's array type and axis order."""
        value = to_layout(self._be, self.array, self._kernel_layout, self._layout)
        if self._out is None:
            return self._be.wrap(value)
        if not self._in_place:
            self._be.copy_into(self._view, value)
        return self._out

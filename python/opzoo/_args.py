"""Normalising the scalar arguments ops take in several forms (an int or a tuple, a
padding name) into the one form the kernel modules check; the checks themselves and
their messages live in the C++ bindings, once for both modules."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._device import type_name


def int_tuple(value: Any, name: str, length: int) -> tuple[int, ...]:
    """An int, or a sequence of `length` ints, as a tuple of `length` Python ints."""
    if type(value) is int:  # the common case, first
        return (value,) * length
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * length
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int or {length} ints, got {type_name(value)}") from None
    if len(items) != length or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{name}: expected an int or {length} ints, got {value!r}")
    return tuple(int(v) for v in items)


def conv2d_params(stride: Any, padding: Any, dilation: Any) -> tuple:
    """(stride, padding, dilation) as the kernel modules take them, in their order:
    stride and dilation as (h, w); padding as (top, bottom, left, right) from an int or
    (ph, pw), or a name ("same", "valid") for the kernel module to resolve."""
    if type(stride) is int and type(padding) is int and type(dilation) is int:  # the common case, first
        return (stride, stride), (padding,) * 4, (dilation, dilation)
    if isinstance(padding, str):
        pads = padding
    elif isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = int_tuple(padding, "padding", 4)
    else:
        ph, pw = int_tuple(padding, "padding", 2)
        pads = (ph, ph, pw, pw)
    return int_tuple(stride, "stride", 2), pads, int_tuple(dilation, "dilation", 2)

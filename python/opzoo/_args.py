"""Normalising the scalar arguments ops take in several forms (an int or a tuple, a
padding name) into the one form the kernel modules check; the checks themselves and
their messages live in the C++ bindings, once for both modules."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._device import type_name


#: The kernel modules take integer parameters as int64.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def int_tuple(value: Any, name: str, length: int, forms: str | None = None) -> tuple[int, ...]:
    """An int, or a sequence of `length` ints, as a tuple of `length` Python ints within
    int64. `forms` describes the accepted forms in messages (default: "an int or
    `length` ints")."""
    if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:  # the common cases, first
        return (value,) * length
    if (type(value) is tuple or type(value) is list) and len(value) == length and all(
            type(v) is int and _INT64_MIN <= v <= _INT64_MAX for v in value):
        return tuple(value)
    forms = forms or f"an int or {length} ints"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items = (int(value),) * length
    else:
        try:
            items = tuple(value)
        except TypeError:
            raise TypeError(f"{name}: expected {forms}, got {type_name(value)}") from None
        if len(items) != length or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
            raise ValueError(f"{name}: expected {forms}, got {value!r}")
        items = tuple(int(v) for v in items)
    for v in items:
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise ValueError(f"{name}: {v} does not fit in 64 bits (at most 2**63 - 1)")
    return items


_PADDING_FORMS = "an int, 2 ints (ph, pw), 4 ints (top, bottom, left, right), 'same' or 'valid'"


def conv2d_params(stride: Any, padding: Any, dilation: Any) -> tuple:
    """(stride, padding, dilation) as the kernel modules take them, in their order:
    stride and dilation as (h, w); padding as (top, bottom, left, right) from an int or
    (ph, pw), or a name ("same", "valid") for the kernel module to resolve."""
    if (
        type(stride) is int and type(padding) is int and type(dilation) is int
        and max(abs(stride), abs(padding), abs(dilation)) <= _INT64_MAX
    ):  # the common case, first
        return (stride, stride), (padding,) * 4, (dilation, dilation)
    if isinstance(padding, str):
        pads = padding
    elif isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = int_tuple(padding, "padding", 4, _PADDING_FORMS)
    else:
        ph, pw = int_tuple(padding, "padding", 2, _PADDING_FORMS)
        pads = (ph, ph, pw, pw)
    return int_tuple(stride, "stride", 2), pads, int_tuple(dilation, "dilation", 2)

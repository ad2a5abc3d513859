"""Padding forms accepted by the convolution-like ops, resolved to explicit pads."""

from __future__ import annotations

from ._dispatch import int_tuple


def resolve_padding(padding, in_hw, kernel_hw, stride, dilation) -> tuple[int, int, int, int]:
    """Padding as (top, bottom, left, right) from any accepted form.

    ``padding`` is an int, ``(ph, pw)``, ``(top, bottom, left, right)``, ``"valid"``
    (none) or ``"same"``: TensorFlow's SAME, output size ``ceil(in / stride)`` with the
    odd pixel of padding at the bottom/right (asymmetric at stride 2).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"padding: expected an int, a tuple, 'same' or 'valid', got {padding!r}")
        pads = []
        for n, k, s, d in zip(in_hw, kernel_hw, stride, dilation):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = int_tuple(padding, "padding", 4)
    else:
        ph, pw = int_tuple(padding, "padding", 2)
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return pads

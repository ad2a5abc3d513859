"""What the test-kit entries of the torch ops share: NumPy arrays turned into tensors as
a torch user holds them (sharing memory and strides; negative strides and other byte
orders, which torch lacks, through a copy), leaves that collect gradients, and the
functional entries' bad-input tables made the torch op's."""

import warnings

import numpy as np
import pytest


def torch_or_none():
    """torch, or None where it is not installed (the peers' entries then skip)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_or_skip():
    return pytest.importorskip("torch", reason="the opzoo.torch entries need torch (pip install torch)")


def as_tensor(torch, a):
    if not isinstance(a, np.ndarray):
        return a
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if any(st < 0 for st in a.strides):
        a = a.copy()
    with warnings.catch_warnings():  # read-only arrays: the op never writes its inputs
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(a)


def leaf(t):
    """A tensor that collects its gradient (floating dtypes: others reach the op as they are, to be refused)."""
    floating = getattr(t, "is_floating_point", lambda: False)()
    return t.detach().requires_grad_() if floating else t


# What a torch op has no counterpart of: out=, grad_out (autograd's own) and layout (a
# tensor's memory format says it).
_NOT_TORCH_ARGUMENTS = ("out", "grad_out", "layout")
# Non-arrays the functional API's tables pass for an array, as a torch op's caller might.
_NOT_TENSORS = {"a list": lambda a: a.tolist(), "a memoryview": memoryview}


def torch_op_table(table, refused=(("x", "a list"),)):
    """A functional entry's bad inputs for its torch op: those about arguments the op does
    not take, and those passing non-arrays, dropped; then each (array, kind) of `refused`
    passed as that kind of non-tensor, a TypeError naming the array."""
    from . import BadInput, changed

    kept = [b for b in table if not b.label.startswith(_NOT_TORCH_ARGUMENTS)
            and not b.label.endswith(tuple(f" {kind}" for kind in _NOT_TENSORS))]
    return kept + [BadInput(f"{name} {kind}", changed(name, lambda a, n=name, k=kind: _NOT_TENSORS[k](a[n])), TypeError,
                            rf"{name}: expected a torch.Tensor") for name, kind in refused]

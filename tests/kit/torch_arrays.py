"""What the test-kit entries of the torch ops share: NumPy arrays turned into tensors as
a torch user holds them (sharing memory and strides; negative strides and other byte
orders, which torch lacks, through a copy), and leaves that collect gradients."""

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

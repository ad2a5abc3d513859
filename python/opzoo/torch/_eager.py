"""When an op call may skip its custom op: the rule every family's torch op follows.

Eager calls on plain tensors (no torch.compile, export, functorch transform or dispatch
mode active) run the op's forward and backward through a ``torch.autograd.Function``, or
the forward alone when no gradient is wanted: the custom op's dispatch costs about 50
microseconds per forward+backward. Whatever traces the call gets the custom op, with its
fake implementation and autograd formula.
"""

import torch
from torch import Tensor, nn

_PLAIN_TENSORS = (Tensor, nn.Parameter)


def _tracing_hooks():
    """torch's private probes for what would see through the eager path (a dispatch mode,
    functorch's wrappers, whose Python type is Tensor); a torch without them gets the
    custom op always."""
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode

        return _get_current_dispatch_mode, torch._C._are_functorch_transforms_active
    except (ImportError, AttributeError):
        return (lambda: True), (lambda: True)


_dispatch_mode, _functorch_active = _tracing_hooks()


def eager(*tensors) -> bool:
    """Whether a call on these arguments (tensors or None) may run without its custom op."""
    return (all(t is None or type(t) in _PLAIN_TENSORS for t in tensors) and not torch.compiler.is_compiling()
            and _dispatch_mode() is None and not _functorch_active())


def wants_grad(*tensors) -> bool:
    """Whether autograd would record a call on these arguments (tensors or None)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)

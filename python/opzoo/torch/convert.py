"""Swapping opzoo's modules into an existing PyTorch model.

Each family registers a converter: a function that takes a module and returns its
opzoo replacement (holding the same parameter objects under the same names, so the
model's state_dict keeps its keys), or a string saying why it leaves the module alone,
or None when the module is not of a kind it converts.
"""

import copy
import logging
from typing import Callable, List, Optional, Union

from torch import nn

logger = logging.getLogger("opzoo.torch")

Converter = Callable[[nn.Module], Union[nn.Module, str, None]]
_CONVERTERS: List[Converter] = []


def register_converter(converter: Converter) -> Converter:
    _CONVERTERS.append(converter)
    return converter


def _replacement(name: str, module: nn.Module) -> Optional[nn.Module]:
    for converter in _CONVERTERS:
        found = converter(module)
        if isinstance(found, nn.Module):
            return found
        if isinstance(found, str):
            logger.debug("convert: left %s (%s) alone: %s", name or "the model", type(module).__name__, found)
            return None
    return None


def convert(module: nn.Module, inplace: bool = False) -> nn.Module:
    """The model with opzoo's modules in place of the layers they implement.

    Replaced: every depthwise ``nn.Conv2d`` (``groups == in_channels > 1``, zeros
    padding mode) and timm's ``Conv2dSame`` (TensorFlow SAME padding), by a
    :class:`~opzoo.torch.DepthwiseConv2d` holding the same ``weight`` and ``bias``
    parameters. Convolutions it leaves alone (other padding modes, subclasses with
    their own forward) are logged at debug level on the ``opzoo.torch`` logger.

    Parameters
    ----------
    module : torch.nn.Module
        The model (or a single layer).
    inplace : bool
        Replace the layers of `module` itself; by default a deep copy is converted and
        `module` is left as it was.

    Returns
    -------
    torch.nn.Module
        The converted model: `module` itself when `inplace`, or the converted layer
        when `module` is one.

    Examples
    --------
    >>> import torch, opzoo.torch
    >>> block = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.ReLU())
    >>> type(opzoo.torch.convert(block)[0]).__name__
    'DepthwiseConv2d'
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if not inplace:
        module = copy.deepcopy(module)
    top = _replacement("", module)
    if top is not None:
        return top
    for parent_name, parent in list(module.named_modules()):
        for name, child in list(parent.named_children()):
            new = _replacement(f"{parent_name}.{name}" if parent_name else name, child)
            if new is not None:
                setattr(parent, name, new)
    return module

"""PyTorch ops with autograd and the modules built on them (imported only with torch).

Every op family has here a ``torch.library`` custom op ``opzoo::<name>`` (with a fake
implementation, so ``torch.compile`` traces it, and an autograd formula that runs
opzoo's own backward kernels), a function with the functional API's argument names,
and, where users swap in a module, a module with that module's parameter names;
:func:`convert` swaps them into an existing model.

>>> import torch, opzoo.torch
>>> conv = opzoo.torch.DepthwiseConv2d(8, 3, padding=1)
>>> conv(torch.randn(2, 8, 16, 16)).shape
torch.Size([2, 8, 16, 16])
"""

try:
    import torch as _torch  # noqa: F401 - fails here, with the message below, when torch is missing
except ImportError as e:  # pragma: no cover - the tests run with torch installed
    raise ImportError("opzoo.torch needs PyTorch: pip install torch") from e

from .activation import bias_activation
from .convert import convert
from .corner_pool import CornerPool, center_pool, corner_pool, corner_pool_pair, heatmap_decode
from .depthwise import DepthwiseConv2d, depthwise_conv2d
from .graph import GATConv, GCNConv, SAGEConv, aggregate, edge_softmax, sddmm
from .spiking import IFNode, LIFNode, if_neuron, lif
from .squeeze_excite import squeeze_excite

__all__ = ["CornerPool", "DepthwiseConv2d", "GATConv", "GCNConv", "IFNode", "LIFNode", "SAGEConv", "aggregate",
           "bias_activation", "center_pool", "convert", "corner_pool", "corner_pool_pair", "depthwise_conv2d",
           "edge_softmax", "heatmap_decode", "if_neuron", "lif", "sddmm", "squeeze_excite"]

"""The model layer: published architectures rebuilt from opzoo's ops and the BLAS
library's matrix products, loading the weights users already have.

Every model class follows one convention: ``Class.from_state_dict(state_dict, ...)``
takes the state_dict of the implementation users have (torch tensors or NumPy arrays,
under that implementation's own key names; what the weights cannot tell is passed by
keyword), and ``model(x)`` runs inference on NumPy (CPU) or CuPy (GPU) arrays, equal to
that implementation's output (float32, relative error <= 1e-4). PyTorch is never needed
at inference time.

>>> import numpy as np, opzoo.nn
>>> from opzoo.nn.efficientnet import random_state_dict
>>> model = opzoo.nn.EfficientNet.from_state_dict(random_state_dict("efficientnet_b0"), "efficientnet_b0")
>>> model.features(np.zeros((2, 3, 64, 64), np.float32)).shape
(2, 1280, 2, 2)
"""

from .cornernet import CenterNetDecoder, CenterPooling, CornerPooling
from .efficientnet import EfficientNet
from .graph import GATConv, GCNConv, SAGEConv
from .spiking import LIF, SpikingConvNet, SpikingMLP

__all__ = ["LIF", "CenterNetDecoder", "CenterPooling", "CornerPooling", "EfficientNet", "GATConv", "GCNConv", "SAGEConv",
           "SpikingConvNet", "SpikingMLP"]

"""opzoo: fast, tested kernels for the operators of recent neural-network architectures.

Every op takes NumPy arrays, PyTorch CPU tensors or any array with
``__array_interface__``/``__dlpack__``, and returns the caller's array type.

>>> import opzoo
>>> opzoo.info()["simd"] in {"avx512", "avx2", "neon", "scalar"}
True
"""

from ._runtime import get_num_threads, info, set_num_threads
from .ops.activation import bias_activation, bias_activation_backward
from .ops.corner_pool import (center_pool, center_pool_backward, corner_pool, corner_pool_backward, corner_pool_pair,
                              corner_pool_pair_backward)
from .ops.depthwise import depthwise_conv2d, depthwise_conv2d_backward
from .ops.graph import (Graph, aggregate, aggregate_backward, edge_softmax, edge_softmax_backward, sddmm,
                        sddmm_backward)
from .ops.heatmap_decode import heatmap_decode
from .ops.spiking import SpikingState, if_backward, if_forward, lif_backward, lif_forward
from .ops.squeeze_excite import squeeze_excite, squeeze_excite_backward

__version__ = info()["version"]

__all__ = [
    "Graph",
    "SpikingState",
    "aggregate",
    "aggregate_backward",
    "bias_activation",
    "bias_activation_backward",
    "center_pool",
    "center_pool_backward",
    "corner_pool",
    "corner_pool_backward",
    "corner_pool_pair",
    "corner_pool_pair_backward",
    "depthwise_conv2d",
    "depthwise_conv2d_backward",
    "edge_softmax",
    "edge_softmax_backward",
    "get_num_threads",
    "heatmap_decode",
    "if_backward",
    "if_forward",
    "info",
    "lif_backward",
    "lif_forward",
    "sddmm",
    "sddmm_backward",
    "set_num_threads",
    "squeeze_excite",
    "squeeze_excite_backward",
]

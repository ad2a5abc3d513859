"""The functional API, one module per op family."""

from .activation import bias_activation, bias_activation_backward
from .corner_pool import (center_pool, center_pool_backward, corner_pool, corner_pool_backward, corner_pool_pair,
                          corner_pool_pair_backward)
from .depthwise import depthwise_conv2d, depthwise_conv2d_backward
from .graph import (Graph, aggregate, aggregate_backward, edge_softmax, edge_softmax_backward, sddmm,
                    sddmm_backward)
from .heatmap_decode import heatmap_decode
from .spiking import SpikingState, if_backward, if_forward, lif_backward, lif_forward
from .squeeze_excite import squeeze_excite, squeeze_excite_backward

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
    "heatmap_decode",
    "if_backward",
    "if_forward",
    "lif_backward",
    "lif_forward",
    "sddmm",
    "sddmm_backward",
    "squeeze_excite",
    "squeeze_excite_backward",
]

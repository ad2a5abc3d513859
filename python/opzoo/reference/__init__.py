"""Plain NumPy implementations of every op: the executable specification the tests
compare the kernels against. Written for clarity, computed in float64."""

from .activation import bias_activation, bias_activation_backward
from .corner_pool import (center_pool, center_pool_backward, corner_pool, corner_pool_backward, corner_pool_pair,
                          corner_pool_pair_backward)
from .depthwise import depthwise_conv2d, depthwise_conv2d_backward
from .heatmap_decode import heatmap_decode
from .spiking import if_forward, lif_forward
from .squeeze_excite import squeeze_excite, squeeze_excite_backward

__all__ = [
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
    "heatmap_decode",
    "if_forward",
    "lif_forward",
    "squeeze_excite",
    "squeeze_excite_backward",
]

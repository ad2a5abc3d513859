"""Plain NumPy implementations of every op: the executable specification the tests
compare the kernels against. Written for clarity, computed in float64."""

from .activation import bias_activation, bias_activation_backward
from .depthwise import depthwise_conv2d, depthwise_conv2d_backward
from .squeeze_excite import squeeze_excite, squeeze_excite_backward

__all__ = [
    "bias_activation",
    "bias_activation_backward",
    "depthwise_conv2d",
    "depthwise_conv2d_backward",
    "squeeze_excite",
    "squeeze_excite_backward",
]

"""The functional API, one module per op family."""

from .depthwise import depthwise_conv2d, depthwise_conv2d_backward

__all__ = ["depthwise_conv2d", "depthwise_conv2d_backward"]

"""Convolutional building blocks of linksim's image networks (Keras 3, torch backend, ``channels_first``).

Shared by the downstream judge (:mod:`linksim.vision.resnet`) and the papers' image
transceivers (e.g. :mod:`linksim.systems.semcc.networks`).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch

from .._backend import ensure_keras_torch

ensure_keras_torch()
import keras  # noqa: E402
from keras import layers  # noqa: E402

CF = "channels_first"


def batch_norm() -> layers.BatchNormalization:
    """BatchNorm over the channel axis with moving statistics updated as in PyTorch
    (momentum 0.1, i.e. Keras momentum 0.9), so that short trainings converge."""
    return layers.BatchNormalization(axis=1, momentum=0.9)

def conv(filters: int, kernel: int, stride: int = 1, *, bias: bool = False, name: Optional[str] = None) -> layers.Conv2D:
    """A ``channels_first`` convolution with "same" padding (stride 2 halves H and W)."""
    return layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=bias, data_format=CF, name=name)

class ConvBnAct(keras.layers.Layer):
    """Convolution, BatchNorm, PReLU (one slope per channel)."""

    def __init__(self, filters: int, kernel: int, stride: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = conv(filters, kernel, stride)
        self.bn = batch_norm()
        self.act = layers.PReLU(shared_axes=[2, 3])

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        return self.act(self.bn(self.conv(x), training=training))

class BasicBlock(keras.layers.Layer):
    """ResNet basic block: two 3x3 convolutions with BatchNorm and a shortcut.

    :param filters: Output channels.
    :param stride: 2 halves the resolution (the shortcut then is a 1x1 convolution).
    :param activation: ``"relu"`` (ResNet-20) or ``"prelu"`` (SemCC transceiver).
    """

    def __init__(self, filters: int, stride: int = 1, activation: str = "relu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters, self.stride = filters, stride
        self.conv1, self.bn1 = conv(filters, 3, stride), batch_norm()
        self.conv2, self.bn2 = conv(filters, 3), batch_norm()
        make = (lambda: layers.PReLU(shared_axes=[2, 3])) if activation == "prelu" else (lambda: layers.ReLU())
        self.act1, self.act2 = make(), make()
        self.shortcut = None
        self.shortcut_bn = None

    def build(self, input_shape: Tuple[Any, ...]) -> None:
        if self.stride != 1 or input_shape[1] != self.filters:
            self.shortcut, self.shortcut_bn = conv(self.filters, 1, self.stride), batch_norm()

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        y = self.act1(self.bn1(self.conv1(x), training=training))
        y = self.bn2(self.conv2(y), training=training)
        skip = x if self.shortcut is None else self.shortcut_bn(self.shortcut(x), training=training)
        return self.act2(y + skip)

class PixelShuffle(keras.layers.Layer):
    """Depth to space by ``factor``: ``[N, C r^2, H, W] -> [N, C, H r, W r]``."""

    def __init__(self, factor: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pixel_shuffle(x, self.factor)

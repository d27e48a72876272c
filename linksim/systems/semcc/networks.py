"""Keras 3 networks of the SemCC paper's image transceiver (torch backend, ``channels_first``).

* :class:`SemanticEncoder` / :class:`SemanticDecoder`: Fig. 1 of the SemCC paper. The
  encoder is a 5x5 head convolution, two downsampling modules (a ResNet basic block,
  then a 4x4 convolution with stride 2) and a channel-coding module that emits ``k``
  complex symbols, power-normalized by eq. (2). The decoder mirrors it: a 3x3
  convolution from the received symbols, two upsampling modules (basic block, then a
  3x3 convolution to 4x the channels and a pixel shuffle by 2) and a 3x3 convolution
  with a sigmoid. Every convolution but the last is followed by BatchNorm and PReLU.
* :class:`ProjectionHead`: the 2-layer fully connected projection of SemCC/SemRE onto
  the unit hypersphere (output width 32 in the paper).

Shapes: images ``[N, C, H, W]`` float32 in [0, 1] (``H`` and ``W`` divisible by 4);
channel symbols ``[N, k, 2]`` float32 (real, imaginary), unit average energy.

The channel-coding module is a convolution to ``ceil(2k / (H/4 * W/4))`` feature
maps of ``H/4 x W/4``; the first ``2k`` of the flattened values form the ``k``
complex symbols (so any ``k`` is possible, e.g. ``k = round(3072 / 2.5) = 1229``). The
decoder scatters the ``2k`` received values back into the same layout, zeros in the
unused tail. The downstream judge is :class:`linksim.vision.resnet.ResNet20`.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch

from ..._backend import ensure_keras_torch
from ...layers.power import PowerNormalization
from ...vision.blocks import BasicBlock, ConvBnAct, PixelShuffle, conv

ensure_keras_torch()
import keras  # noqa: E402
from keras import layers  # noqa: E402


def latent_layout(k: int, image_shape: Sequence[int]) -> Tuple[int, int, int]:
    """``(maps, H/4, W/4)``: feature maps the channel-coding module needs for ``k`` symbols."""
    h, w, _ = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"image height and width must be multiples of 4, got {h}x{w}")
    hq, wq = h // 4, w // 4
    return math.ceil(2 * k / (hq * wq)), hq, wq

class SemanticEncoder(keras.Model):
    """Fig. 1 encoder: images ``[N, C, H, W]`` in [0, 1] -> symbols ``[N, k, 2]``, unit energy.

    :param k: Complex channel uses per image.
    :param image_shape: ``(H, W, C)``.
    :param width: Feature maps of the head and downsampling modules.
    """

    #: Values the channel-coding module emits per real channel value (2 for a mean and a
    #: spread, as in :class:`linksim.systems.scu.networks.VibEncoder`).
    values_per_latent: int = 1

    def __init__(self, k: int, image_shape: Sequence[int], width: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k, self.image_shape, self.width = int(k), tuple(image_shape), int(width)
        maps, _, _ = latent_layout(self.k, self.image_shape)
        self.head = ConvBnAct(width, 5)
        self.res1, self.down1 = BasicBlock(width, activation="prelu"), ConvBnAct(width, 4, 2)
        self.res2, self.down2 = BasicBlock(width, activation="prelu"), ConvBnAct(width, 4, 2)
        self.coding = conv(maps * self.values_per_latent, 3, bias=True)
        self.power = PowerNormalization()

    def coded(self, x: Any, training: Optional[bool] = None) -> Any:
        """The channel-coding module's maps ``[N, maps * values_per_latent, H/4, W/4]`` of ``x``."""
        z = self.head(x * 2.0 - 1.0, training=training)
        z = self.down1(self.res1(z, training=training), training=training)
        z = self.down2(self.res2(z, training=training), training=training)
        return self.coding(z)

    def symbols(self, values: Any) -> Any:
        """``[N, >= 2k]`` real values -> ``[N, k, 2]`` power-normalised symbols (eq. 2), first ``2k`` used."""
        values = torch.reshape(values, (values.shape[0], -1))[:, : 2 * self.k]
        return self.power(torch.reshape(values, (values.shape[0], self.k, 2)))

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        return self.symbols(self.coded(x, training=training))

class SemanticDecoder(keras.Model):
    """Fig. 1 decoder: received symbols ``[N, k, 2]`` -> images ``[N, C, H, W]`` in [0, 1]."""

    def __init__(self, k: int, image_shape: Sequence[int], width: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k, self.image_shape, self.width = int(k), tuple(image_shape), int(width)
        self.maps, self.hq, self.wq = latent_layout(self.k, self.image_shape)
        channels = self.image_shape[2]
        self.head = ConvBnAct(width, 3)
        self.res1, self.up1, self.shuffle1 = BasicBlock(width, activation="prelu"), ConvBnAct(4 * width, 3), PixelShuffle(2)
        self.res2, self.up2, self.shuffle2 = BasicBlock(width, activation="prelu"), ConvBnAct(4 * width, 3), PixelShuffle(2)
        self.tail = conv(channels, 3, bias=True)

    def call(self, s: Any, training: Optional[bool] = None) -> Any:
        flat = torch.reshape(s, (s.shape[0], 2 * self.k))
        pad = self.maps * self.hq * self.wq - 2 * self.k
        if pad:
            flat = torch.nn.functional.pad(flat, (0, pad))
        z = torch.reshape(flat, (s.shape[0], self.maps, self.hq, self.wq))
        z = self.head(z, training=training)
        z = self.shuffle1(self.up1(self.res1(z, training=training), training=training))
        z = self.shuffle2(self.up2(self.res2(z, training=training), training=training))
        return torch.sigmoid(self.tail(z))

class ProjectionHead(keras.Model):
    """Two dense layers (ReLU between) and L2 normalization: ``[N, d] -> [N, out]`` on the unit sphere."""

    def __init__(self, hidden: int, out: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1, self.fc2 = layers.Dense(hidden, activation="relu"), layers.Dense(out)

    def call(self, f: Any) -> Any:
        return torch.nn.functional.normalize(self.fc2(self.fc1(f)), dim=-1)

class Transceiver(keras.Model):
    """An encoder and its decoder, saved and loaded together (one weights file)."""

    def __init__(self, encoder: SemanticEncoder, decoder: SemanticDecoder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder

    def reconstruct(self, x: Any, channel: Any, training: Optional[bool] = None) -> Any:
        """``x [N, C, H, W] -> x_hat [N, C, H, W]`` through ``channel`` (a :class:`~linksim.layers.ChannelLayer`)."""
        return self.decoder(channel(self.encoder(x, training=training), training=training), training=training)

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        """Noiseless round trip ``x -> x_hat`` (for summaries; links use :meth:`reconstruct`)."""
        return self.decoder(self.encoder(x, training=training), training=training)

def build_transceiver(k: int, image_shape: Sequence[int], width: int) -> Transceiver:
    """A built (weights created) :class:`Transceiver` for ``k`` symbols per ``(H, W, C)`` image."""
    h, w, c = image_shape
    model = Transceiver(SemanticEncoder(k, image_shape, width), SemanticDecoder(k, image_shape, width))
    model(np.zeros((2, c, h, w), np.float32), training=False)
    return model

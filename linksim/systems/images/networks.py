"""Keras 3 networks of the image links (torch backend, ``channels_first`` throughout).

* :class:`SemanticEncoder` / :class:`SemanticDecoder`: Fig. 1 of the SemCC paper. The
  encoder is a 5x5 head convolution, two downsampling modules (a ResNet basic block,
  then a 4x4 convolution with stride 2) and a channel-coding module that emits ``k``
  complex symbols, power-normalized by eq. (2). The decoder mirrors it: a 3x3
  convolution from the received symbols, two upsampling modules (basic block, then a
  3x3 convolution to 4x the channels and a pixel shuffle by 2) and a 3x3 convolution
  with a sigmoid. Every convolution but the last is followed by BatchNorm and PReLU.
* :class:`ResNet20`: the downstream classifier (He et al. 2016, CIFAR variant:
  3 stages x 3 basic blocks, widths 16/32/64) split into a ``backbone`` (features
  ``[N, 64]`` after global average pooling) and a linear ``classifier``.
* :class:`ProjectionHead`: the 2-layer fully connected projection of SemCC/SemRE onto
  the unit hypersphere (output width 32 in the paper).

Shapes: images ``[N, C, H, W]`` float32 in [0, 1] (``H`` and ``W`` divisible by 4);
channel symbols ``[N, k, 2]`` float32 (real, imaginary), unit average energy.

The channel-coding module is a convolution to ``ceil(2k / (H/4 * W/4))`` feature
maps of ``H/4 x W/4``; the first ``2k`` of the flattened values form the ``k``
complex symbols (so any ``k`` is possible, e.g. ``k = round(3072 / 2.5) = 1229``). The
decoder scatters the ``2k`` received values back into the same layout, zeros in the
unused tail.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from ..._backend import ensure_keras_torch
from ...layers.power import PowerNormalization

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

    def __init__(self, k: int, image_shape: Sequence[int], width: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k, self.image_shape, self.width = int(k), tuple(image_shape), int(width)
        maps, _, _ = latent_layout(self.k, self.image_shape)
        self.head = ConvBnAct(width, 5)
        self.res1, self.down1 = BasicBlock(width, activation="prelu"), ConvBnAct(width, 4, 2)
        self.res2, self.down2 = BasicBlock(width, activation="prelu"), ConvBnAct(width, 4, 2)
        self.coding = conv(maps, 3, bias=True)
        self.power = PowerNormalization()

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        z = self.head(x * 2.0 - 1.0, training=training)
        z = self.down1(self.res1(z, training=training), training=training)
        z = self.down2(self.res2(z, training=training), training=training)
        z = self.coding(z)
        z = torch.reshape(z, (z.shape[0], -1))[:, : 2 * self.k]
        return self.power(torch.reshape(z, (z.shape[0], self.k, 2)))


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


class ResNet20(keras.Model):
    """ResNet-20 for small images: ``backbone(x) -> [N, 4 w]`` features, ``call(x) -> [N, classes]`` logits.

    Inputs are images ``[N, C, H, W]`` in [0, 1]; they are standardized with the
    per-channel ``mean``/``std`` of the training data (stored in the config).

    :param num_classes: Output logits.
    :param mean: Per-channel mean of the training images (in [0, 1]).
    :param std: Per-channel standard deviation.
    :param width: Width of the first stage (16 in ResNet-20); stages use w, 2w, 4w.
    :param blocks: Basic blocks per stage (3 in ResNet-20: 6*3+2 = 20 layers).
    """

    def __init__(self, num_classes: int, mean: Sequence[float], std: Sequence[float], width: int = 16,
                 blocks: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.width, self.blocks = int(num_classes), int(width), int(blocks)
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]
        self.stem = conv(width, 3)
        self.stem_bn = batch_norm()
        self.stages = [BasicBlock(width * 2 ** s, stride=2 if (s > 0 and b == 0) else 1)
                       for s in range(3) for b in range(blocks)]
        self.classifier = layers.Dense(num_classes)

    @property
    def feature_width(self) -> int:
        return 4 * self.width

    def backbone(self, x: Any, training: Optional[bool] = None) -> Any:
        """Features ``[N, 4 width]`` (global average pool of the last stage)."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
        z = torch.relu(self.stem_bn(self.stem((x - mean) / std), training=training))
        for block in self.stages:
            z = block(z, training=training)
        return torch.mean(z, dim=(2, 3))

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        return self.classifier(self.backbone(x, training=training))

    def get_config(self) -> Dict[str, Any]:
        return {"num_classes": self.num_classes, "mean": self.mean, "std": self.std, "width": self.width,
                "blocks": self.blocks}


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

"""Networks of the privacy-ToSC transceivers (Keras 3 on torch, ``channels_first``).

One backbone for every scheme, so that differences come from the privacy mechanism
(``../shared/notes/privacy-tosc-analysis.md`` section 2):

* the transmitter is the SemCC paper's :class:`~linksim.systems.semcc.networks.SemanticEncoder`
  (``k`` power-normalised complex symbols per image; for LBVQ ``k d / 2`` values read as
  ``k`` latent vectors of ``d``);
* the receiver is a :class:`TaskHead`: the received values on the encoder's ``H/4 x W/4``
  grid, a 3x3 convolution, a basic block, a strided basic block, global pooling and a
  dense layer to the class logits (it classifies the symbols, it does not reconstruct);
* the model-inversion attacker (and IBAL's simulated adversary) is a
  :class:`~linksim.systems.semcc.networks.SemanticDecoder` on what the eavesdropper
  receives.

Shapes: images ``[N, C, H, W]`` float32 in [0, 1]; symbols ``[N, k, 2]`` float32;
LBVQ latents ``[N, k, d]``; logits ``[N, classes]``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..._backend import ensure_keras_torch
from ...vision.blocks import BasicBlock, ConvBnAct
from ..mvqvae.codebook import VectorQuantizer
from ..semcc.networks import SemanticDecoder, SemanticEncoder, latent_layout

ensure_keras_torch()
import keras  # noqa: E402
from keras import layers  # noqa: E402


class TaskHead(keras.Model):
    """Received values ``[N, values, ...]`` (``values`` = ``2k`` reals in all) -> logits ``[N, classes]``.

    :param values: Real values per message (``2k``, or ``k d`` for LBVQ codewords).
    :param image_shape: ``(H, W, C)``: the values are laid on the encoder's ``H/4 x W/4`` grid.
    :param classes: Logits.
    :param width: Feature maps (``2 width`` after the strided block).
    """

    def __init__(self, values: int, image_shape: Sequence[int], classes: int, width: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values, self.image_shape, self.classes, self.width = int(values), tuple(image_shape), int(classes), int(width)
        self.maps, self.hq, self.wq = latent_layout((self.values + 1) // 2, self.image_shape)
        self.head = ConvBnAct(width, 3)
        self.block1 = BasicBlock(width, activation="prelu")
        self.block2 = BasicBlock(2 * width, stride=2, activation="prelu")
        self.out = layers.Dense(self.classes)

    def call(self, s: Any, training: Optional[bool] = None) -> Any:
        flat = torch.reshape(s, (s.shape[0], -1))
        pad = self.maps * self.hq * self.wq - flat.shape[1]
        if pad:
            flat = torch.nn.functional.pad(flat, (0, pad))
        z = torch.reshape(flat, (s.shape[0], self.maps, self.hq, self.wq))
        z = self.block2(self.block1(self.head(z, training=training), training=training), training=training)
        return self.out(torch.mean(z, dim=(2, 3)))


class PrivacyTransceiver(keras.Model):
    """Encoder and task head (and for LBVQ the codebook), saved and loaded together.

    :param k: Complex channel uses per image (128 at the paper's settings).
    :param image_shape: ``(H, W, C)``.
    :param classes: Task classes.
    :param width: Feature maps of encoder and head.
    :param codebook: ``(K, d)`` for LBVQ: ``k`` latents of ``d`` values, each sent as one of ``K`` indices.
    """

    def __init__(self, k: int, image_shape: Sequence[int], classes: int, width: int = 16,
                 codebook: Optional[Sequence[int]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = int(k)
        self.codebook_shape = tuple(codebook) if codebook else None
        dim = self.codebook_shape[1] if self.codebook_shape else 2
        self.encoder = SemanticEncoder((self.k * dim + 1) // 2, image_shape, width)
        self.quantizer = VectorQuantizer(*self.codebook_shape) if self.codebook_shape else None
        self.head = TaskHead(self.k * dim, image_shape, classes, width)

    def build(self, input_shape: Any) -> None:
        """Nothing to create here: the sub-layers build on the first call (the codebook in its constructor)."""

    @property
    def latent_dim(self) -> int:
        """Values per transmitted unit: 2 (a complex symbol) or ``d`` (an LBVQ latent)."""
        return self.codebook_shape[1] if self.codebook_shape else 2

    def latents(self, x: Any, training: Optional[bool] = None) -> Any:
        """``[N, k, latent_dim]``: the power-normalised symbols, or LBVQ's unquantised latents."""
        if self.quantizer is None:
            return self.encoder(x, training=training)
        values = torch.reshape(self.encoder.coded(x, training=training), (x.shape[0], -1))
        return torch.reshape(values[:, : self.k * self.latent_dim], (x.shape[0], self.k, self.latent_dim))

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        """Noiseless logits (builds every weight)."""
        z = self.latents(x, training=training)
        if self.quantizer is not None:
            z, _ = self.quantizer(z)
        return self.head(z, training=training)


def build_transceiver(k: int, image_shape: Sequence[int], classes: int, width: int,
                      codebook: Optional[Sequence[int]] = None) -> PrivacyTransceiver:
    """A built :class:`PrivacyTransceiver` (weights created)."""
    h, w, c = image_shape
    model = PrivacyTransceiver(k, image_shape, classes, width, codebook)
    model(np.zeros((2, c, h, w), np.float32), training=False)
    return model


def build_inverter(values: int, image_shape: Sequence[int], width: int) -> SemanticDecoder:
    """A built model-inversion network: ``values`` received reals per image -> images ``[N, C, H, W]``."""
    k = (values + 1) // 2
    model = SemanticDecoder(k, image_shape, width)
    model(np.zeros((2, k, 2), np.float32), training=False)
    return model


def build_task_head(values: int, image_shape: Sequence[int], classes: int, width: int) -> TaskHead:
    """A built :class:`TaskHead` on ``values`` received reals per image (e.g. an attribute attacker)."""
    model = TaskHead(values, image_shape, classes, width)
    model(np.zeros((2, (values + 1) // 2, 2), np.float32), training=False)
    return model

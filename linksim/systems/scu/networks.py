"""The SCU paper's semantic codec: a variational-information-bottleneck (VIB) encoder and a decoder.

linksim's Fig. 1 convolutional trunk of the SemCC transceiver
(:class:`~linksim.systems.semcc.networks.SemanticEncoder` /
:class:`~linksim.systems.semcc.networks.SemanticDecoder`) with a VIB head: the
channel-coding module emits, per real channel value, a mean ``mu`` and a spread
``sigma = softplus(raw)`` (the authors' code), ``z = mu + sigma * eps`` is drawn by
reparameterisation, power-normalised to unit energy per complex symbol, sent through a
:class:`~linksim.layers.ChannelLayer` and decoded.

Shapes: images ``[N, C, H, W]`` in [0, 1]; ``mu``, ``logvar`` ``[N, 2k]``; channel
symbols ``[N, k, 2]`` (real, imaginary).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch

from ..._backend import ensure_keras_torch
from ..semcc.networks import SemanticDecoder, SemanticEncoder

ensure_keras_torch()
import keras  # noqa: E402


class VibEncoder(SemanticEncoder):
    """Images -> ``(mu, logvar)`` of the latent Gaussian, ``[N, 2k]`` each (before power normalisation)."""

    values_per_latent = 2

    def build(self, input_shape: Any) -> None:
        """Nothing to create here: the sub-layers create their weights on the first call."""

    def call(self, x: Any, training: Optional[bool] = None) -> Tuple[Any, Any]:
        maps = self.coded(x, training=training)
        half = maps.shape[1] // 2
        mu = torch.reshape(maps[:, :half], (maps.shape[0], -1))[:, : 2 * self.k]
        raw = torch.reshape(maps[:, half:], (maps.shape[0], -1))[:, : 2 * self.k]
        sigma = torch.nn.functional.softplus(raw)
        return mu, 2.0 * torch.log(sigma + 1e-8)


class VibCodec(keras.Model):
    """A :class:`VibEncoder` and its decoder, saved and loaded together (one weights file)."""

    def __init__(self, encoder: VibEncoder, decoder: SemanticDecoder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder

    @staticmethod
    def sample(mu: Any, logvar: Any) -> Any:
        """``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` from torch's global generator."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def transmit(self, x: Any, channel: Any, *, training: Optional[bool] = None, sample: bool = True
                 ) -> Tuple[Any, Any, Any]:
        """``x -> (received [N, k, 2], mu, logvar)``: encode, draw ``z`` (or take ``mu``), normalise, send."""
        mu, logvar = self.encoder(x, training=training)
        z = self.sample(mu, logvar) if sample else mu
        return channel(self.encoder.symbols(z), training=training), mu, logvar

    def reconstruct(self, x: Any, channel: Any, *, training: Optional[bool] = None, sample: bool = True
                    ) -> Tuple[Any, Any, Any, Any]:
        """``x -> (x_hat, received, mu, logvar)`` through ``channel``."""
        received, mu, logvar = self.transmit(x, channel, training=training, sample=sample)
        return self.decoder(received, training=training), received, mu, logvar

    def call(self, x: Any, training: Optional[bool] = None) -> Any:
        """Noiseless round trip from the mean latent (for summaries and building)."""
        mu, _ = self.encoder(x, training=training)
        return self.decoder(self.encoder.symbols(mu), training=training)


def build_vib_codec(k: int, image_shape: Sequence[int], width: int) -> VibCodec:
    """A built (weights created) :class:`VibCodec` for ``k`` complex symbols per ``(H, W, C)`` image."""
    h, w, c = image_shape
    codec = VibCodec(VibEncoder(k, image_shape, width), SemanticDecoder(k, image_shape, width))
    codec(np.zeros((2, c, h, w), np.float32), training=False)
    return codec

"""Networks of the masked VQ-VAE (paper Secs. III-IV, Fig. 2-3) and its JSCC-ViT baseline.

Keras 3 layers on the PyTorch backend, written with torch operations. Shapes: images
``[B, C, H, W]`` in [0, 1]; ``N = (H / P) (W / P)`` patch positions; ``K`` kept positions
per image (``positions`` ``[B, K]`` int64, ascending); ``w`` the ViT width; ``D`` the
codebook dimension; ``classes`` the task's classes.

* :func:`patchify` / :func:`unpatchify`: images <-> ``[B, N, P P C]`` patch vectors.
* :class:`MaskedViTEncoder`: linear patch embedding plus learned positions, pre-LN
  Transformer blocks (:class:`~linksim.layers.transformer.TransformerBlock`) over the kept
  patches only, an optional :class:`FeatureImportance` module on the last block's output
  (before the final LayerNorm, after which every token's mean, eq. (13)'s activation, is
  the same learned constant), the LayerNorm and a linear projection to the codebook
  dimension: ``z_e`` ``[B, K, D]``.
* :class:`FeatureImportance` (eqs. 13-16): GAP per token (13), the SNR ``mu`` prepended,
  one linear layer ``W`` ``[classes, N + 1]`` giving the auxiliary prediction ``p`` (15);
  the per-position importance ``w_n = mean_c W[c, n]`` (14), a softmax over the kept
  positions scaled by ``K`` (mean weight 1; the literal softmax would shrink every token
  by ``1 / K``), reweighting each token. As the paper writes eq. (14), the weights do not
  depend on the input; ``mu`` and the GAP reach only the auxiliary loss.
* :class:`TaskReceiver`: the received codebook vectors at their positions, a learned mask
  token elsewhere, learned positions added, then the paper's three fully connected layers
  on the flattened ``N x D`` grid (so any masking ratio fits the same receiver).
* :class:`MaskedVQVAE`: encoder, :class:`~.codebook.VectorQuantizer` and receiver in one
  weights file; :class:`JsccViT`: the same encoder without masking, one complex channel
  symbol per token through a differentiable channel, and the same receiver;
  :class:`ViTClassifier`: the same encoder without masking, FIM or channel, and the same
  receiver, classifying the images the digital baseline (:mod:`.digital`) decodes.
* :class:`ReconstructionDecoder` (Fig. 11(b)): an MAE-style decoder from the receiver's token
  grid (the received codebook vectors at the kept positions, a learned mask token elsewhere,
  learned positions) through pre-LN Transformer blocks to pixels. Trained after the
  classifier, with the transmitter, codebook and receiver frozen, in its own weights file
  (:func:`~.training.train_reconstruction_decoder`); from scratch, or started from the
  pre-training decoder.
* :class:`MaskedAutoencoder`: the MAE pre-training model (encoder without FIM, codebook,
  reconstruction decoder); :func:`transfer_pretrained` starts a :class:`MaskedVQVAE` from it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..._backend import ensure_keras_torch
from ...layers import ChannelLayer, PowerNormalization
from ...layers.transformer import TransformerBlock
from .codebook import VectorQuantizer
from .symbols import patch_grid

ensure_keras_torch()
import keras  # noqa: E402


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B, N, P P C]``, positions row by row, values (row, column, channel)."""
    b, c, h, w = images.shape
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def unpatchify(tokens: torch.Tensor, patch: int, shape: Tuple[int, int, int]) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``[B, N, P P C]`` -> ``[B, C, H, W]`` for ``shape = (C, H, W)``."""
    c, h, w = shape
    b = tokens.shape[0]
    x = tokens.reshape(b, h // patch, w // patch, patch, patch, c)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)


def resize_images(images: torch.Tensor, size: Optional[int]) -> torch.Tensor:
    """``[B, C, H, W]`` in [0, 1] -> ``[B, C, size, size]``: bicubic (clipped to [0, 1]) when
    enlarging, area averaging when shrinking; unchanged when ``size`` is None or already the
    images' size. Differentiable (attacks pass through it)."""
    if size is None or tuple(images.shape[-2:]) == (size, size):
        return images
    if size >= max(images.shape[-2:]):
        return torch.nn.functional.interpolate(images, size=(size, size), mode="bicubic",
                                               align_corners=False).clamp(0.0, 1.0)
    return torch.nn.functional.interpolate(images, size=(size, size), mode="area")


def gather_tokens(tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``[B, N, d]`` at ``[B, K]`` positions -> ``[B, K, d]``."""
    return torch.gather(tokens, 1, positions.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def scatter_tokens(kept: torch.Tensor, positions: torch.Tensor, num_positions: int,
                   fill: torch.Tensor) -> torch.Tensor:
    """``[B, K, d]`` placed at ``positions`` of an ``[B, N, d]`` grid whose other rows are ``fill`` ``[d]``."""
    b, _, d = kept.shape
    grid = fill.reshape(1, 1, d).expand(b, num_positions, d)
    return torch.scatter(grid, 1, positions.unsqueeze(-1).expand(-1, -1, d), kept)


def all_positions(batch: int, num_positions: int, device: Any = "cpu") -> torch.Tensor:
    """``[B, N]``: every position kept (no masking)."""
    return torch.arange(num_positions, device=device).unsqueeze(0).expand(batch, -1)


def transformer_trunk(layer: keras.layers.Layer, num_positions: int, width: int, depth: int, heads: int,
                      mlp_ratio: int = 2) -> Tuple[Any, List["TransformerBlock"], keras.layers.LayerNormalization]:
    """The ViT trunk of ``layer``, built: learned positions ``[num_positions, width]`` (a weight
    of ``layer``), ``depth`` transformer blocks of MLP width ``mlp_ratio width`` and the final LayerNorm."""
    position = layer.add_weight(shape=(num_positions, width), name="position",
                                initializer=keras.initializers.RandomNormal(stddev=0.02))
    blocks = [TransformerBlock(width, heads, mlp_ratio * width, name=f"block{i}") for i in range(depth)]
    for block in blocks:
        block.build((None, None, width))
    norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
    norm.build((None, None, width))
    return position, blocks, norm


class FeatureImportance(keras.layers.Layer):
    """The feature importance module (FIM), eqs. (13)-(16), one per encoder (after its last block).

    :param num_positions: ``N``. :param classes: ``C``, outputs of the auxiliary prediction.

    :input tokens: ``[B, K, w]``; :input positions: ``[B, K]``; :input mu: ``[B]`` the SNR input.
    :output: ``(reweighted [B, K, w], auxiliary logits [B, C])``.
    """

    def __init__(self, num_positions: int, classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_positions, self.classes = int(num_positions), int(classes)
        self.auxiliary = keras.layers.Dense(self.classes, name="auxiliary")
        self.auxiliary.build((None, self.num_positions + 1))

    def importance(self) -> torch.Tensor:
        """Eq. (14): ``w_n = (1 / C) sum_c W[c, n]`` for n = 1..N, ``[N]`` (the SNR column excluded)."""
        return self.auxiliary.kernel.value[1:].mean(-1)

    def call(self, tokens: Any, positions: Any, mu: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        pooled = tokens.mean(-1)  # eq. (13), [B, K]
        grid = torch.zeros(tokens.shape[0], self.num_positions, dtype=tokens.dtype, device=tokens.device)
        grid = grid.scatter(1, positions, pooled)
        activation = torch.cat([mu.reshape(-1, 1).to(tokens.dtype), grid], dim=-1)  # [B, N + 1]
        logits = self.auxiliary(activation)
        weights = torch.softmax(self.importance()[positions], dim=-1) * positions.shape[-1]  # [B, K]
        return tokens * weights.unsqueeze(-1), logits


class MaskedViTEncoder(keras.layers.Layer):
    """Patches at the kept positions -> ``z_e`` ``[B, K, out_dim]`` (and the FIM's auxiliary logits).

    :param image_shape: ``(H, W, C)``. :param patch: ``P``. :param width, depth, heads: the ViT.
    :param out_dim: ``D`` (codebook dimension) or 2 (one complex symbol per token, JSCC-ViT).
    :param classes: the task's classes (for the FIM). :param fim: insert the FIM.
    :param input_size: the ViT sees the images resized to ``input_size x input_size``
        (:func:`resize_images`; the paper's CIFAR-10 at 224); None: as they are.
    :param mlp_ratio: each block's MLP width over ``width`` (2; ViT-B's 4 at the paper preset).
    """

    def __init__(self, image_shape: Tuple[int, int, int], patch: int, width: int, depth: int, heads: int,
                 out_dim: int, classes: int, fim: bool = False, input_size: Optional[int] = None,
                 mlp_ratio: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        c = image_shape[2]
        rows, cols = patch_grid(image_shape, patch, input_size)
        self.patch, self.num_positions, self.input_size = int(patch), rows * cols, input_size
        self.embed = keras.layers.Dense(width, name="embed")
        self.embed.build((None, patch * patch * c))
        self.position, self.blocks, self.norm = transformer_trunk(self, self.num_positions, width, depth, heads,
                                                                  mlp_ratio)
        self.fim = FeatureImportance(self.num_positions, classes, name="fim") if fim else None
        self.project = keras.layers.Dense(out_dim, name="project")
        self.project.build((None, None, width))

    def features(self, images: Any, positions: Any, mu: Any = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``(tokens [B, K, w], FIM logits or None)``: the last block's output at the kept
        positions, reweighted by the FIM when there is one (before the final LayerNorm; Fig. 9's
        activation of position ``n`` is its token's mean over the ``w`` values, eq. 13)."""
        tokens = self.embed(patchify(resize_images(images, self.input_size), self.patch)) + self.position.value
        x = gather_tokens(tokens, positions)
        for block in self.blocks:
            x = block(x)
        aux = None
        if self.fim is not None:  # on the last block's output: after the LayerNorm every token's mean is ~beta
            if mu is None:
                mu = torch.zeros(x.shape[0], device=x.device)
            x, aux = self.fim(x, positions, mu)
        return x, aux

    def call(self, images: Any, positions: Any, mu: Any = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        x, aux = self.features(images, positions, mu)
        return self.project(self.norm(x)), aux


def build_encoder(image_shape: Tuple[int, int, int], config: Dict[str, Any], out_dim: int, classes: int,
                  fim: bool) -> MaskedViTEncoder:
    """The :class:`MaskedViTEncoder` of ``config`` (``patch``, ``width``, ``depth``, ``heads`` and the
    optional ``image_size`` and ``mlp_ratio``) with ``out_dim`` values per token."""
    return MaskedViTEncoder(image_shape, config["patch"], config["width"], config["depth"], config["heads"], out_dim,
                            classes, fim=fim, input_size=config.get("image_size"),
                            mlp_ratio=config.get("mlp_ratio", 2), name="encoder")


class TaskReceiver(keras.layers.Layer):
    """Received vectors at their positions + mask token elsewhere + positions -> 3 FC layers -> logits.

    :input received: ``[B, K, D]``; :input positions: ``[B, K]``.
    :output: logits ``[B, classes]`` (:meth:`features`: the ``[B, hidden]`` penultimate layer).
    """

    def __init__(self, num_positions: int, dim: int, hidden: int, classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_positions, self.dim = int(num_positions), int(dim)
        self.mask_token = self.add_weight(shape=(dim,), name="mask_token",
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.position = self.add_weight(shape=(num_positions, dim), name="position",
                                        initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.fc1 = keras.layers.Dense(hidden, activation="relu", name="fc1")
        self.fc1.build((None, num_positions * dim))
        self.fc2 = keras.layers.Dense(hidden, activation="relu", name="fc2")
        self.fc2.build((None, hidden))
        self.out = keras.layers.Dense(classes, name="out")
        self.out.build((None, hidden))

    def features(self, received: Any, positions: Any) -> torch.Tensor:
        grid = scatter_tokens(received, positions, self.num_positions, self.mask_token.value)
        grid = grid + self.position.value
        return self.fc2(self.fc1(grid.reshape(grid.shape[0], -1)))

    def call(self, received: Any, positions: Any) -> torch.Tensor:
        return self.out(self.features(received, positions))


class MaskedVQVAE(keras.Model):
    """Transmitter (:class:`MaskedViTEncoder`), shared codebook and :class:`TaskReceiver`.

    The digital link between them (indices -> bits -> 16-QAM -> channel -> indices) is
    :class:`~.index_link.IndexLink`, outside the model: :meth:`logits_from_indices` decodes
    received indices, :meth:`noiseless_logits` skips the channel (for attacks and training
    targets).
    """

    def __init__(self, image_shape: Tuple[int, int, int], config: Dict[str, Any], classes: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = dict(config)
        self.encoder = build_encoder(image_shape, config, config["codebook_dim"], classes, config["fim"])
        self.quantizer = VectorQuantizer(config["codebook_size"], config["codebook_dim"], name="quantizer")
        self.receiver = TaskReceiver(self.encoder.num_positions, config["codebook_dim"], config["hidden"], classes,
                                     name="receiver")

    def build(self, input_shape: Any) -> None:
        """Nothing to create here: the sub-layers are built in ``__init__``."""

    @property
    def num_positions(self) -> int:
        return self.encoder.num_positions

    def encode(self, images: Any, positions: Any, mu: Any = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``(z_e [B, K, D], FIM logits or None)``."""
        return self.encoder(images, positions, mu)

    def logits_from_vectors(self, vectors: Any, positions: Any) -> torch.Tensor:
        return self.receiver(vectors, positions)

    def logits_from_indices(self, indices: Any, positions: Any) -> torch.Tensor:
        """Decode received ``[B, K]`` indices (no gradient to the transmitter)."""
        return self.receiver(self.quantizer.lookup(indices), positions)

    def features_from_indices(self, indices: Any, positions: Any) -> torch.Tensor:
        """The receiver's penultimate features ``[B, hidden]`` of received ``[B, K]`` indices
        (the retrieval embedding; ``receiver.out`` of them gives :meth:`logits_from_indices`)."""
        return self.receiver.features(self.quantizer.lookup(indices), positions)

    def noiseless_logits(self, images: Any, positions: Any, mu: Any = None) -> torch.Tensor:
        """Images -> logits with an ideal link (quantiser by straight-through gradients)."""
        z_e, _ = self.encode(images, positions, mu)
        z_q, _ = self.quantizer(z_e)
        return self.receiver(z_q, positions)

    def call(self, images: Any) -> torch.Tensor:
        return self.noiseless_logits(images, all_positions(images.shape[0], self.num_positions, images.device))


class JsccViT(keras.Model):
    """JSCC-ViT baseline: the ViT encoder (no masking, no codebook), one complex symbol per
    token, power normalisation, a differentiable channel and the same receiver.

    :param channel: a :class:`~linksim.layers.ChannelLayer` (its SNR can be overridden per call).
    """

    def __init__(self, image_shape: Tuple[int, int, int], config: Dict[str, Any], classes: int,
                 channel: Optional[ChannelLayer] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = dict(config)
        self.encoder = build_encoder(image_shape, config, 2, classes, config["fim"])
        self.normalise = PowerNormalization(name="power")
        self.expand = keras.layers.Dense(config["codebook_dim"], name="expand")
        self.expand.build((None, None, 2))
        self.receiver = TaskReceiver(self.encoder.num_positions, config["codebook_dim"], config["hidden"], classes,
                                     name="receiver")
        self.channel = channel

    def build(self, input_shape: Any) -> None:
        """Nothing to create here: the sub-layers are built in ``__init__``."""

    @property
    def num_positions(self) -> int:
        return self.encoder.num_positions

    def symbols(self, images: Any, mu: Any = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``([B, N, 2]`` unit-power symbols, FIM logits or None)."""
        positions = all_positions(images.shape[0], self.num_positions, images.device)
        z, aux = self.encoder(images, positions, mu)
        return self.normalise(z), aux

    def logits_from_symbols(self, received: Any) -> torch.Tensor:
        positions = all_positions(received.shape[0], self.num_positions, received.device)
        return self.receiver(self.expand(received), positions)

    def features_from_symbols(self, received: Any) -> torch.Tensor:
        """The receiver's penultimate features ``[B, hidden]`` of received ``[B, N, 2]`` symbols."""
        positions = all_positions(received.shape[0], self.num_positions, received.device)
        return self.receiver.features(self.expand(received), positions)

    def logits(self, images: Any, snr_db: Any = None, ideal: bool = False, mu: Any = None) -> torch.Tensor:
        """Images -> logits through the channel (or an ideal link when ``ideal``)."""
        x, _ = self.symbols(images, mu)
        if not ideal:
            if self.channel is None:
                raise RuntimeError("JsccViT has no channel layer")
            x = self.channel(x, snr_db=snr_db)
        return self.logits_from_symbols(x)

    def call(self, images: Any) -> torch.Tensor:
        return self.logits(images, ideal=True)


class ViTClassifier(keras.Model):
    """The classifier at the receiver of the digital baseline (JPEG+LDPC): the ViT encoder
    over every patch (no masking, no FIM) projected to ``D`` per token, and the same
    :class:`TaskReceiver` head. The link is outside the model: it classifies decoded images.

    :input images: ``[B, C, H, W]`` in [0, 1]. :output: logits ``[B, classes]``.
    """

    def __init__(self, image_shape: Tuple[int, int, int], config: Dict[str, Any], classes: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = dict(config)
        self.encoder = build_encoder(image_shape, config, config["codebook_dim"], classes, False)
        self.receiver = TaskReceiver(self.encoder.num_positions, config["codebook_dim"], config["hidden"], classes,
                                     name="receiver")

    def build(self, input_shape: Any) -> None:
        """Nothing to create here: the sub-layers are built in ``__init__``."""

    @property
    def num_positions(self) -> int:
        return self.encoder.num_positions

    def call(self, images: Any) -> torch.Tensor:
        return self.receiver.out(self.features(images))

    def features(self, images: Any) -> torch.Tensor:
        """The receiver's penultimate features ``[B, hidden]`` of ``[B, C, H, W]`` images."""
        positions = all_positions(images.shape[0], self.num_positions, images.device)
        tokens, _ = self.encoder(images, positions)
        return self.receiver.features(tokens, positions)


class ReconstructionDecoder(keras.Model):
    """Received codebook vectors -> the image (Fig. 11(b)), MAE style.

    Each received vector ``[D]`` is embedded to the decoder width ``w``; the grid of all ``N``
    positions holds them at their kept positions and the decoder's own learned mask token
    elsewhere; learned positions are added; ``depth`` pre-LN Transformer blocks
    (:class:`~linksim.layers.transformer.TransformerBlock`, ``2 w`` feed-forward), a
    LayerNorm and a linear layer give each position's ``P P C`` pixel values, squashed to
    [0, 1] by a sigmoid and put back in place (:func:`unpatchify`).

    Also the decoder of the MAE pre-training (:class:`MaskedAutoencoder`). For Fig. 11(b) it
    learns from a classifier's frozen transmitter, codebook and link (so the classifier's
    weights do not change), from scratch or from the pre-training decoder.

    :param image_shape: ``(H, W, C)``. :param patch: ``P``. :param dim: ``D``, the codebook dimension.
    :param width, depth, heads: the decoder's Transformer.
    :param input_size: the encoder's ``input_size`` (the grid of ``input_size / P`` patches per
        side); the output is resized back to ``(H, W)`` (:func:`resize_images`, area).

    :input vectors: ``[B, K, D]`` received codebook vectors; :input positions: ``[B, K]`` int64.
    :output: images ``[B, C, H, W]`` in [0, 1].
    """

    def __init__(self, image_shape: Tuple[int, int, int], patch: int, dim: int, width: int, depth: int,
                 heads: int, input_size: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        h, w, c = image_shape
        self.image_shape, self.patch, self.input_size = (int(h), int(w), int(c)), int(patch), input_size
        rows, cols = patch_grid(self.image_shape, self.patch, input_size)
        self.grid = (rows * self.patch, cols * self.patch)
        self.num_positions = rows * cols
        self.embed = keras.layers.Dense(width, name="embed")
        self.embed.build((None, None, dim))
        self.mask_token = self.add_weight(shape=(width,), name="mask_token",
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.position, self.blocks, self.norm = transformer_trunk(self, self.num_positions, width, depth, heads)
        self.pixels = keras.layers.Dense(patch * patch * c, name="pixels")
        self.pixels.build((None, None, width))

    def build(self, input_shape: Any) -> None:
        """Nothing to create here: the sub-layers are built in ``__init__``."""

    def call(self, vectors: Any, positions: Any) -> torch.Tensor:
        grid = scatter_tokens(self.embed(vectors), positions, self.num_positions, self.mask_token.value)
        x = grid + self.position.value
        for block in self.blocks:
            x = block(x)
        pixels = torch.sigmoid(self.pixels(self.norm(x)))  # [B, N, P P C]
        h, w, c = self.image_shape
        images = unpatchify(pixels, self.patch, (c, *self.grid))
        if self.grid != (h, w):
            images = torch.nn.functional.interpolate(images, size=(h, w), mode="area")
        return images


class MaskedAutoencoder(keras.Model):
    """The MAE pre-training model (paper Sec. III-A, Fig. 2(a)): masked encoder, shared codebook
    and a reconstruction decoder, trained on image reconstruction before the task
    (:func:`~.training.train_masked_autoencoder`).

    The encoder has no FIM (the FIM is trained with the task, Algorithm 3 step 5), so one
    pre-training serves the models with and without it; :func:`transfer_pretrained` copies the
    encoder and codebook into a :class:`MaskedVQVAE` and :func:`transfer_decoder` the decoder
    into the :class:`ReconstructionDecoder` of Fig. 11(b).

    :param image_shape: ``(H, W, C)``. :param config: the masked VQ-VAE's architecture
        (``patch``, ``width``, ``depth``, ``heads``, ``codebook_dim``, ``codebook_size``).
    :param decoder: the decoder's ``width``, ``depth`` and ``heads``.
    :param classes: the task's classes (unused by the pre-training; kept for the encoder's signature).
    """

    def __init__(self, image_shape: Tuple[int, int, int], config: Dict[str, Any], decoder: Dict[str, Any],
                 classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config, self.decoder_config = dict(config), dict(decoder)
        self.encoder = build_encoder(image_shape, config, config["codebook_dim"], classes, False)
        self.quantizer = VectorQuantizer(config["codebook_size"], config["codebook_dim"], name="quantizer")
        self.decoder = ReconstructionDecoder(image_shape, config["patch"], config["codebook_dim"], decoder["width"],
                                             decoder["depth"], decoder["heads"], input_size=config.get("image_size"),
                                             name="decoder")

    def build(self, input_shape: Any) -> None:
        """Nothing to create here: the sub-layers are built in ``__init__``."""

    @property
    def num_positions(self) -> int:
        return self.encoder.num_positions

    def reconstruct(self, images: Any, positions: Any) -> torch.Tensor:
        """Images ``[B, C, H, W]`` -> their reconstruction ``[B, C, H, W]`` in [0, 1] from the
        patches at ``positions`` ``[B, K]`` with an ideal link (the codebook vectors of their
        tokens). Measured on MNIST: the decoder serves the masking ratio it was trained at; fed
        every patch (no mask token) it fails."""
        z_e, _ = self.encoder(images, positions)
        z_q, _ = self.quantizer(z_e)
        return self.decoder(z_q, positions)

    def call(self, images: Any) -> torch.Tensor:
        """:meth:`reconstruct` from every patch (builds the model; see its caveat)."""
        return self.reconstruct(images, all_positions(images.shape[0], self.num_positions, images.device))


def _copy_layer(source: keras.layers.Layer, target: keras.layers.Layer) -> None:
    target.set_weights(source.get_weights())


def transfer_pretrained(pretrained: MaskedAutoencoder, model: "MaskedVQVAE") -> None:
    """Start ``model``'s encoder (patch embedding, positions, blocks, LayerNorm, projection) and
    codebook from ``pretrained``'s; its FIM and task receiver keep their initial weights.

    :raises ValueError: the two architectures differ.
    """
    source, target = pretrained.encoder, model.encoder
    if len(source.blocks) != len(target.blocks) or tuple(source.position.shape) != tuple(target.position.shape) \
            or tuple(pretrained.quantizer.codebook.shape) != tuple(model.quantizer.codebook.shape):
        raise ValueError("the pre-trained masked autoencoder and the masked VQ-VAE differ in architecture")
    for a, b in [(source.embed, target.embed), *zip(source.blocks, target.blocks), (source.norm, target.norm),
                 (source.project, target.project), (pretrained.quantizer, model.quantizer)]:
        _copy_layer(a, b)
    target.position.assign(source.position.value)


def transfer_decoder(pretrained: MaskedAutoencoder, decoder: "ReconstructionDecoder") -> None:
    """Start ``decoder`` (Fig. 11(b)) from the pre-training decoder of ``pretrained``.

    :raises ValueError: the two decoders differ in architecture.
    """
    if [tuple(w.shape) for w in pretrained.decoder.weights] != [tuple(w.shape) for w in decoder.weights]:
        raise ValueError("the pre-training decoder and the reconstruction decoder differ in architecture")
    _copy_layer(pretrained.decoder, decoder)


def build_pretrainer(image_shape: Tuple[int, int, int], config: Dict[str, Any], decoder: Dict[str, Any],
                     classes: int) -> MaskedAutoencoder:
    """A built :class:`MaskedAutoencoder`."""
    h, w, c = image_shape
    model = MaskedAutoencoder(image_shape, config, decoder, classes)
    model(torch.as_tensor(np.zeros((2, c, h, w), np.float32)))
    return model


def build_decoder(image_shape: Tuple[int, int, int], patch: int, dim: int, config: Dict[str, Any],
                  input_size: Optional[int] = None) -> keras.Model:
    """A built :class:`ReconstructionDecoder` (``config``: ``width``, ``depth``, ``heads``; ``input_size``:
    the encoder's)."""
    decoder = ReconstructionDecoder(image_shape, patch, dim, config["width"], config["depth"], config["heads"],
                                    input_size=input_size)
    n = decoder.num_positions
    decoder(torch.zeros(1, n, dim), torch.arange(n).unsqueeze(0))
    return decoder


def build_model(kind: str, image_shape: Tuple[int, int, int], config: Dict[str, Any], classes: int,
                channel: Optional[ChannelLayer] = None) -> keras.Model:
    """A built ``mvqvae`` (:class:`MaskedVQVAE`), ``jscc`` (:class:`JsccViT`) or ``digital``
    (:class:`ViTClassifier`) model."""
    h, w, c = image_shape
    if kind == "mvqvae":
        model = MaskedVQVAE(image_shape, config, classes)
    elif kind == "jscc":
        model = JsccViT(image_shape, config, classes, channel)
    elif kind == "digital":
        model = ViTClassifier(image_shape, config, classes)
    else:
        raise ValueError(f"unknown model kind {kind!r}: mvqvae, jscc or digital")
    model(torch.as_tensor(np.zeros((2, c, h, w), np.float32)))
    return model

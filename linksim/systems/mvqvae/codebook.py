"""The shared discrete codebook of the masked VQ-VAE (paper Sec. III-B, eqs. 11-12, Fig. 10).

Each kept token ``z_e`` (``[..., D]``) is replaced by its nearest codebook vector
``e_j`` (eq. 11, squared Euclidean distance); the index ``j`` is what crosses the channel.
Gradients pass the quantiser straight through (``z_q = z_e + sg(e_j - z_e)``), so the
encoder receives the decoder's gradient unchanged. Eq. (12) adds the codebook term
``||sg(z_e) - e_j||^2`` (moves only the codebook) and the commitment term
``beta ||z_e - sg(e_j)||^2`` (moves only the encoder); ``beta = 0.25`` as in VQ-VAE.

The orthogonality term of Fig. 10 (:func:`orthogonality_loss`) is the mean squared
off-diagonal cosine similarity of the codebook vectors,
``(||E_n E_n^T||_F^2 - J) / (J (J - 1))`` with unit-norm rows ``E_n``: zero for
orthogonal vectors (possible when ``D >= J``), 1 for a codebook of one direction. It has
the minimisers of the paper's ``||E^T E||_F`` and a scale that does not grow with ``J``.
"""

from __future__ import annotations

from typing import Any, Tuple

import torch

from ..._backend import ensure_keras_torch

ensure_keras_torch()
import keras  # noqa: E402


class VectorQuantizer(keras.layers.Layer):
    """Nearest-neighbour quantisation onto ``codebook_size`` learned vectors of ``dim`` values.

    :param codebook_size: ``J``, the number of codebook vectors (indices ``0 .. J-1``).
    :param dim: ``D``, the length of each vector (the token width after projection).
    :param beta: weight of the commitment term of eq. (12).

    :input z_e: ``[..., D]`` float32 tokens.
    :output: ``(z_q, indices)``: ``z_q`` ``[..., D]`` (the codebook vectors, with the
        straight-through gradient to ``z_e``) and ``indices`` ``[...]`` int64.
    """

    def __init__(self, codebook_size: int, dim: int, beta: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if codebook_size < 2 or dim < 1:
            raise ValueError(f"codebook of {codebook_size} vectors of {dim} values: need J >= 2, D >= 1")
        self.codebook_size, self.dim, self.beta = int(codebook_size), int(dim), float(beta)
        bound = 1.0 / self.codebook_size
        self.vectors = self.add_weight(shape=(self.codebook_size, self.dim), name="codebook",
                                       initializer=keras.initializers.RandomUniform(-bound, bound))

    @property
    def codebook(self) -> torch.Tensor:
        """``[J, D]`` the codebook vectors (a torch parameter)."""
        return self.vectors.value

    def indices(self, z_e: torch.Tensor) -> torch.Tensor:
        """Eq. (11): ``argmin_j ||z_e - e_j||^2``, ``[...]`` int64 (ties: the lowest index)."""
        flat = z_e.reshape(-1, self.dim)
        e = self.codebook
        distance = flat.square().sum(-1, keepdim=True) - 2.0 * flat @ e.T + e.square().sum(-1)
        return distance.argmin(-1).reshape(z_e.shape[:-1])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """``[...]`` indices -> ``[..., D]`` codebook vectors (gradient to the codebook)."""
        return torch.nn.functional.embedding(torch.as_tensor(indices, device=self.codebook.device).long(),
                                             self.codebook)

    def call(self, z_e: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        indices = self.indices(z_e.detach())
        e = self.lookup(indices)
        return straight_through(z_e, e), indices

    def loss_terms(self, z_e: torch.Tensor, indices: torch.Tensor,
                   reduction: str = "sum") -> Tuple[torch.Tensor, torch.Tensor]:
        """Eq. (12)'s codebook term ``mean ||sg(z_e) - e||^2`` and commitment term
        ``beta mean ||z_e - sg(e)||^2`` (means over tokens).

        :param reduction: how each token's ``D`` squared differences combine: ``sum`` (the
            squared norm, as eq. 12 writes it) or ``mean`` (divided by ``D``, the common
            VQ-VAE implementation). Measured at J = 4 (README): with ``sum`` the commitment
            term shrinks the encoder's tokens to a point within 5 steps (one code for every
            token); with ``mean`` they stay apart.
        """
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        e = self.lookup(indices)
        scale = 1.0 if reduction == "sum" else 1.0 / self.dim
        codebook = scale * (z_e.detach() - e).square().sum(-1).mean()
        commitment = scale * self.beta * (z_e - e.detach()).square().sum(-1).mean()
        return codebook, commitment


def straight_through(z_e: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """``z_q`` in the forward pass, the identity to ``z_e`` in the backward pass."""
    return z_e + (z_q - z_e).detach()


def cosine_gram(codebook: torch.Tensor) -> torch.Tensor:
    """``[J, J]`` cosine similarities of the codebook vectors (rows of ``[J, D]``)."""
    unit = torch.nn.functional.normalize(codebook, dim=-1, eps=1e-12)
    return unit @ unit.T


def orthogonality_loss(codebook: torch.Tensor) -> torch.Tensor:
    """Mean squared off-diagonal cosine similarity ``(||E_n E_n^T||_F^2 - J) / (J (J - 1))``."""
    j = codebook.shape[0]
    gram = cosine_gram(codebook)
    return (gram.square().sum() - gram.diagonal().square().sum()) / (j * (j - 1))


def coherence(codebook: torch.Tensor) -> Tuple[float, float]:
    """``(mean, max)`` absolute off-diagonal cosine similarity of the codebook (Fig. 10's table)."""
    j = codebook.shape[0]
    off = cosine_gram(codebook.detach()).abs()[~torch.eye(j, dtype=torch.bool, device=codebook.device)]
    return float(off.mean()), float(off.max())


def usage_perplexity(indices: torch.Tensor, codebook_size: int) -> float:
    """``exp(entropy)`` of the index histogram: the effective number of codebook vectors used
    (``codebook_size`` when all are used equally, 1 when one is)."""
    counts = torch.bincount(indices.reshape(-1).long(), minlength=codebook_size).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float(entropy.exp())

"""What the masked VQ-VAE paper measures besides accuracy: Figs. 9, 10 and 11(a).

* Fig. 10, the codebook's cosine similarities (:func:`codebook_summary`): the Gram matrix
  ``E_n E_n^T`` of the unit-norm codebook vectors, of all ``J`` codes and of the codes the
  transmitter uses most on clean test images (the heat map; at ``J = 256`` and ``D = 32`` most
  codes are never used and stay near their random initialisation), with the mean and largest
  absolute off-diagonal cosine of each set and the usage perplexity.
* Fig. 9, activation frequency per feature (:func:`activation_threshold`,
  :func:`activation_counts`): a feature is a patch position ``n``; its activation in an
  image is the mean over the ``w`` values of its token at the FIM layer (eq. 13's GAP, after
  the FIM's reweighting; without a FIM the same layer: the last block's output). It is
  *activated* when above the ``quantile`` (0.75) of the clean activations of the model pooled
  over positions and images; the frequency counts the images in which ``n`` was kept.
* Fig. 11(a), retrieval recall@1 (:func:`nearest_neighbour_hits`): classes as identities, the
  embedding is the receiver's penultimate layer, the nearest gallery item by cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import torch

from .codebook import coherence, cosine_gram, usage_perplexity

#: Codes shown in the heat map of the most-used codes.
HEATMAP_CODES = 64
#: Share of clean activations below the activation threshold (Fig. 9: the 75th percentile).
ACTIVATION_QUANTILE = 0.75


@dataclass
class CodebookSummary:
    """Fig. 10's numbers for one model.

    :ivar counts: ``[J]`` how often each code was sent for the probe images.
    :ivar top: ``[T]`` the ``T = min(HEATMAP_CODES, J)`` most-used codes, most used first
        (ties: lower index first; unused codes fill the tail when fewer than ``T`` are used).
    :ivar gram_top: ``[T, T]`` cosine similarities of the codes ``top``.
    :ivar gram_all: ``[J, J]`` cosine similarities of every code, in index order.
    """

    counts: np.ndarray
    top: np.ndarray
    gram_top: np.ndarray
    gram_all: np.ndarray
    mean_top: float
    max_top: float
    mean_all: float
    max_all: float
    perplexity: float
    images: int

    def used(self) -> int:
        """Distinct codes sent for the probe images."""
        return int((self.counts > 0).sum())


def codebook_summary(codebook: torch.Tensor, indices: torch.Tensor, top: int = HEATMAP_CODES) -> CodebookSummary:
    """Fig. 10's summary of ``codebook`` ``[J, D]`` from the ``indices`` (any shape, int) sent
    for a set of probe images."""
    codebook = codebook.detach().float()
    j = codebook.shape[0]
    counts = torch.bincount(indices.reshape(-1).long(), minlength=j)
    order = sorted(range(j), key=lambda k: (-int(counts[k]), k))[:min(top, j)]
    chosen = torch.as_tensor(order, dtype=torch.long)
    mean_top, max_top = coherence(codebook[chosen])
    mean_all, max_all = coherence(codebook)
    return CodebookSummary(counts=counts.numpy(), top=chosen.numpy(), gram_top=cosine_gram(codebook[chosen]).numpy(),
                           gram_all=cosine_gram(codebook).numpy(), mean_top=mean_top, max_top=max_top,
                           mean_all=mean_all, max_all=max_all, perplexity=usage_perplexity(indices, j),
                           images=int(indices.shape[0]) if indices.dim() > 1 else 1)


def token_activations(tokens: torch.Tensor, positions: torch.Tensor, num_positions: int) -> torch.Tensor:
    """``[B, K, w]`` tokens at ``[B, K]`` positions -> ``[B, N]`` activations (eq. 13, the mean over
    ``w``), NaN at the positions that were not kept."""
    grid = torch.full((tokens.shape[0], num_positions), float("nan"), dtype=torch.float64)
    return grid.scatter(1, positions.long(), tokens.mean(-1).double())


def activation_threshold(activations: torch.Tensor, quantile: float = ACTIVATION_QUANTILE) -> float:
    """The ``quantile`` of the kept (non-NaN) entries of ``[B, N]`` clean activations."""
    kept = activations[~torch.isnan(activations)]
    if kept.numel() == 0:
        raise ValueError("no kept positions to take the activation threshold from")
    return float(torch.quantile(kept, quantile))


def activation_counts(activations: torch.Tensor, feature: int, threshold: float) -> Tuple[float, float]:
    """``(activated, kept)`` image counts of position ``feature`` (0-based) in ``[B, N]`` activations."""
    column = activations[:, feature]
    kept = ~torch.isnan(column)
    return float((column[kept] > threshold).sum()), float(kept.sum())


def nearest_neighbour_hits(queries: torch.Tensor, query_labels: torch.Tensor, gallery: torch.Tensor,
                           gallery_labels: torch.Tensor) -> float:
    """How many of the ``[B, d]`` queries have a nearest ``[G, d]`` gallery item (cosine
    similarity; ties: the first) of their own label: recall@1's hits."""
    q = torch.nn.functional.normalize(queries.double(), dim=-1, eps=1e-12)
    g = torch.nn.functional.normalize(gallery.double(), dim=-1, eps=1e-12)
    nearest = (q @ g.T).argmax(-1)
    return float((gallery_labels.long()[nearest] == query_labels.long()).sum())


def code_labels(codes: np.ndarray) -> List[str]:
    """Tick labels of codebook indices (``#17``)."""
    return [f"#{int(c)}" for c in codes]


__all__ = ["ACTIVATION_QUANTILE", "CodebookSummary", "HEATMAP_CODES", "activation_counts", "activation_threshold",
           "code_labels", "codebook_summary", "nearest_neighbour_hits", "token_activations"]

"""Eq. (17): the semantic-similarity loss of the masked VQ-VAE's encoded features (Sec. IV-B).

``F`` holds the normalised feature vectors ``f_n / ||f_n||`` of one image (its ``K`` kept
tokens ``z_e``), so ``(F^T F)_ij`` is the cosine similarity of tokens ``i`` and ``j``. The paper
writes ``L_s = -||F^T F||_2``: minimising it *raises* the similarity among the features (so
that near-duplicates could be dropped, the paper's threshold ``delta``, not built). The
paper's matrix norm is unspecified; linksim takes the Frobenius norm divided by ``K`` (it
lies in ``[1 / sqrt(K), 1]``: ``1 / sqrt(K)`` for orthogonal features, 1 when all are
parallel) and averages over the images. Its weight (``params.similarity``) is not given
either; 0 (off) is the default.
"""

from __future__ import annotations

import torch


def semantic_similarity_loss(z_e: torch.Tensor) -> torch.Tensor:
    """``-mean_b ||F_b^T F_b||_F / K`` for tokens ``z_e`` ``[B, K, D]`` (a scalar in ``[-1, -1/sqrt(K)]``)."""
    if z_e.dim() != 3:
        raise ValueError(f"z_e must be [B, K, D], got {tuple(z_e.shape)}")
    unit = torch.nn.functional.normalize(z_e, dim=-1, eps=1e-12)
    gram = unit @ unit.transpose(1, 2)  # [B, K, K] cosine similarities
    return -(gram.flatten(1).norm(dim=-1) / z_e.shape[1]).mean()


__all__ = ["semantic_similarity_loss"]

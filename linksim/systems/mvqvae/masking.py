"""Which image patches the masked VQ-VAE sends (paper Sec. III-A; analysis note, "Masking").

Every image keeps exactly ``round((1 - M_r) N)`` of its ``N`` patches
(:func:`~.symbols.kept_patches`), so every image costs the same symbols (Table I). The
positions are drawn from a generator seeded by the link (``shared seed``), so the
receiver regenerates them without side information.

* ``random`` (MAE): a uniformly random subset per image.
* ``noise_map``: a data-set-level score ``a_i >= 0`` per position (how far the encoder's
  token moves under semantic noise) makes noisy positions likelier to be masked:
  Gumbel-top-k on the logits ``-tau a_i / mean(a)``. ``tau = 0`` (or equal scores) is
  ``random``, draw for draw.

Shapes: positions ``[B, keep]`` int64, ascending within each row.
"""

from __future__ import annotations

from typing import Optional

import torch

from .symbols import kept_patches


def gumbel(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log U)`` from ``generator`` (float64 on the CPU)."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64).clamp(1e-12, 1.0 - 1e-12)
    return -torch.log(-torch.log(u))


def kept_positions(batch: int, num_patches: int, masking_ratio: float, generator: torch.Generator,
                   scores: Optional[torch.Tensor] = None, temperature: float = 1.0) -> torch.Tensor:
    """The positions each image sends: ``[batch, keep]`` int64, ascending, distinct.

    :param masking_ratio: ``M_r`` in [0, 1).
    :param generator: the link's shared generator (the receiver reproduces the draw).
    :param scores: ``[num_patches]`` non-negative noise scores (``noise_map``), or None (``random``).
    :param temperature: ``tau >= 0``, how strongly the scores steer the draw.
    """
    if not 0.0 <= masking_ratio < 1.0:
        raise ValueError(f"masking ratio must be in [0, 1), got {masking_ratio}")
    keep = kept_patches(num_patches, masking_ratio)
    logits = torch.zeros(num_patches, dtype=torch.float64)
    if scores is not None:
        scores = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
        if scores.numel() != num_patches or torch.any(scores < 0) or not torch.isfinite(scores).all():
            raise ValueError(f"scores must be {num_patches} finite non-negative values")
        mean = scores.mean()
        if mean > 0:
            logits = -float(temperature) * scores / mean
    keys = logits + gumbel(torch.Size((batch, num_patches)), generator)
    return keys.topk(keep, dim=-1).indices.sort(dim=-1).values

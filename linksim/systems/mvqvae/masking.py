"""Which image patches the masked VQ-VAE sends (paper Sec. III-A; analysis note, "Masking").

Every image keeps exactly ``round((1 - M_r) N)`` of its ``N`` patches
(:func:`~.symbols.kept_patches`), so every image costs the same symbols (Table I). The
positions are drawn from a generator seeded by the link (``shared seed``), so the
receiver regenerates them without side information.

* ``random`` (MAE): a uniformly random subset per image.
* ``noise_map``: a data-set-level score ``a_i >= 0`` per position (how far the encoder's
  token moves under semantic noise, :func:`noise_map_scores`) makes noisy positions
  likelier to be masked: either the ``keep`` positions of lowest score, the same for every
  image (:func:`least_noisy_positions`), or Gumbel-top-k on the logits ``-tau a_i /
  mean(a)`` (:func:`kept_positions` with ``scores``; the analysis note's training sampler,
  ``tau = 1``). ``tau = 0`` (or equal scores) is ``random``, draw for draw. The map is shared
  by both ends (computed once per model from training images), so neither variant sends
  side information.

Shapes: positions ``[B, keep]`` int64, ascending within each row; scores ``[N]`` float64.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import torch

from ...adversarial import pgd_linf
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


#: The noise-map scores :func:`noise_map_scores` computes (``params.noise_map.score``).
NOISE_SCORES: Tuple[str, ...] = ("displacement", "relative_displacement", "index_change")


def _check_scores(scores: torch.Tensor, num_patches: int) -> torch.Tensor:
    scores = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    if scores.numel() != num_patches or not torch.isfinite(scores).all() or torch.any(scores < 0):
        raise ValueError(f"scores must be {num_patches} finite non-negative values")
    return scores


def least_noisy_positions(batch: int, scores: torch.Tensor, masking_ratio: float) -> torch.Tensor:
    """The ``round((1 - M_r) N)`` positions of lowest noise score, the same for every image:
    ``[batch, keep]`` int64, ascending (``N`` = ``scores.numel()``). Equal scores keep the lower
    position first, so the choice is deterministic; no random draw.

    :param scores: ``[N]`` finite non-negative noise scores (:func:`noise_map_scores`).
    :param masking_ratio: ``M_r`` in [0, 1).
    """
    if not 0.0 <= masking_ratio < 1.0:
        raise ValueError(f"masking ratio must be in [0, 1), got {masking_ratio}")
    num_patches = torch.as_tensor(scores).numel()
    scores = _check_scores(scores, num_patches)
    keep = kept_patches(num_patches, masking_ratio)
    chosen = torch.argsort(scores, stable=True)[:keep].sort().values
    return chosen.unsqueeze(0).expand(batch, -1).clone()


def noise_map_scores(clean: torch.Tensor, noisy: torch.Tensor, score: str = "displacement",
                     quantize: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
    """The noise map ``a`` ``[N]`` (float64, >= 0) from the encoder's tokens of the same images,
    clean and under semantic noise, at every position.

    :param clean: ``[B, N, D]`` tokens ``z_e`` of the clean images (all ``N`` positions kept).
    :param noisy: ``[B, N, D]`` tokens of their perturbed copies (e.g. PGD, eq. 7).
    :param score: ``displacement``: ``a_i = mean_b ||noisy_bi - clean_bi||_2`` (the analysis
        note's definition); ``relative_displacement``: the same divided by ``||clean_bi||_2``;
        ``index_change``: the share of images whose codebook index at ``i`` changes.
    :param quantize: ``[B, N, D]`` -> ``[B, N]`` codebook indices (``index_change`` only).
    """
    if clean.shape != noisy.shape or clean.dim() != 3:
        raise ValueError(f"clean and noisy tokens must both be [B, N, D], got {tuple(clean.shape)} and "
                         f"{tuple(noisy.shape)}")
    clean, noisy = clean.detach().double(), noisy.detach().double()
    if score == "displacement":
        per_image = (noisy - clean).norm(dim=-1)
    elif score == "relative_displacement":
        per_image = (noisy - clean).norm(dim=-1) / clean.norm(dim=-1).clamp_min(1e-12)
    elif score == "index_change":
        if quantize is None:
            raise ValueError("score 'index_change' needs the quantizer")
        per_image = (quantize(noisy.float()) != quantize(clean.float())).double()
    else:
        raise ValueError(f"unknown noise score {score!r} (one of {', '.join(NOISE_SCORES)})")
    return per_image.mean(0)


def measure_noise_map(model: Any, images: torch.Tensor, labels: torch.Tensor, *, mu_value: float, epsilon: float,
                      steps: int, score: str = "displacement", batch: int = 250) -> torch.Tensor:
    """The noise map ``[N]`` (float64) of a masked VQ-VAE ``model``, measured on the unmasked encoder.

    Each image of ``images`` ``[B, C, H, W]`` (float in [0, 1], labels ``[B]`` int64) is attacked
    by PGD (eq. 7, ``steps`` sign steps of ``2.5 epsilon / steps``, no random start, white box
    against the model with an ideal link at the SNR input ``mu_value``); the encoder's tokens of
    the clean and attacked images at all ``N`` positions give :func:`noise_map_scores`. No
    random draw, so the map is a function of the model and the images.
    """
    from .networks import all_positions

    clean, noisy = [], []
    for start in range(0, images.shape[0], batch):
        x, y = images[start:start + batch], labels[start:start + batch]
        positions = all_positions(x.shape[0], model.num_positions)
        mu = torch.full((x.shape[0],), float(mu_value))
        attacked = pgd_linf(lambda v: torch.nn.functional.cross_entropy(
            model.noiseless_logits(v, positions, mu), y, reduction="sum"), x, epsilon, steps)
        with torch.no_grad():
            clean.append(model.encode(x, positions, mu)[0])
            noisy.append(model.encode(attacked, positions, mu)[0])
    return noise_map_scores(torch.cat(clean), torch.cat(noisy), score, model.quantizer.indices)

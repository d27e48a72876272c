"""Losses of the SCU paper (Wang, Tian, Zhang, Yu), eqs. (1) and (3)-(8).

Notation: the encoder emits a diagonal Gaussian ``q(z|x) = N(mu, diag(exp(logvar)))``
over ``2k`` real latent values; ``x_hat`` is the decoder's image in [0, 1]. Reductions
follow the authors' code: KL terms are means over the latent dimensions, reconstruction
terms means over the pixels, both averaged over the batch.

* eq. (1), the unsupervised VIB: :func:`vib_loss` = ``beta * KL(q || N(0, I)) + MSE``;
* eq. (3), encoder unlearning: ``KL(q_u(z|x_e) || N(0, I)) + KL(q_u(z|x_e) || q_fix(z|x_e))``;
* eq. (4), decoder unlearning: ``-MSE(x_hat_e, x_e) + KL(p_u(x|z') || p_fix(x|z'))``, the
  decoders' KL for Gaussian likelihoods of variance 1/2 per pixel being
  ``MSE(g_u(z'), g_fix(z'))`` (the same ``z'`` fed to both);
* eq. (5), joint unlearning: :func:`ju_loss` with :class:`JuWeights` (presets ``paper``:
  all four terms weight 1; ``reference``: the authors' code, the fixed-encoder KL and
  ``-lambda_u`` times the erased MSE). With equal weights the two decoder terms nearly
  cancel: their gradient is ``2 (x_e - g_fix)``-driven only;
* eq. (6), the contrastive loss of the encoder against the erased samples:
  :func:`erased_contrastive` (positives of an anchor: the remaining samples of its
  label, as printed, or its own re-encoded reconstruction, as the authors' code);
  the denominator holds the erased samples only;
* eq. (7): :func:`cc_loss` = eq. (6) + the VIB loss on the remaining batch;
* eq. (8): :func:`total_loss`, ``alpha1 L_JU + alpha2 L_CC`` with fixed weights (the
  paper: 1, 1) or the authors' dynamic ones (each term's share of the sum of magnitudes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Tuple

import torch


def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, e^logvar) || N(0, 1))`` per example, mean over the latent dimensions.

    ``0.5 * mean_j(mu_j^2 + e^logvar_j - 1 - logvar_j)``; ``mu``, ``logvar``: ``[B, d]``; returns ``[B]``.
    """
    return 0.5 * torch.mean(mu * mu + torch.exp(logvar) - 1.0 - logvar, dim=-1)


def kl_gauss(mu_a: torch.Tensor, logvar_a: torch.Tensor, mu_b: torch.Tensor, logvar_b: torch.Tensor) -> torch.Tensor:
    """``KL(N_a || N_b)`` of diagonal Gaussians per example, mean over dimensions: ``[B, d] -> [B]``.

    ``0.5 * mean_j(logvar_b - logvar_a + (e^logvar_a + (mu_a - mu_b)^2) / e^logvar_b - 1)``.
    """
    return 0.5 * torch.mean(logvar_b - logvar_a + (torch.exp(logvar_a) + (mu_a - mu_b) ** 2) * torch.exp(-logvar_b)
                            - 1.0, dim=-1)


def image_mse(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel value, mean over the batch (scalar)."""
    return torch.mean((x - x_hat) ** 2)


def vib_loss(x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float) -> torch.Tensor:
    """Eq. (1): ``beta * KL(q(z|x) || N(0, I)) + MSE(x_hat, x)`` (scalar)."""
    return beta * torch.mean(kl_to_prior(mu, logvar)) + image_mse(x, x_hat)


@dataclass(frozen=True)
class JuWeights:
    """Weights of the four terms of eq. (5) = eq. (3) + eq. (4).

    :ivar prior_kl: ``KL(q_u(z|x_e) || N(0, I))`` (eq. 3's ``I(Z; i_e)``).
    :ivar fixed_kl: ``KL(q_u(z|x_e) || q_fix(z|x_e))`` (eq. 3).
    :ivar erased_mse: ``lambda_u``: weight of ``-MSE(x_hat_e, x_e)`` (eq. 4's ``I(Z; X_e)``).
    :ivar decoder_kl: ``MSE(g_u(z'_e), g_fix(z'_e))`` (eq. 4's decoder KL).
    """

    prior_kl: float = 1.0
    fixed_kl: float = 1.0
    erased_mse: float = 1.0
    decoder_kl: float = 1.0

    @classmethod
    def preset(cls, name: Literal["paper", "reference"], erased_mse: float = 1.0) -> "JuWeights":
        """``paper``: every term at weight 1 but ``erased_mse``; ``reference``: the authors'
        code, ``KL(q_u || q_fix) - lambda_u MSE_e`` (the two other terms at 0)."""
        if name == "paper":
            return cls(1.0, 1.0, erased_mse, 1.0)
        if name == "reference":
            return cls(0.0, 1.0, erased_mse, 0.0)
        raise ValueError(f"unknown joint-unlearning preset {name!r} (paper, reference)")


def ju_loss(x_e: torch.Tensor, x_hat_e: torch.Tensor, x_hat_fix: torch.Tensor, mu: torch.Tensor,
            logvar: torch.Tensor, mu_fix: torch.Tensor, logvar_fix: torch.Tensor, weights: JuWeights) -> torch.Tensor:
    """Eq. (5) on an erased batch (scalar).

    :param x_e: ``[B, C, H, W]`` erased images.
    :param x_hat_e: the unlearned codec's reconstructions of them, ``x_hat_fix`` the fixed
        decoder's reconstructions from the *same* received latent ``z'_e``.
    :param mu: ``[B, d]``, ``logvar``: the unlearned encoder's Gaussian; ``mu_fix``,
        ``logvar_fix``: the fixed encoder's on the same images.
    """
    w = weights
    out = -w.erased_mse * image_mse(x_e, x_hat_e)
    if w.prior_kl:
        out = out + w.prior_kl * torch.mean(kl_to_prior(mu, logvar))
    if w.fixed_kl:
        out = out + w.fixed_kl * torch.mean(kl_gauss(mu, logvar, mu_fix, logvar_fix))
    if w.decoder_kl:
        out = out + w.decoder_kl * image_mse(x_hat_fix, x_hat_e)
    return out


def erased_contrastive(anchors: torch.Tensor, erased: torch.Tensor, temperature: float, *,
                       labels: Optional[torch.Tensor] = None, views: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Eq. (6): pull each remaining sample to its positives, push it from the erased samples.

    ``loss_i = -1/|P(i)| sum_{p in P(i)} log(exp(a_i.p / tau) / sum_{e in D_e} exp(a_i.e / tau))``
    on L2-normalised latents, averaged over the anchors that have a positive.

    :param anchors: ``[B, d]`` latents of the remaining batch.
    :param erased: ``[M, d]`` latents of the erased batch (the denominator, nothing else).
    :param labels: ``[B]``: positives are the other anchors of the same label (eq. 6 as printed).
    :param views: ``[B, d]``: the positive of anchor ``i`` is ``views[i]`` (the authors' code:
        the re-encoding of the anchor's reconstruction). Give exactly one of ``labels``, ``views``.
    """
    if (labels is None) == (views is None):
        raise ValueError("erased_contrastive needs exactly one of labels (eq. 6) or views (own re-encoding)")
    a = torch.nn.functional.normalize(anchors, dim=-1)
    e = torch.nn.functional.normalize(erased, dim=-1)
    log_denominator = torch.logsumexp(a @ e.T / temperature, dim=1)  # [B]
    if views is not None:
        v = torch.nn.functional.normalize(views, dim=-1)
        return torch.mean(log_denominator - torch.sum(a * v, dim=-1) / temperature)
    same = (labels[:, None] == labels[None, :]) & ~torch.eye(a.shape[0], dtype=torch.bool, device=a.device)
    counts = same.sum(dim=1)
    valid = counts > 0
    if not bool(valid.any()):
        return anchors.sum() * 0.0
    positive_mean = torch.sum((a @ a.T / temperature) * same, dim=1)[valid] / counts[valid]
    return torch.mean(log_denominator[valid] - positive_mean)


def cc_loss(contrastive: torch.Tensor, x_r: torch.Tensor, x_hat_r: torch.Tensor, mu_r: torch.Tensor,
            logvar_r: torch.Tensor, beta: float) -> torch.Tensor:
    """Eq. (7): eq. (6) plus the VIB loss (eq. 1) of the remaining batch (scalar)."""
    return contrastive + vib_loss(x_r, x_hat_r, mu_r, logvar_r, beta)


def total_loss(ju: torch.Tensor, cc: torch.Tensor, weights: Literal["fixed", "dynamic"] = "fixed",
               alphas: Tuple[float, float] = (1.0, 1.0)) -> torch.Tensor:
    """Eq. (8): ``alpha1 L_JU + alpha2 L_CC``.

    ``fixed``: the given ``alphas`` (the paper: 1, 1). ``dynamic``: the authors' code,
    ``alpha1 = |L_JU| / (|L_JU| + |L_CC|)`` and ``alpha2 = |L_CC| / (|L_JU| + |L_CC|)``,
    computed with gradient (the weights are part of the graph, as there).
    """
    if weights == "fixed":
        return alphas[0] * ju + alphas[1] * cc
    if weights == "dynamic":
        total = torch.abs(ju) + torch.abs(cc) + 1e-12
        return torch.abs(ju) / total * ju + torch.abs(cc) / total * cc
    raise ValueError(f"unknown loss weighting {weights!r} (fixed, dynamic)")

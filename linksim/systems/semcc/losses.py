"""Losses of the SemCC paper's training methods (Secs. IV-V).

* ``L_rec`` (eq. (9), MSE per pixel): :func:`reconstruction_loss`;
* the InfoNCE loss of eq. (8) on the frozen backbone's features of ``x`` and ``x_hat``
  through a trainable projection head (SemCC stage 1): :func:`info_nce`;
* the supervised contrastive loss of eq. (13) on the projected transmit symbols ``s``
  and the receiver's re-encoding ``s^r = E_r(x_hat)`` (SemRE): :func:`supervised_contrastive`;
* the soft update of SemRE's re-encoder, eq. (14): :func:`soft_update`.

How the methods combine them is in :mod:`.methods`.
"""

from __future__ import annotations

from typing import Any

import torch


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Eq. (9): mean over the batch of ``||x - x_hat||^2 / n``."""
    return torch.mean((x - x_hat) ** 2)

def info_nce(q_a: torch.Tensor, q_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. (8): InfoNCE over the 2B projections of a batch and its reconstructions.

    :param q_a: ``[B, d]`` unit-norm projections of the originals ``x``.
    :param q_b: ``[B, d]`` unit-norm projections of the reconstructions ``x_hat``.
    Each of the 2B samples is an anchor; its positive is its counterpart in the other
    view; the denominator sums over every other sample (positive included).
    """
    q = torch.cat([q_a, q_b], dim=0)
    b = q_a.shape[0]
    logits = q @ q.T / temperature
    logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=q.device), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(q.device)
    return torch.nn.functional.cross_entropy(logits, target)

def supervised_contrastive(q_a: torch.Tensor, q_b: torch.Tensor, labels: torch.Tensor,
                           temperature: float) -> torch.Tensor:
    """Eq. (13): supervised contrastive loss over the 2B projections.

    The positive set ``S_x`` of an anchor holds every other sample of its class (its
    own counterpart included). As eq. (13) writes it, the denominator sums over
    ``B* \\ S_x``, the samples of *other* classes (and never the anchor itself); an
    anchor whose class has no other sample is skipped. With no negative in the
    batch (one class only) the loss is zero.

    :param q_a: ``[B, d]`` unit-norm projections of the transmitter's ``s``.
    :param q_b: ``[B, d]`` unit-norm projections of the receiver's ``s^r``.
    :param labels: ``[B]`` classes.
    """
    q = torch.cat([q_a, q_b], dim=0)
    y = torch.cat([labels, labels]).to(q.device)
    n = q.shape[0]
    sim = q @ q.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=q.device)
    same = (y[:, None] == y[None, :]) & ~self_mask
    negative = y[:, None] != y[None, :]
    if not bool(negative.any()):
        return q.sum() * 0.0
    neg_sum = torch.logsumexp(sim.masked_fill(~negative, float("-inf")), dim=1, keepdim=True)
    log_prob = sim - neg_sum
    counts = same.sum(dim=1)
    valid = (counts > 0) & negative.any(dim=1)
    per_anchor = -(log_prob * same).sum(dim=1)[valid] / counts[valid]
    return per_anchor.mean()

@torch.no_grad()
def soft_update(target: Any, source: Any, beta: float) -> None:
    """Eq. (14): ``theta_r <- beta theta_r + (1 - beta) theta`` for every weight (BN statistics too)."""
    for t, s in zip(target.weights, source.weights):
        t.assign(beta * t.value + (1.0 - beta) * s.value)

"""Diagonal Hessian estimation and the Hessian-based unlearning (HBU) update.

HBU (the SCU paper's baseline, after Guo et al. 2020 and Sekhari et al. 2021) removes the
erased samples' influence by one Newton-like step on the remaining data's curvature:

``theta <- theta + eta * g_e / (|diag H_r| + lambda)``, with ``g_e`` the gradient of the
loss on the erased samples and ``H_r`` the Hessian of the loss on the remaining ones,
the update's norm clipped at ``c * ||theta||`` (the paper's "fixed threshold").

``diag H`` comes from Hutchinson's estimator ``E[v * (H v)]`` with Rademacher probes
``v`` (each ``H v`` one double-backward pass), as in the authors' code (AdaHessian).
"""

from __future__ import annotations

from typing import Callable, List, Sequence

import torch


def rademacher_like(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A tensor of ``tensor``'s shape with independent +-1 entries (drawn on the CPU)."""
    signs = torch.randint(0, 2, tensor.shape, generator=generator, dtype=torch.int64)
    return (2 * signs - 1).to(dtype=tensor.dtype, device=tensor.device)


def hutchinson_diagonal(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], *, probes: int,
                        generator: torch.Generator) -> List[torch.Tensor]:
    """Estimate ``diag(H)`` of ``loss_fn()`` with respect to ``params``.

    :param loss_fn: Computes the scalar loss (called once per probe: a fresh graph, so a
        loss over a new batch each call averages the curvature over the batches).
    :param params: Tensors with ``requires_grad``.
    :param probes: Rademacher probes ``v``; the estimate is the mean of ``v * (H v)``.
    :returns: One tensor per parameter, its shape, the estimated diagonal.
    """
    if probes < 1:
        raise ValueError(f"probes must be >= 1, got {probes}")
    params = list(params)
    total = [torch.zeros_like(p) for p in params]
    for _ in range(probes):
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        vs = [rademacher_like(p, generator) for p in params]
        hv = torch.autograd.grad(grads, params, grad_outputs=vs, allow_unused=True)
        for acc, v, h in zip(total, vs, hv):
            if h is not None:
                acc.add_(v * h.detach())
    return [t / probes for t in total]


def hbu_update(params: Sequence[torch.Tensor], erased_gradient: Sequence[torch.Tensor],
               diagonal: Sequence[torch.Tensor], *, step_size: float, damping: float, max_ratio: float) -> float:
    """Apply ``theta += eta * g_e / (|h| + lambda)`` in place, clipped to ``||delta|| <= c ||theta||``.

    The step *ascends* the erased loss (it undoes the descent that learned them).

    :param params: The parameters (updated in place, without autograd).
    :param erased_gradient: Gradient of the loss on the erased samples, per parameter.
    :param diagonal: Estimated Hessian diagonal of the remaining data's loss, per parameter.
    :param step_size: ``eta``.
    :param damping: ``lambda`` > 0, added to ``|h|``.
    :param max_ratio: ``c``: the update's norm is at most ``c`` times the parameters' norm.
    :returns: The norm of the applied update.
    """
    if damping <= 0:
        raise ValueError(f"damping must be > 0, got {damping}")
    with torch.no_grad():
        deltas = [step_size * g / (torch.abs(h) + damping) for g, h in zip(erased_gradient, diagonal)]
        norm = torch.sqrt(sum(torch.sum(d * d) for d in deltas))
        limit = max_ratio * torch.sqrt(sum(torch.sum(p * p) for p in params))
        scale = torch.clamp(limit / (norm + 1e-30), max=1.0)
        for p, d in zip(params, deltas):
            p.add_(d * scale)
        return float(norm * scale)

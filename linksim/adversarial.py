"""Semantic noise: adversarial perturbations of inputs, received signals and weights.

Reusable by every learned system in linksim (first user: the masked VQ-VAE paper,
``../shared/papers/masked-vqvae-robust.md``). Models enter only as a differentiable
``loss_fn``, so a Keras model on the torch backend, a plain torch module or a whole
transmitter-channel-receiver chain can be attacked alike.

* :func:`fgsm` (eq. 6) and :func:`pgd_linf` (eq. 7): sample-dependent noise at the
  transmitter, ``||s' - s||_inf <= epsilon``, pixels kept in a box (default [0, 1]);
  iterative sign steps without a random start (the paper's eq. 7); ``sign(0) = +1``.
* :func:`universal_receiver_noise` (Algorithm 1): one sample-independent perturbation
  ``dx`` of L2 norm ``epsilon`` that an attacker sends through its own channels ``H_a``;
  the ascent direction is ``H_a^H grad`` (the paper prints ``H_a^*``; the shapes need the
  conjugate transpose) and ``delta`` restarts at zero for each sample.
* :class:`WeightPerturbation` (Algorithm 2, adversarial weight perturbation of Wu et al.
  2020): one ascent step ``nu_l = gamma ||theta_l|| g_l / ||g_l||`` per weight matrix,
  added for the update's gradient and removed exactly afterwards.

Units: images in [0, 1] (``epsilon`` on that scale, e.g. 0.012 ~ 3/255); received signals
in the channel's complex baseband units.
"""

from __future__ import annotations

from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import torch

__all__ = ["fgsm", "pgd_linf", "universal_receiver_noise", "WeightPerturbation", "sign"]

LossFn = Callable[[torch.Tensor], torch.Tensor]
Box = Optional[Tuple[float, float]]


def sign(g: torch.Tensor) -> torch.Tensor:
    """The paper's sign: +1 for ``g >= 0``, -1 otherwise (``torch.sign`` gives 0 at 0)."""
    return torch.where(g >= 0, torch.ones_like(g), -torch.ones_like(g))


def _gradient(loss_fn: LossFn, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(x)
        if loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar (e.g. the summed loss), got shape {tuple(loss.shape)}")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _check_epsilon(epsilon: float) -> float:
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    return float(epsilon)


def fgsm(loss_fn: LossFn, x: torch.Tensor, epsilon: float, box: Box = (0.0, 1.0)) -> torch.Tensor:
    """Eq. (6): ``s' = clip(s + epsilon sign(grad_s L))``.

    :param loss_fn: ``x -> scalar`` loss to raise (sum over the batch, so that each
        example's gradient is its own).
    :param x: ``[N, ...]`` inputs (e.g. images ``[N, C, H, W]`` in [0, 1]).
    :param box: pixel range the result is clipped to, or None.
    :return: ``[N, ...]`` perturbed inputs, detached.
    """
    epsilon = _check_epsilon(epsilon)
    out = x.detach() + epsilon * sign(_gradient(loss_fn, x))
    return out.clamp(*box) if box is not None else out


def pgd_linf(loss_fn: LossFn, x: torch.Tensor, epsilon: float, steps: int = 10,
             step_size: Optional[float] = None, box: Box = (0.0, 1.0)) -> torch.Tensor:
    """Eq. (7): ``K`` sign steps of size ``alpha``, each projected onto the L-inf ball of
    radius ``epsilon`` around ``x`` and onto ``box``; no random start.

    :param steps: ``K >= 1``.
    :param step_size: ``alpha``; default ``2.5 epsilon / K`` (so ``K alpha > epsilon`` as the
        paper asks). ``K = 1``, ``alpha = epsilon`` is :func:`fgsm`.
    :return: ``[N, ...]`` perturbed inputs, detached, ``||x' - x||_inf <= epsilon``.
    """
    epsilon = _check_epsilon(epsilon)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    alpha = 2.5 * epsilon / steps if step_size is None else float(step_size)
    origin = x.detach()
    low, high = origin - epsilon, origin + epsilon
    if box is not None:
        low, high = low.clamp(*box), high.clamp(*box)
    current = origin.clone()
    for _ in range(steps):
        current = torch.minimum(torch.maximum(current + alpha * sign(_gradient(loss_fn, current)), low), high)
    return current


def _l2(v: torch.Tensor) -> torch.Tensor:
    return v.abs().square().sum().sqrt()


def universal_receiver_noise(loss_fn: Union[LossFn, Sequence[LossFn]], received: Sequence[torch.Tensor],
                             attacker_channels: Sequence[torch.Tensor], epsilon: float, steps: int = 10,
                             step_size: Optional[float] = None, rho: float = 1.0) -> torch.Tensor:
    """Algorithm 1: a sample-independent perturbation ``dx`` with ``||dx||_2 = epsilon``.

    For each sample ``n``: ``delta = 0``; ``K`` times, ``d = H_a^H grad_x L(x)``,
    ``d_n = d / ||d||``, ``x <- x + alpha H_a d_n``, ``delta <- delta + alpha d_n``; then
    ``dx <- dx + rho delta / ||delta||`` and ``dx <- epsilon dx / ||dx||``.

    :param loss_fn: received signal ``[uses, nr]`` (complex) -> scalar loss of the receiver
        for that sample's true label (the caller binds the label), or ``N`` such functions, one
        per sample (each with its own label and channel estimate).
    :param received: ``N`` received signals ``x~`` ``[uses, nr]`` complex (the legitimate
        transmission, before the attack).
    :param attacker_channels: ``N`` matrices ``H_a`` ``[uses, nr, na]`` complex.
    :param step_size: ``alpha``; default ``2.5 epsilon / K``.
    :return: ``dx`` ``[uses, na]`` complex, L2 norm ``epsilon`` (zero if every gradient was zero).
    """
    epsilon = _check_epsilon(epsilon)
    if len(received) != len(attacker_channels) or not received:
        raise ValueError("give one attacker channel per received signal (at least one)")
    losses = [loss_fn] * len(received) if callable(loss_fn) else list(loss_fn)
    if len(losses) != len(received):
        raise ValueError(f"give one loss function per received signal ({len(received)}), got {len(losses)}")
    alpha = 2.5 * epsilon / steps if step_size is None else float(step_size)
    total: Optional[torch.Tensor] = None
    for x, h_a, sample_loss in zip(received, attacker_channels, losses):
        current = x.detach()
        delta = torch.zeros(h_a.shape[:-2] + h_a.shape[-1:], dtype=h_a.dtype, device=h_a.device)
        for _ in range(steps):
            grad = _gradient(sample_loss, current)  # torch: the ascent direction for complex inputs
            direction = (h_a.conj().transpose(-1, -2) @ grad.unsqueeze(-1)).squeeze(-1)
            norm = _l2(direction)
            if norm == 0:
                break
            direction = direction / norm
            current = current + alpha * (h_a @ direction.unsqueeze(-1)).squeeze(-1)
            delta = delta + alpha * direction
        norm = _l2(delta)
        step = rho * delta / norm if norm > 0 else delta
        total = step if total is None else total + step
        norm = _l2(total)
        if norm > 0:
            total = epsilon * total / norm
    assert total is not None
    return total.detach()


class WeightPerturbation:
    """Adversarial weight perturbation (Algorithm 2, step 2): ``theta -> theta + nu`` and back.

    Only weight matrices and kernels (two or more dimensions) are perturbed, not biases or
    normalisation scales (Wu et al. 2020). Use as::

        awp = WeightPerturbation(params, gamma=5e-3)
        awp.perturb(lambda: loss_of_adversarial_batch())   # one ascent step on nu
        loss = loss_of_adversarial_batch(); loss.backward()  # gradient at theta + nu
        awp.restore()                                        # theta back, exactly
        optimizer.step()

    :param params: the model's trainable torch parameters.
    :param gamma: relative budget: ``||nu_l|| <= gamma ||theta_l||`` per tensor.
    """

    def __init__(self, params: Iterable[torch.Tensor], gamma: float) -> None:
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.params: List[torch.Tensor] = [p for p in params if p.dim() >= 2]
        self.gamma = float(gamma)
        self._saved: Optional[List[torch.Tensor]] = None

    def perturb(self, loss_fn: Callable[[], torch.Tensor]) -> List[torch.Tensor]:
        """Add ``nu_l = gamma ||theta_l|| g_l / ||g_l||`` (``g_l``: gradient of ``loss_fn()``).

        :return: the perturbations ``nu_l`` (detached), in the order of the parameters.
        """
        if self._saved is not None:
            raise RuntimeError("restore() the previous perturbation first")
        with torch.enable_grad():
            grads = torch.autograd.grad(loss_fn(), self.params, allow_unused=True)
        self._saved = [p.detach().clone() for p in self.params]
        nus = []
        with torch.no_grad():
            for p, g in zip(self.params, grads):
                nu = torch.zeros_like(p)
                if g is not None and g.norm() > 0:
                    nu = self.gamma * p.norm() * g / g.norm()
                p.add_(nu)
                nus.append(nu)
        return nus

    def restore(self) -> None:
        """Put back the weights saved by :meth:`perturb`, bit for bit."""
        if self._saved is None:
            return
        with torch.no_grad():
            for p, saved in zip(self.params, self._saved):
                p.copy_(saved)
        self._saved = None

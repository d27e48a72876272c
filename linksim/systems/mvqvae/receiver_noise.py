"""Semantic noise at the receiver: Algorithm 1's universal perturbation and the
signal-to-semantic-noise ratio of Fig. 8 (masked VQ-VAE paper, eq. 8).

The attacker adds ``H_a dx`` to the legitimate received signal, ``y = H_t x + n + H_a dx``
(eq. 8), with one sample-independent ``dx`` ``[uses, na]`` (:func:`universal_perturbation`,
computed once per model on training images with :func:`linksim.adversarial.universal_receiver_noise`)
and its own channel ``H_a`` ``[uses, nr, na]`` of i.i.d. CN(0, 1) entries, drawn afresh for
every image and channel use. The paper never defines its x axis; linksim's reading
(analysis note, sec. 4) is the ratio of received powers

    SSNR_dB = 10 log10( sum ||H_t x||^2 / sum ||c H_a dx||^2 ),

both sums over the batch's images and channel uses, before the thermal noise: the attacker's
power scale ``c`` (:func:`ssnr_scale`) is one number per batch, so the perturbation stays
universal (the same ``dx`` for every image, only scaled).

Shapes: ``x`` ``[N, n]`` complex symbols; ``y`` ``[N, uses, nr]``; ``dx`` ``[uses, na]``;
``H_a`` ``[N, uses, nr, na]``. Units: the channel's complex baseband, unit-energy symbols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import torch

from ...adversarial import universal_receiver_noise
from ...phy.base import ChannelOutput
from ...phy.channels import Interference, MIMOChannel

#: ``(sample n, equalised symbols [n_sym] complex, their noise variance [n_sym]) -> scalar loss``
#: of the receiver for sample ``n``'s true label.
SampleLoss = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ReceiverAttack:
    """Algorithm 1's settings: ``samples`` training images (N), ``steps`` (K) of ``2.5 eps / K``
    each, the accumulation weight ``rho`` and the attacker's ``antennas`` (na)."""

    samples: int = 256
    steps: int = 10
    rho: float = 1.0
    antennas: int = 8


def attacker_channels(batch: int, uses: int, nr: int, na: int, generator: torch.Generator,
                      dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """``[batch, uses, nr, na]`` i.i.d. CN(0, 1) attacker channels ``H_a``."""
    return torch.randn(batch, uses, nr, na, dtype=dtype, generator=generator)


def ssnr_scale(signal: torch.Tensor, perturbation: torch.Tensor, ssnr_db: float) -> torch.Tensor:
    """The factor ``c`` with ``sum |signal|^2 / sum |c perturbation|^2 = 10^(ssnr_db / 10)``.

    :param signal: ``[...]`` complex received signal (e.g. ``H_t x``, ``[N, uses, nr]``).
    :param perturbation: complex, the shape of ``signal`` (e.g. ``H_a dx``).
    :return: a real scalar tensor (0 when the perturbation is zero).
    """
    power = perturbation.abs().square().sum()
    if power == 0:
        return torch.zeros((), dtype=signal.real.dtype)
    ratio = 10.0 ** (ssnr_db / 10.0)
    return torch.sqrt(signal.abs().square().sum() / (ratio * power)).to(signal.real.dtype)


def attacker_interference(dx: torch.Tensor, ssnr_db: float, generator: torch.Generator) -> Interference:
    """The receiver-side term ``c H_a dx`` for :meth:`MIMOChannel.__call__`, at ``ssnr_db``.

    :param dx: ``[uses, na]`` the universal perturbation.
    :return: a function of the noiseless received signal ``[N, uses, nr]`` giving ``c H_a dx``
        ``[N, uses, nr]`` with fresh ``H_a`` per image and use and ``c`` from :func:`ssnr_scale`.
    """
    def interference(signal: torch.Tensor) -> torch.Tensor:
        batch, uses, nr = signal.shape
        if uses != dx.shape[0]:
            raise ValueError(f"the perturbation covers {dx.shape[0]} channel uses, the message {uses}")
        h_a = attacker_channels(batch, uses, nr, dx.shape[-1], generator, signal.dtype)
        perturbation = (h_a @ dx.to(signal.dtype).unsqueeze(-1)).squeeze(-1)
        return ssnr_scale(signal, perturbation, ssnr_db).to(signal.dtype) * perturbation

    return interference


def received_power(channel: MIMOChannel, symbols: torch.Tensor, no: float) -> Tuple[ChannelOutput, torch.Tensor]:
    """Send ``symbols`` ``[N, n]`` once: ``(channel output, noiseless received signal [N, uses, nr])``."""
    captured: List[torch.Tensor] = []

    def capture(signal: torch.Tensor) -> torch.Tensor:
        captured.append(signal.detach())
        return torch.zeros_like(signal)

    out = channel(symbols, no, capture)
    return out, captured[0]


def universal_perturbation(channel: MIMOChannel, symbols: torch.Tensor, no: float, loss: SampleLoss,
                           attack: ReceiverAttack, generator: torch.Generator,
                           epsilon: Optional[float] = None) -> torch.Tensor:
    """Algorithm 1 against a receiver: ``dx`` ``[uses, na]`` from ``N`` transmissions.

    The ``N`` messages ``symbols`` ``[N, n]`` cross ``channel`` at noise variance ``no`` (the
    legitimate ``x~ = H_t x + n``); each sample's loss is the receiver's on the SVD-equalised
    ``x~ + H_a delta`` (:meth:`MIMOChannel.svd_detect`, differentiable), so the ascent runs
    through the real detector. The budget ``epsilon`` (L2 norm of ``dx``) defaults to the
    one at 0 dB SSNR on these samples, ``sqrt(mean ||H_t x||^2 / nr)`` (``E ||H_a dx||^2 =
    nr ||dx||^2``); it only sets the step size, since the test scales ``dx`` to each SSNR.
    """
    out, signal = received_power(channel, symbols, no)
    count, uses, nr = out.y.shape
    if epsilon is None:
        epsilon = math.sqrt(float(signal.abs().square().sum((-1, -2)).mean()) / nr)
    h_a = attacker_channels(count, uses, nr, attack.antennas, generator, out.y.dtype)
    no_eff = out.no_eff

    def sample_loss(n: int) -> Callable[[torch.Tensor], torch.Tensor]:
        def of(y: torch.Tensor) -> torch.Tensor:
            x_hat, _ = channel.svd_detect(y, out.h_hat[n])
            return loss(n, x_hat.reshape(-1), no_eff[n])
        return of

    return universal_receiver_noise([sample_loss(n) for n in range(count)], list(out.y), list(h_a), epsilon,
                                    steps=attack.steps, rho=attack.rho)


__all__ = ["ReceiverAttack", "SampleLoss", "attacker_channels", "attacker_interference", "received_power",
           "ssnr_scale", "universal_perturbation"]

"""Contracts shared by linksim's PHY components, and the SNR convention.

SNR convention (one for learned and classical systems alike)
-----------------------------------------------------------
``snr_db`` is Es/N0 per complex channel use, with the transmitter's average power per
channel use normalised to 1 (Es = 1). The noise variance per complex receive sample is
therefore ``no = 10 ** (-snr_db / 10)``. For a coded link carrying ``r`` information
bits per code bit and ``m`` code bits per symbol, Eb/N0 = Es/N0 - 10 log10(r m) dB
(:func:`ebno_db_from_snr_db`). For MIMO, the *total* transmit power over the Nt
antennas is 1 per channel use (each antenna sends Es/Nt), so ``snr_db`` is the average
SNR per receive antenna.

Randomness
----------
Components draw random numbers from Sionna's generators
(``sionna.phy.config.torch_rng(device)`` / ``sionna.phy.config.np_rng``). The runner
seeds those once per batch, which makes every batch reproducible and resumable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Optional, Type, Union

import torch

from ..registry import ParamsModel

TensorLike = Union[torch.Tensor, float]


def snr_db_to_no(snr_db: TensorLike) -> TensorLike:
    """Noise variance per complex sample at unit symbol energy: ``10**(-snr_db/10)``."""
    if isinstance(snr_db, torch.Tensor):
        return torch.pow(10.0, -snr_db / 10.0)
    return 10.0 ** (-float(snr_db) / 10.0)


def ebno_db_from_snr_db(snr_db: float, bits_per_symbol: int, code_rate: float = 1.0) -> float:
    """Eb/N0 in dB from Es/N0 in dB for ``bits_per_symbol`` code bits per symbol."""
    return float(snr_db) - 10.0 * math.log10(bits_per_symbol * code_rate)


def snr_db_from_ebno_db(ebno_db: float, bits_per_symbol: int, code_rate: float = 1.0) -> float:
    """Es/N0 in dB from Eb/N0 in dB (inverse of :func:`ebno_db_from_snr_db`)."""
    return float(ebno_db) + 10.0 * math.log10(bits_per_symbol * code_rate)


@dataclass
class ChannelOutput:
    """What a receiver gets from :meth:`Channel.__call__`.

    Shapes are given for an input ``x`` of shape ``[..., n]`` (complex).

    :ivar y: Received samples. SISO: ``[..., n]``; MIMO: ``[..., n / S, nr]`` (``S`` streams:
        ``nt``, or fewer with SVD precoding).
    :ivar h: True channel. SISO: broadcastable to ``[..., n]``; MIMO: ``[..., n / S, nr, nt]``.
    :ivar h_hat: The receiver's channel estimate (equal to ``h`` with perfect CSI).
    :ivar x_hat: Detected/equalised symbols, ``[..., n]`` complex (eq. (3) of Mem-DeepSC
        for SISO fading; ZF/LMMSE or SVD combining for MIMO).
    :ivar no_eff: Effective noise variance of each entry of ``x_hat``, ``[..., n]`` real:
        what an APP demapper needs for LLRs.
    """

    y: torch.Tensor
    h: torch.Tensor
    h_hat: torch.Tensor
    x_hat: torch.Tensor
    no_eff: torch.Tensor


class Channel:
    """A channel acting on blocks of complex symbols at unit average power.

    Subclasses set ``Params`` (a :class:`~linksim.registry.ParamsModel`) and implement
    :meth:`__call__`. They must be differentiable with respect to ``x`` so that learned
    transmitters can train through them.

    :input x: ``[..., n]``, ``torch.complex64``: transmitted symbols, E|x|^2 = 1.
    :input no: noise variance per complex sample: a float, or a real tensor
        broadcastable to ``x.shape[:-1]`` (one value per example) or to ``x.shape``.
    :output: :class:`ChannelOutput`.
    """

    Params: ClassVar[Type[ParamsModel]] = ParamsModel

    def __init__(self, params: Optional[ParamsModel] = None) -> None:
        self.params = params if params is not None else self.Params()

    def capacity(self, snr_db: float) -> Optional[float]:
        """Ergodic capacity in bit per complex channel use at Es/N0 ``snr_db`` (perfect CSI at
        the receiver), or None where no closed form is implemented (a capacity bound then
        refuses the channel)."""
        return None

    def __call__(self, x: torch.Tensor, no: TensorLike) -> ChannelOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def symbols_multiple(self) -> int:
        """Blocks of symbols must have a length that is a multiple of this (the MIMO stream count)."""
        return 1


class ChannelCode:
    """A binary block code: ``k`` information bits to ``n`` code bits.

    :input u: ``[..., k]`` float tensor of 0/1 information bits (encode).
    :input llr: ``[..., n]`` float tensor of channel LLRs in Sionna's convention
        ``log(P(b=1)/P(b=0))`` (decode).
    :output: ``encode`` gives ``[..., n]`` code bits; ``decode`` gives ``[..., k]`` hard bits.
    """

    Params: ClassVar[Type[ParamsModel]] = ParamsModel
    k: int
    n: int

    def __init__(self, params: Optional[ParamsModel] = None) -> None:
        self.params = params if params is not None else self.Params()

    @property
    def rate(self) -> float:
        """Code rate k/n (after termination, puncturing and rate matching)."""
        return self.k / self.n

    def encode(self, u: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, llr: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

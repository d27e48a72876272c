"""Differential-privacy mechanisms on a power-normalised feature vector, calibrated honestly.

A transmitter sends ``k`` complex symbols per image with total energy ``k P`` (linksim's
power normalisation, eq. 2 of the DeepJSCC papers), i.e. a real vector ``z`` of ``n = 2k``
coordinates on the sphere of radius ``sqrt(k P)``. A mechanism adds i.i.d. noise to ``z``;
the scale comes from the privacy budget ``epsilon`` and a sensitivity:

=============  =====================================================  ======================================
calibration    sensitivity and noise                                  guarantee
=============  =====================================================  ======================================
``strict``     L1 (L2) diameter of the sphere: ``2 sqrt(n) sqrt(kP)``  ``epsilon``-DP (``(epsilon, delta)``)
               (``2 sqrt(kP)``); no clipping needed                  for the whole image
``clipped``    every coordinate clipped to ``[-C, C]``; Laplace       ``epsilon`` per coordinate, so
               ``b = 2C / epsilon`` per coordinate                    ``n epsilon`` for the image (composition)
``scale``      ``b = s / epsilon`` (the paper's regime; ``s = 0.025``)  **none**: epsilon only indexes the noise
=============  =====================================================  ======================================

For the Gaussian mechanism ``sigma = Delta_2 sqrt(2 ln(1.25 / delta)) / epsilon`` (the
classical bound, valid for ``epsilon < 1``); ``clipped`` uses ``Delta_2 = 2 C sqrt(n)``
and guarantees ``(epsilon, delta)`` for the image. Noise is drawn from Sionna's torch
generator, so it follows linksim's per-batch seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

import torch

from ..errors import UserError

Calibration = Literal["strict", "clipped", "scale"]
MechanismName = Literal["laplace", "gaussian"]

#: The paper's regime: ``b = SCALE_INDEX / epsilon`` (feature SNR 0.0 / 6.0 / 25.1 dB at 0.05 / 0.1 / 0.9).
SCALE_INDEX = 0.025


@dataclass(frozen=True)
class DPMechanism:
    """Noise for a feature vector of ``2 * symbols`` reals with energy ``symbols * power``.

    :param mechanism: ``laplace`` (the paper) or ``gaussian``.
    :param epsilon: privacy budget (> 0).
    :param symbols: ``k``, complex symbols per message.
    :param calibration: ``strict``, ``clipped`` or ``scale`` (module docstring).
    :param power: ``P``, average energy per complex symbol.
    :param clip: ``C`` of ``clipped`` (default ``3 sqrt(P / 2)``: three standard deviations of a coordinate).
    :param scale_index: ``s`` of ``scale``.
    :param delta: ``delta`` of the Gaussian mechanism (0 < delta < 1).
    """

    mechanism: MechanismName
    epsilon: float
    symbols: int
    calibration: Calibration = "clipped"
    power: float = 1.0
    clip: Optional[float] = None
    scale_index: float = SCALE_INDEX
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if not self.epsilon > 0 or not math.isfinite(self.epsilon):
            raise UserError(f"dp.epsilon: must be a positive number, got {self.epsilon}")
        if self.symbols < 1:
            raise UserError(f"dp: needs at least one symbol, got {self.symbols}")
        if self.mechanism == "gaussian":
            if not 0 < self.delta < 1:
                raise UserError(f"dp.delta: must be in (0, 1), got {self.delta}")
            if self.calibration != "scale" and self.epsilon >= 1:
                raise UserError(f"dp.epsilon: the classical Gaussian mechanism needs epsilon < 1, got {self.epsilon}; "
                                "use mechanism: laplace or calibration: scale")
        if self.clip is not None and not self.clip > 0:
            raise UserError(f"dp.clip: must be positive, got {self.clip}")

    # ------------------------------------------------------------------ calibration
    @property
    def dimension(self) -> int:
        """``n = 2k`` real coordinates."""
        return 2 * self.symbols

    @property
    def clip_bound(self) -> Optional[float]:
        """``C`` when coordinates are clipped (``clipped``), else None."""
        if self.calibration != "clipped":
            return None
        return self.clip if self.clip is not None else 3.0 * math.sqrt(self.power / 2.0)

    @property
    def sensitivity(self) -> Optional[float]:
        """L1 (Laplace) or L2 (Gaussian) sensitivity the noise is calibrated to; None for ``scale``.

        ``clipped`` Laplace: per coordinate (``2C``), the guarantee composes over ``n``.
        """
        radius = math.sqrt(self.symbols * self.power)
        n = self.dimension
        if self.calibration == "scale":
            return None
        if self.calibration == "strict":
            return 2.0 * math.sqrt(n) * radius if self.mechanism == "laplace" else 2.0 * radius
        c = self.clip_bound
        return 2.0 * c if self.mechanism == "laplace" else 2.0 * c * math.sqrt(n)

    @property
    def noise_scale(self) -> float:
        """Laplace ``b`` or Gaussian ``sigma`` per real coordinate."""
        if self.calibration == "scale":
            return self.scale_index / self.epsilon
        if self.mechanism == "laplace":
            return self.sensitivity / self.epsilon
        return self.sensitivity * math.sqrt(2.0 * math.log(1.25 / self.delta)) / self.epsilon

    @property
    def noise_variance(self) -> float:
        """Variance of the noise per real coordinate (``2 b^2`` or ``sigma^2``)."""
        b = self.noise_scale
        return 2.0 * b * b if self.mechanism == "laplace" else b * b

    @property
    def epsilon_total(self) -> Optional[float]:
        """The image's guaranteed epsilon; None for ``scale`` (no guarantee)."""
        if self.calibration == "scale":
            return None
        if self.calibration == "clipped" and self.mechanism == "laplace":
            return self.dimension * self.epsilon
        return self.epsilon

    @property
    def feature_snr_db(self) -> float:
        """Signal power per real coordinate (``P / 2``) over the noise variance, in dB."""
        return 10.0 * math.log10((self.power / 2.0) / self.noise_variance)

    def guarantee(self) -> str:
        """One line for figure footers and provenance."""
        if self.calibration == "scale":
            return f"{self.mechanism} noise indexed by epsilon = {self.epsilon:g} (no formal DP guarantee)"
        delta = f", delta = {self.delta:g}" if self.mechanism == "gaussian" else ""
        return f"{self.mechanism} mechanism, {self.calibration}: ({self.epsilon_total:g}{delta})-DP per image"

    def describe(self) -> dict:
        """Everything a provenance record needs."""
        return {"mechanism": self.mechanism, "epsilon": self.epsilon, "calibration": self.calibration,
                "sensitivity": self.sensitivity, "clip": self.clip_bound, "noise_scale": self.noise_scale,
                "epsilon_total": self.epsilon_total, "delta": self.delta if self.mechanism == "gaussian" else 0.0,
                "feature_snr_db": self.feature_snr_db, "guarantee": self.guarantee()}

    # ------------------------------------------------------------------ noise
    def privatize(self, z: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """``z`` ``[..., n]`` real features -> clipped (``clipped``) plus noise, same shape and dtype."""
        if self.clip_bound is not None:
            z = z.clamp(-self.clip_bound, self.clip_bound)
        return z + self.sample(z.shape, z.dtype, z.device, generator)

    def sample(self, shape: torch.Size, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """I.i.d. noise of this mechanism (Laplace by inverse CDF, so one generator draw per value)."""
        if self.mechanism == "gaussian":
            return torch.randn(shape, dtype=dtype, device=device, generator=generator) * self.noise_scale
        u = torch.rand(shape, dtype=torch.float64, device=device, generator=generator) - 0.5
        noise = -self.noise_scale * torch.sign(u) * torch.log1p(-(2.0 * u.abs()).clamp(max=1.0 - 2.0**-53))
        return noise.to(dtype)

"""Closed-form (and quasi-closed-form) reference curves for uncoded links.

Every curve takes ``snr_db`` (Es/N0 in dB per complex channel use at unit symbol
energy, the convention of :mod:`linksim.phy.base`; a scalar or array) plus keyword
parameters, and returns a float numpy array of the same shape. The functions are
registered in :data:`linksim.registry.theory` under their own names, and each carries
a ``Params`` model (``fn.Params``) for validating scenario parameters::

    theory:
      - {type: ber_qam_awgn, order: 16}
      - {type: capacity_rician, k_factor: 2}

Bit error rates are for Gray-labelled square M-QAM (Sionna's ``"qam"``
constellation) and BPSK with hard decisions, from the exact expression of
Cho & Yoon (IEEE Trans. Commun., 2002). Capacities are in bit/s/Hz (per complex
channel use); fading capacities are ergodic with perfect receiver CSI.
"""

from __future__ import annotations

import math
from typing import Callable, Tuple, Type, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, ValidationInfo, field_validator
from scipy import integrate, special

from ..errors import UserError
from ..registry import ParamsModel, theory

__all__ = [
    "ber_qam_awgn",
    "ber_qam_rayleigh",
    "capacity_awgn",
    "capacity_rayleigh",
    "capacity_rician",
    "capacity_mimo_rayleigh",
    "qam_erfc_terms",
    "rician_power_pdf",
    "ber_qam_rayleigh_mrc",
    "ser_qam_awgn",
]

F = TypeVar("F", bound=Callable[..., NDArray[np.float64]])


def _curve(name: str, params: Type[ParamsModel]) -> Callable[[F], F]:
    """Register a curve in the theory registry and attach its ``Params`` model."""

    def decorator(fn: F) -> F:
        fn.Params = params  # type: ignore[attr-defined]
        return theory.register(name)(fn)

    return decorator


def _snr_linear(snr_db: ArrayLike) -> NDArray[np.float64]:
    return np.power(10.0, np.asarray(snr_db, dtype=np.float64) / 10.0)


# --------------------------------------------------------------------------------------
# Bit error rates
# --------------------------------------------------------------------------------------


def _check_order(order: int) -> int:
    """2 (BPSK) or a square QAM order 4, 16, 64, 256, ... (a power of 4)."""
    valid = isinstance(order, (int, np.integer)) and not isinstance(order, bool)
    if not valid or order < 2 or (order != 2 and (order & (order - 1) or math.log2(order) % 2)):
        raise UserError(f"order: must be 2 (BPSK) or a square QAM order 4, 16, 64, 256, ...; got {order!r}")
    return int(order)


def qam_erfc_terms(order: int) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Coefficients ``c`` and factors ``a`` with ``BER(gamma) = sum_i c_i erfc(a_i sqrt(gamma))``.

    ``gamma`` is Es/N0 (linear). For square M-QAM with ``L = sqrt(M)`` points per
    dimension this is Cho & Yoon's exact Gray-code BER: bit ``k = 1..log2 L`` of a
    dimension has error probability

    ``P_k = 1/L sum_{i=0}^{(1-2^-k)L-1} (-1)^floor(i 2^(k-1)/L)
    (2^(k-1) - floor(i 2^(k-1)/L + 1/2)) erfc((2i+1) sqrt(3 gamma / (2 (M-1))))``

    and the BER is the mean of ``P_k`` over ``k``. BPSK: ``Q(sqrt(2 gamma)) =
    erfc(sqrt(gamma)) / 2``.
    """
    order = _check_order(order)
    if order == 2:
        return np.array([0.5]), np.array([1.0])
    side = math.isqrt(order)
    bits = int(math.log2(side))
    coeffs = np.zeros(side - 1)  # term i uses erfc((2i+1) a0 sqrt(gamma)), i < L - 1
    for k in range(1, bits + 1):
        half_period = 2 ** (k - 1)
        for i in range((side - side // 2**k)):
            sign = (-1) ** ((i * half_period) // side)
            weight = half_period - math.floor(i * half_period / side + 0.5)
            coeffs[i] += sign * weight
    coeffs /= side * bits
    a0 = math.sqrt(3.0 / (2.0 * (order - 1)))
    factors = a0 * (2 * np.arange(side - 1) + 1)
    keep = coeffs != 0
    return coeffs[keep], factors[keep]


class _QamParams(ParamsModel):
    order: int = Field(le=2**16, description="constellation size: 2 (BPSK) or 4, 16, 64, 256, ... "
                                            "(<= 65536: the sum has sqrt(M) - 1 terms)")

    @field_validator("order")
    @classmethod
    def _square(cls, value: int) -> int:
        try:
            return _check_order(value)
        except UserError as exc:
            raise ValueError(str(exc).removeprefix("order: ")) from None


@_curve("ber_qam_awgn", _QamParams)
def ber_qam_awgn(snr_db: ArrayLike, order: int) -> NDArray[np.float64]:
    """Exact BER of Gray-coded square M-QAM / BPSK over AWGN, hard decisions.

    :param snr_db: Es/N0 [dB], scalar or array.
    :param order: 2 (BPSK) or a square QAM order (4, 16, 64, 256, ...).
    :return: bit error probability, same shape as ``snr_db``.
    """
    coeffs, factors = qam_erfc_terms(order)
    root = np.sqrt(_snr_linear(snr_db))[..., None]
    return np.sum(coeffs * special.erfc(factors * root), axis=-1)


@_curve("ser_qam_awgn", _QamParams)
def ser_qam_awgn(snr_db: ArrayLike, order: int) -> NDArray[np.float64]:
    """Exact symbol error rate of square M-QAM / BPSK over AWGN with nearest-point decisions.

    ``SER = 1 - (1 - 2 (1 - 1/L) Q(sqrt(3 gamma / (M - 1))))^2`` with ``L = sqrt(M)`` and
    ``gamma`` = Es/N0; BPSK: ``Q(sqrt(2 gamma))``. Independent of the labelling.

    :param snr_db: Es/N0 [dB], scalar or array.
    :param order: 2 (BPSK) or a square QAM order (4, 16, 64, 256, ...).
    :return: symbol error probability, same shape as ``snr_db``.
    """
    order = _check_order(order)
    gamma = _snr_linear(snr_db)
    if order == 2:
        return 0.5 * special.erfc(np.sqrt(gamma))
    side = math.isqrt(order)
    per_dimension = (1.0 - 1.0 / side) * special.erfc(np.sqrt(1.5 * gamma / (order - 1)))  # 2 (1-1/L) Q(.)
    return 1.0 - (1.0 - per_dimension) ** 2


@_curve("ber_qam_rayleigh", _QamParams)
def ber_qam_rayleigh(snr_db: ArrayLike, order: int) -> NDArray[np.float64]:
    """Exact average BER of Gray-coded square M-QAM / BPSK over flat Rayleigh fading.

    Coherent detection with perfect CSI. Each Cho-Yoon term ``erfc(a sqrt(gamma))``
    averaged over an exponential ``gamma`` of mean ``g`` is
    ``1 - sqrt(a^2 g / (1 + a^2 g))``, evaluated as
    ``1 / ((1 + a^2 g) (1 + sqrt(a^2 g / (1 + a^2 g))))`` to avoid cancellation. For
    BPSK this is ``(1 - sqrt(g / (1 + g))) / 2``.

    :param snr_db: average Es/N0 [dB], scalar or array.
    :param order: 2 (BPSK) or a square QAM order (4, 16, 64, 256, ...).
    :return: bit error probability, same shape as ``snr_db``.
    """
    coeffs, factors = qam_erfc_terms(order)
    x = factors**2 * _snr_linear(snr_db)[..., None]
    averaged = 1.0 / ((1.0 + x) * (1.0 + np.sqrt(x / (1.0 + x))))
    return np.sum(coeffs * averaged, axis=-1)


class _MrcParams(_QamParams):
    branches: int = Field(ge=1, le=64, strict=True, description="diversity branches N (1: plain Rayleigh)")


@_curve("ber_qam_rayleigh_mrc", _MrcParams)
def ber_qam_rayleigh_mrc(snr_db: ArrayLike, order: int, branches: int) -> NDArray[np.float64]:
    """Exact average BER of Gray-coded square M-QAM / BPSK with N-branch maximum-ratio
    combining over i.i.d. flat Rayleigh fading (perfect CSI).

    The post-combining SNR is ``gamma = g |h|^2`` with ``|h|^2 ~ Gamma(N, 1)``: the same
    as maximum-ratio transmission over N antennas, i.e. the dominant eigenmode (SVD
    precoding, one stream) of a 1xN or Nx1 channel. Each Cho-Yoon term
    ``erfc(a sqrt(gamma))`` averages to ``2 ((1 - mu) / 2)^N sum_k C(N-1+k, k) ((1 + mu) / 2)^k``
    with ``mu = sqrt(a^2 g / (1 + a^2 g))`` (Proakis, Digital Communications, eq. 14.4-15);
    ``N = 1`` is :func:`ber_qam_rayleigh`.

    :param snr_db: average Es/N0 per branch [dB], scalar or array.
    :param order: 2 (BPSK) or a square QAM order (4, 16, 64, 256, ...).
    :param branches: N >= 1.
    :return: bit error probability, same shape as ``snr_db``.
    """
    coeffs, factors = qam_erfc_terms(order)
    x = factors**2 * _snr_linear(snr_db)[..., None]
    mu = np.sqrt(x / (1.0 + x))
    k = np.arange(branches)
    weights = np.array([math.comb(branches - 1 + int(j), int(j)) for j in k], dtype=np.float64)
    series = np.sum(weights * ((1.0 + mu[..., None]) / 2.0) ** k, axis=-1)
    averaged = 2.0 * ((1.0 - mu) / 2.0) ** branches * series
    return np.sum(coeffs * averaged, axis=-1)


# --------------------------------------------------------------------------------------
# Capacities
# --------------------------------------------------------------------------------------


class _NoParams(ParamsModel):
    pass


@_curve("capacity_awgn", _NoParams)
def capacity_awgn(snr_db: ArrayLike) -> NDArray[np.float64]:
    """AWGN capacity ``log2(1 + snr)`` [bit per complex channel use].

    :param snr_db: Es/N0 [dB], scalar or array.
    """
    return np.log2(1.0 + _snr_linear(snr_db))


def _exp_e1(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``exp(x) E1(x)`` without overflow (Tricomi ``U(1, 1, x)`` for large x)."""
    small = x < 50.0
    safe = np.where(small, x, 1.0)
    return np.where(small, np.exp(safe) * special.exp1(safe), special.hyperu(1.0, 1.0, x))


@_curve("capacity_rayleigh", _NoParams)
def capacity_rayleigh(snr_db: ArrayLike) -> NDArray[np.float64]:
    """Ergodic capacity of flat Rayleigh fading: ``log2(e) exp(1/snr) E1(1/snr)``.

    :param snr_db: average Es/N0 [dB], scalar or array.
    """
    return np.log2(np.e) * _exp_e1(1.0 / _snr_linear(snr_db))


def rician_power_pdf(g: ArrayLike, k_factor: float) -> NDArray[np.float64]:
    """Density of ``|h|^2`` for Rician ``h`` with ``E|h|^2 = 1`` and K factor ``k_factor``.

    ``f(g) = (K+1) exp(-K - (K+1) g) I0(2 sqrt(K (K+1) g))``, written with the
    scaled Bessel function ``i0e`` so that it does not overflow for large K.
    """
    g = np.asarray(g, dtype=np.float64)
    k = float(k_factor)
    z = 2.0 * np.sqrt(k * (k + 1.0) * g)
    return (k + 1.0) * np.exp(-((np.sqrt((k + 1.0) * g) - np.sqrt(k)) ** 2)) * special.i0e(z)


class _RicianParams(ParamsModel):
    k_factor: float = Field(ge=0.0, allow_inf_nan=False, description="Rician K factor (linear)")


@_curve("capacity_rician", _RicianParams)
def capacity_rician(snr_db: ArrayLike, k_factor: float) -> NDArray[np.float64]:
    """Ergodic capacity of flat Rician fading, ``E[log2(1 + snr |h|^2)]``, E|h|^2 = 1.

    Numerical integration (``scipy.integrate.quad``) against :func:`rician_power_pdf`
    over ``mean +- 40`` standard deviations of ``|h|^2`` (clipped at 0), which holds
    all but a negligible part of the mass for every K.

    :param snr_db: average Es/N0 [dB], scalar or array.
    :param k_factor: K (linear), >= 0; K = 0 is Rayleigh fading.
    """
    if not k_factor >= 0.0 or not math.isfinite(k_factor):
        raise UserError(f"k_factor: must be finite and >= 0, got {k_factor!r}")
    std = math.sqrt(2.0 * k_factor + 1.0) / (k_factor + 1.0)
    lo, hi = max(0.0, 1.0 - 40.0 * std), 1.0 + 40.0 * std
    snr = _snr_linear(snr_db)

    def one(s: float) -> float:
        value, _ = integrate.quad(
            lambda g: np.log2(1.0 + s * g) * rician_power_pdf(g, k_factor),
            lo, hi, points=[1.0], limit=200, epsabs=1e-11, epsrel=1e-10,
        )
        return value

    return np.vectorize(one, otypes=[np.float64])(snr)


#: Largest ``samples x nr x nt`` of :func:`capacity_mimo_rayleigh`: complex128 draws held at
#: once (1.6 GB per array at the limit; 20000 draws of 64x64 fit).
MIMO_CAPACITY_MAX_ENTRIES = 10**8


class _MimoCapacityParams(ParamsModel):
    nt: int = Field(ge=1, le=64, description="transmit antennas (1..64, as the mimo channel)")
    nr: int = Field(ge=1, le=64, description="receive antennas (1..64, as the mimo channel)")
    samples: int = Field(default=20000, ge=100, le=10**6,
                         description="Monte-Carlo channel draws (100..10**6; samples x nr x nt <= 10**8)")
    seed: int = Field(default=0, ge=0, description="numpy seed of the Monte-Carlo draws")

    @field_validator("samples")
    @classmethod
    def _fits_memory(cls, value: int, info: ValidationInfo) -> int:
        nt, nr = info.data.get("nt"), info.data.get("nr")
        if nt is not None and nr is not None and value * nr * nt > MIMO_CAPACITY_MAX_ENTRIES:
            raise ValueError(f"samples x nr x nt = {value} x {nr} x {nt} exceeds {MIMO_CAPACITY_MAX_ENTRIES:.0e} "
                             f"channel entries held at once; use samples <= {MIMO_CAPACITY_MAX_ENTRIES // (nr * nt)}")
        return value


@_curve("capacity_mimo_rayleigh", _MimoCapacityParams)
def capacity_mimo_rayleigh(
    snr_db: ArrayLike, nt: int, nr: int, samples: int = 20000, seed: int = 0
) -> NDArray[np.float64]:
    """Ergodic capacity of i.i.d. Rayleigh MIMO without Tx CSI: ``E log2 det(I + snr/nt H H^H)``.

    A deterministic Monte-Carlo estimate: ``samples`` channel matrices of i.i.d.
    CN(0, 1) entries drawn with ``numpy.random.default_rng(seed)`` (the same draws for
    every SNR, so the curve is smooth); the standard error is roughly
    ``std(log2 det) / sqrt(samples)``, about 1e-2 bit at 20 dB for 2x2 and the default
    20000 samples. ``snr_db`` is the SNR per receive antenna (total Tx power 1).

    :param snr_db: average SNR per receive antenna [dB], scalar or array.
    :param nt: transmit antennas. :param nr: receive antennas.
    :param samples: number of channel draws. :param seed: numpy seed.
    """
    if nt < 1 or nr < 1 or samples < 1:
        raise UserError(f"nt, nr and samples must be >= 1, got nt={nt}, nr={nr}, samples={samples}")
    rng = np.random.default_rng(seed)
    shape = (samples, nr, nt)
    h = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)
    gram = h.conj().transpose(0, 2, 1) @ h if nt <= nr else h @ h.conj().transpose(0, 2, 1)
    eig = np.clip(np.linalg.eigvalsh(gram), 0.0, None)  # [samples, min(nt, nr)]
    snr = _snr_linear(snr_db)
    per_draw = np.log2(1.0 + snr[..., None, None] / nt * eig).sum(axis=-1)
    return per_draw.mean(axis=-1)

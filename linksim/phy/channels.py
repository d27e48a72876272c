"""Registered channel models: AWGN, flat Rayleigh/Rician fading and flat i.i.d. MIMO.

Every channel follows :class:`linksim.phy.base.Channel`: it takes complex symbols
``x`` of unit average energy and a noise variance ``no`` (see the SNR convention in
:mod:`linksim.phy.base`) and returns a :class:`~linksim.phy.base.ChannelOutput` with
the received samples, the true and estimated channel, the detected symbols ``x_hat``
and their effective noise variance ``no_eff``.

Scenario parameters (YAML), shared by the fading channels::

    channel:
      type: rician            # awgn | rayleigh | rician | mimo
      # mimo only: nt, nr, equalizer (zf | lmmse), precoding (none | svd), streams
      k_factor: 2.0           # rician only: K (linear), LOS power / scattered power
      los_phase: 0.0          # rician only: phase of the LOS component [rad]
      coherence: symbol       # symbol | block | <int> channel uses per fading block
      csi: perfect            # shorthand for {type: perfect}
      # csi: {type: imperfect, error_variance: 0.01}

Fading model. ``coherence`` decides how often the channel changes along the last
axis of ``x`` (the channel-use axis): ``"symbol"`` draws an independent channel for
every channel use, ``"block"`` one per example (per leading index of ``x``), an
integer ``c`` one per ``c`` consecutive channel uses (the last block may be shorter).

CSI. With ``csi: {type: imperfect, error_variance: s2}`` the receiver knows
``h_hat = h + e`` with ``e ~ CN(0, s2)`` drawn once per coherence block, and treats
the estimation error as extra Gaussian noise at unit symbol energy. SISO detection is
eq. (3) of Mem-DeepSC, ``x_hat = conj(h_hat) y / |h_hat|^2``, with
``no_eff = (no + s2) / |h_hat|^2``.

Randomness comes from Sionna's generator for the device of ``x``
(``sionna.phy.config.torch_rng``, resolved by :func:`sionna.phy.utils.complex_normal`).
All channels are differentiable with respect to ``x``.
"""

from __future__ import annotations

import cmath
import math
from typing import Annotated, Any, Callable, Dict, Literal, Optional, Sequence, Tuple, Union

import torch
from pydantic import Field, ValidationInfo, field_validator
from sionna.phy.mimo import lmmse_equalizer, zf_equalizer
from sionna.phy.utils import complex_normal

from ..registry import ParamsModel, build_component, channels
from .base import Channel, ChannelOutput, TensorLike

__all__ = [
    "AWGNChannel",
    "RayleighChannel",
    "RicianChannel",
    "MIMOChannel",
    "PerfectCSI",
    "ImperfectCSI",
    "FadingParams",
    "build_channel",
    "channel_spec",
]

#: Largest ``coherence`` in channel uses: at least the longest block any code here sends
#: (5G LDPC n <= 316 x 384 = 121344 bits), so a larger value would mean ``"block"``;
#: the fading draw repeats each block's gain ``coherence`` times before trimming it.
MAX_COHERENCE = 2**17

#: Largest number of transmit or receive antennas of the flat i.i.d. MIMO channel: a
#: generous engineering bound (8x8 is LTE/NR's largest spatial multiplexing) that
#: keeps the per-channel-use ``nr x nt`` matrices and their inversion finite.
MAX_ANTENNAS = 64

# Noise variance floor used by the LMMSE equalizer, so that ``no = 0`` (no noise)
# gives the zero-forcing limit instead of a division by zero in the whitening step.
_LMMSE_MIN_NOISE = 1e-10


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


class PerfectCSI(ParamsModel):
    """The receiver knows the channel exactly: ``h_hat = h``."""

    type: Literal["perfect"] = "perfect"


class ImperfectCSI(ParamsModel):
    """The receiver knows ``h_hat = h + e`` with ``e ~ CN(0, error_variance)`` per entry."""

    type: Literal["imperfect"]
    error_variance: float = Field(ge=0.0, allow_inf_nan=False)


CSIParams = Annotated[Union[PerfectCSI, ImperfectCSI], Field(discriminator="type")]

Coherence = Union[Literal["symbol", "block"], int]


class FadingParams(ParamsModel):
    """Parameters shared by the fading channels: time coherence and CSI."""

    coherence: Coherence = Field(
        default="symbol",
        description="'symbol' (i.i.d. per channel use), 'block' (one per example) or "
        f"an integer number of channel uses per fading block (1..{MAX_COHERENCE})",
    )
    csi: CSIParams = Field(default_factory=PerfectCSI, description="receiver channel knowledge")

    @field_validator("coherence", mode="plain")
    @classmethod
    def _check_coherence(cls, value: Any) -> Union[str, int]:
        if value in ("symbol", "block") or (type(value) is int and 1 <= value <= MAX_COHERENCE):
            return value
        raise ValueError(f"must be 'symbol', 'block' or an integer in 1..{MAX_COHERENCE} (channel uses; "
                         f"use 'block' for one channel per example), got {value!r}")

    @field_validator("csi", mode="before")
    @classmethod
    def _csi_shorthand(cls, value: Any) -> Any:
        """Accept ``csi: perfect`` as shorthand for ``csi: {type: perfect}``."""
        return {"type": value} if isinstance(value, str) else value

    @property
    def csi_error_variance(self) -> float:
        """Variance of the channel-estimation error per channel coefficient."""
        return self.csi.error_variance if isinstance(self.csi, ImperfectCSI) else 0.0


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def _precision(x: torch.Tensor) -> str:
    """Sionna precision matching a complex tensor's dtype."""
    if not x.is_complex():
        raise TypeError(f"channel input must be complex (complex64/complex128), got {x.dtype}")
    return "double" if x.dtype == torch.complex128 else "single"


def _cn(shape: Sequence[int], x: torch.Tensor, var: float = 1.0) -> torch.Tensor:
    """CN(0, var) samples on ``x``'s device and precision, from Sionna's generator."""
    return complex_normal(list(shape), var=var, precision=_precision(x), device=x.device)


def _noise_variance(no: TensorLike, x: torch.Tensor) -> torch.Tensor:
    """``no`` as a real tensor on ``x``'s device, broadcastable to ``x.shape``.

    A tensor of lower rank than ``x`` is read as broadcastable to ``x.shape[:-1]``
    (one value per example, numpy broadcasting) and gets a trailing unit axis.
    """
    real_dtype = x.real.dtype
    if not isinstance(no, torch.Tensor):
        if not math.isfinite(float(no)) or float(no) < 0.0:
            raise ValueError(f"noise variance must be finite and >= 0, got {no}")
        return torch.tensor(float(no), dtype=real_dtype, device=x.device)
    no = no.to(dtype=real_dtype, device=x.device)
    if 0 < no.dim() < x.dim():
        no = no.unsqueeze(-1)
    try:
        shape = torch.broadcast_shapes(no.shape, x.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"noise variance of shape {tuple(no.shape)} does not broadcast to the input "
            f"{tuple(x.shape)}; give one value per example (x.shape[:-1]) or per symbol"
        )
    return no


#: A receiver-side additive term: noiseless received signal ``[..., uses, nr]`` -> a term of
#: the same shape added to ``y`` (e.g. an attacker's ``H_a dx``, scaled to a power ratio).
Interference = Callable[[torch.Tensor], torch.Tensor]


def _received(y_clean: torch.Tensor, no_t: torch.Tensor, x: torch.Tensor,
              interference: Optional[Interference]) -> torch.Tensor:
    """``y = y_clean + n (+ interference(y_clean))`` with ``n ~ CN(0, no)`` per entry.

    :param y_clean: ``[..., uses, nr]`` noiseless received signal.
    :param no_t: noise variance, a scalar or ``[..., 1]`` (one per example).
    """
    y = y_clean + no_t.sqrt().to(x.dtype).unsqueeze(-1) * _cn(y_clean.shape, x)
    return y if interference is None else y + interference(y_clean)


def _num_blocks(coherence: Union[str, int], n: int) -> int:
    """Number of independent fading realisations along a channel-use axis of length n."""
    if coherence == "symbol":
        return n
    if coherence == "block":
        return 1
    return -(-n // int(coherence))


def _expand_blocks(g: torch.Tensor, coherence: Union[str, int], n: int, dim: int) -> torch.Tensor:
    """Expand per-block values ``g`` along ``dim`` to ``n`` channel uses."""
    if coherence == "symbol":
        return g
    if coherence == "block":
        shape = list(g.shape)
        shape[dim] = n
        return g.expand(shape)
    return g.repeat_interleave(int(coherence), dim=dim).narrow(dim, 0, n)


# --------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------


@channels.register("awgn")
class AWGNChannel(Channel):
    """Additive white Gaussian noise: ``y = x + n``, ``n ~ CN(0, no)``.

    :input x: ``[..., n]``, complex64/complex128, unit average energy.
    :input no: float or real tensor broadcastable to ``x.shape[:-1]`` or ``x.shape``.
    :output: :class:`ChannelOutput` with ``y = x_hat`` ``[..., n]``, ``h = h_hat = 1``
        (expanded to ``[..., n]``) and ``no_eff = no`` expanded to ``[..., n]`` (real).
    """

    class Params(ParamsModel):
        """The AWGN channel has no parameters."""

    def __call__(self, x: torch.Tensor, no: TensorLike) -> ChannelOutput:
        no_t = _noise_variance(no, x)
        y = x + no_t.sqrt().to(x.dtype) * _cn(x.shape, x)
        ones = torch.ones((), dtype=x.dtype, device=x.device).expand(x.shape)
        return ChannelOutput(y=y, h=ones, h_hat=ones, x_hat=y, no_eff=no_t.expand(x.shape))

    def capacity(self, snr_db: float) -> Optional[float]:
        """``log2(1 + SNR)`` (:func:`~linksim.phy.theory.capacity_awgn`)."""
        from .theory import capacity_awgn

        return float(capacity_awgn(snr_db))


class _FadingChannel(Channel):
    """Fading channel drawing per coherence block, with (im)perfect CSI.

    Subclasses implement :meth:`_draw_gain` (the fading distribution) and ``__call__``.
    """

    Params = FadingParams
    params: FadingParams

    def _draw_gain(self, shape: Sequence[int], x: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """Channel coefficients of the given shape, E|h|^2 = 1, dtype of ``x``."""
        raise NotImplementedError

    def _realise(
        self, x: torch.Tensor, lead: Sequence[int], n_uses: int, tail: Sequence[int] = ()
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """True channel ``h`` and receiver estimate ``h_hat``, both ``[*lead, n_uses, *tail]``.

        One realisation (and one estimation error) per coherence block along the
        channel-use axis.
        """
        coherence = self.params.coherence
        shape = [*lead, _num_blocks(coherence, n_uses), *tail]
        h = self._draw_gain(shape, x)
        h_hat = h
        if isinstance(self.params.csi, ImperfectCSI):
            h_hat = h + _cn(shape, x, var=self.params.csi.error_variance)
        dim = len(lead)
        return _expand_blocks(h, coherence, n_uses, dim), _expand_blocks(h_hat, coherence, n_uses, dim)


class _SisoFadingChannel(_FadingChannel):
    """Flat SISO fading ``y = h x + n`` with Mem-DeepSC eq. (3) detection.

    :input x: ``[..., n]``, complex64/complex128, unit average energy.
    :input no: float or real tensor broadcastable to ``x.shape[:-1]`` or ``x.shape``.
    :output: :class:`ChannelOutput`; ``y``, ``h``, ``h_hat``, ``x_hat``: ``[..., n]``
        complex; ``no_eff``: ``[..., n]`` real, ``(no + error_variance) / |h_hat|^2``.
    """

    def __call__(self, x: torch.Tensor, no: TensorLike) -> ChannelOutput:
        no_t = _noise_variance(no, x)
        h, h_hat = self._realise(x, x.shape[:-1], x.shape[-1])
        y = h * x + no_t.sqrt().to(x.dtype) * _cn(x.shape, x)
        gain = h_hat.abs().square()
        x_hat = h_hat.conj() * y / gain
        no_eff = (no_t + self.params.csi_error_variance) / gain
        return ChannelOutput(y=y, h=h, h_hat=h_hat, x_hat=x_hat, no_eff=no_eff)


@channels.register("rayleigh")
class RayleighChannel(_SisoFadingChannel):
    """Flat Rayleigh fading, ``h ~ CN(0, 1)``.

    Parameters: ``coherence`` and ``csi`` (see :class:`FadingParams`).

    :input x: ``[..., n]``, complex64/complex128, unit average energy.
    :input no: float or real tensor broadcastable to ``x.shape[:-1]`` or ``x.shape``.
    :output: :class:`ChannelOutput`, all fields ``[..., n]`` (see :class:`_SisoFadingChannel`).
    """

    class Params(FadingParams):
        """Flat Rayleigh fading parameters."""

    def _draw_gain(self, shape: Sequence[int], x: torch.Tensor) -> torch.Tensor:
        return _cn(shape, x)

    def capacity(self, snr_db: float) -> Optional[float]:
        """Ergodic capacity ``E[log2(1 + |h|^2 SNR)]`` (:func:`~linksim.phy.theory.capacity_rayleigh`)."""
        from .theory import capacity_rayleigh

        return float(capacity_rayleigh(snr_db))


@channels.register("rician")
class RicianChannel(_SisoFadingChannel):
    """Flat Rician fading, ``h = sqrt(K/(K+1)) e^{j phi} + sqrt(1/(K+1)) CN(0, 1)``.

    ``E|h|^2 = 1``; ``K = 0`` is Rayleigh fading. Parameters: ``k_factor`` (K, linear,
    required), ``los_phase`` (phi, radians, default 0), ``coherence``, ``csi``.

    :input x: ``[..., n]``, complex64/complex128, unit average energy.
    :input no: float or real tensor broadcastable to ``x.shape[:-1]`` or ``x.shape``.
    :output: :class:`ChannelOutput`, all fields ``[..., n]`` (see :class:`_SisoFadingChannel`).
    """

    class Params(FadingParams):
        """Flat Rician fading parameters."""

        k_factor: float = Field(ge=0.0, allow_inf_nan=False, description="Rician K factor (linear)")
        los_phase: float = Field(default=0.0, allow_inf_nan=False, description="LOS phase [rad]")

    params: "RicianChannel.Params"

    def _draw_gain(self, shape: Sequence[int], x: torch.Tensor) -> torch.Tensor:
        k = self.params.k_factor
        los = cmath.rect(math.sqrt(k / (k + 1.0)), self.params.los_phase)
        return los + _cn(shape, x, var=1.0 / (k + 1.0))

    def capacity(self, snr_db: float) -> Optional[float]:
        """Ergodic capacity at the K factor (:func:`~linksim.phy.theory.capacity_rician`)."""
        from .theory import capacity_rician

        return float(capacity_rician(snr_db, self.params.k_factor))


@channels.register("mimo")
class MIMOChannel(_FadingChannel):
    """Flat i.i.d. Rayleigh MIMO channel: spatial multiplexing with ZF/LMMSE, or SVD precoding.

    The symbols along the last axis of ``x`` are grouped into ``n / nt`` vectors
    ``s`` of ``nt`` unit-energy symbols; each vector is sent over one channel use as
    ``s / sqrt(nt)`` (total transmit power 1), so ``y = H s / sqrt(nt) + n`` with
    ``H`` of i.i.d. CN(0, 1) entries and ``n ~ CN(0, no I_nr)``: ``snr_db`` is the SNR
    per receive antenna. The receiver equalises with Sionna's
    :func:`~sionna.phy.mimo.zf_equalizer` / :func:`~sionna.phy.mimo.lmmse_equalizer`
    on the effective channel ``H_hat / sqrt(nt)`` and noise covariance
    ``(no + error_variance) I_nr``, so ``x_hat`` estimates the unit-energy symbols.

    With ``precoding: svd`` (CSI at both ends) each channel use carries ``S = streams``
    symbols on the ``S`` strongest eigenmodes of ``H_hat = U diag(sigma) V^H``: the
    transmitter sends ``V[:, :S] s / sqrt(S)`` (total power 1, equal per stream), the
    receiver combines ``r = U[:, :S]^H y`` and detects ``s_hat_i = sqrt(S) r_i / sigma_i``
    with ``no_eff_i = S (no + error_variance) / sigma_i^2`` (exact with perfect CSI).
    ``streams: 1`` is maximum-ratio transmission and combining on the dominant eigenmode.

    Parameters: ``nt``, ``nr`` (required), ``precoding`` ("none": ``nt`` streams, the
    default; "svd"), ``streams`` ("none": ``nt``; "svd": 1..min(nt, nr), default
    min(nt, nr)), ``equalizer`` (precoding "none" only; "zf" needs ``nr >= nt``;
    default "lmmse"), ``coherence`` (counted in channel uses, i.e. vectors; default
    one ``H`` per channel use) and ``csi``.

    :input x: ``[..., n]``, complex64/complex128, ``n`` a multiple of the stream count
        :attr:`symbols_multiple`.
    :input no: float or real tensor broadcastable to ``x.shape[:-1]`` (one value per
        example; a per-symbol noise variance is not supported).
    :input interference: optional :data:`Interference`, called with the noiseless received
        signal ``[..., n/S, nr]``; what it returns is added to ``y`` before detection (a
        receiver-side attacker, e.g. Algorithm 1 of the masked VQ-VAE paper). ``no_eff``
        does not include it.
    :output: :class:`ChannelOutput` with ``y`` ``[..., n/S, nr]``, ``h`` and ``h_hat``
        ``[..., n/S, nr, nt]`` (unit-variance entries, without the power scaling),
        ``x_hat`` ``[..., n]`` complex and ``no_eff`` ``[..., n]`` real (per stream).
    """

    class Params(FadingParams):
        """Flat i.i.d. Rayleigh MIMO parameters."""

        nt: int = Field(ge=1, le=MAX_ANTENNAS, strict=True,
                        description=f"number of transmit antennas (1..{MAX_ANTENNAS})")
        nr: int = Field(ge=1, le=MAX_ANTENNAS, strict=True,
                        description=f"number of receive antennas (1..{MAX_ANTENNAS})")
        equalizer: Literal["zf", "lmmse"] = Field(default="lmmse", description="'zf' or 'lmmse' "
                                                                         "(precoding: none)")
        precoding: Literal["none", "svd"] = Field(
            default="none", description="'none': nt independent streams, equalised at the receiver; "
                                        "'svd': streams on the strongest eigenmodes (CSI at both ends)")
        streams: Optional[int] = Field(default=None, ge=1, le=MAX_ANTENNAS, strict=True,
                                       description="symbols per channel use (precoding none: nt; "
                                                   "svd: 1..min(nt, nr), default min(nt, nr))")

        @field_validator("equalizer")
        @classmethod
        def _zf_needs_enough_antennas(cls, value: str, info: ValidationInfo) -> str:
            nt, nr = info.data.get("nt"), info.data.get("nr")
            if value == "zf" and nt is not None and nr is not None and nr < nt:
                raise ValueError(f"'zf' needs nr >= nt (got nr={nr}, nt={nt}); use 'lmmse'")
            return value

        @field_validator("streams")
        @classmethod
        def _streams_fit(cls, value: Optional[int], info: ValidationInfo) -> Optional[int]:
            nt, nr, precoding = info.data.get("nt"), info.data.get("nr"), info.data.get("precoding")
            if value is None or nt is None or nr is None:
                return value
            if precoding == "none" and value != nt:
                raise ValueError(f"precoding: none sends nt={nt} streams (got {value}); "
                                 "use precoding: svd for fewer")
            if value > min(nt, nr):
                raise ValueError(f"{value} streams exceed min(nt, nr) = {min(nt, nr)}")
            return value

    params: "MIMOChannel.Params"

    @property
    def streams(self) -> int:
        """Symbols sent per channel use (``S``)."""
        p = self.params
        if p.precoding == "none":
            return p.nt
        return p.streams if p.streams is not None else min(p.nt, p.nr)

    @property
    def symbols_multiple(self) -> int:
        return self.streams

    def _draw_gain(self, shape: Sequence[int], x: torch.Tensor) -> torch.Tensor:
        return _cn(shape, x)

    def __call__(self, x: torch.Tensor, no: TensorLike, interference: Optional[Interference] = None) -> ChannelOutput:
        nt, nr, streams = self.params.nt, self.params.nr, self.streams
        n = x.shape[-1]
        if n % streams != 0:
            raise ValueError(f"MIMO channel: the block length {n} is not a multiple of the {streams} streams")
        no_t = _noise_variance(no, x)
        if no_t.dim() > 0 and no_t.shape[-1] != 1:
            raise ValueError("MIMO channel: give one noise variance per example, not per symbol")
        lead, uses = x.shape[:-1], n // streams
        s = x.reshape(*lead, uses, streams)
        h, h_hat = self._realise(x, lead, uses, (nr, nt))
        if self.params.precoding == "svd":
            return self._svd_link(x, s, h, h_hat, no_t, interference)
        scale = 1.0 / math.sqrt(nt)
        # no_t is a scalar or [..., 1]: one variance per example, broadcast over uses
        y = _received(scale * (h @ s.unsqueeze(-1)).squeeze(-1), no_t, x, interference)

        noise_var = no_t + self.params.csi_error_variance
        if self.params.equalizer == "lmmse":
            noise_var = noise_var.clamp_min(_LMMSE_MIN_NOISE)
        eye = torch.eye(nr, dtype=x.dtype, device=x.device)
        cov = noise_var.to(x.dtype)[..., None, None] * eye  # [..., 1, nr, nr]
        if self.params.equalizer == "zf":
            s_hat, no_eff = zf_equalizer(y, scale * h_hat, cov, precision=_precision(x))
        else:
            # Sionna's LMMSE returns no_eff = 1/d - 1 with d -> 1 at high SNR; in single
            # precision that cancels to 0 above ~50 dB, so equalise in double precision.
            s_hat, no_eff = lmmse_equalizer(y, scale * h_hat, cov, precision="double")
        return ChannelOutput(
            y=y,
            h=h,
            h_hat=h_hat,
            x_hat=s_hat.to(x.dtype).reshape(x.shape),
            no_eff=no_eff.to(x.real.dtype).clamp_min(0.0).reshape(x.shape),
        )


    def svd_detect(self, y: torch.Tensor, h_hat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The SVD receiver (``precoding: svd``), differentiable in ``y``: combine
        ``r = U[:, :S]^H y`` and scale ``s_hat_i = sqrt(S) r_i / sigma_i``.

        :param y: ``[..., uses, nr]`` received signal.
        :param h_hat: ``[..., uses, nr, nt]`` channel estimate.
        :return: ``s_hat`` ``[..., uses, S]`` complex and the gains ``sigma`` ``[..., uses, S]`` real.
        """
        streams = self.streams
        u, sigma, _ = torch.linalg.svd(h_hat)  # sigma descending, [..., uses, min(nt, nr)]
        combiner = u[..., :, :streams].conj().transpose(-1, -2)  # U[:, :S]^H, [..., uses, S, nr]
        gain = sigma[..., :streams].to(y.real.dtype)  # [..., uses, S]
        r = (combiner @ y.unsqueeze(-1)).squeeze(-1)
        return r * (math.sqrt(streams) / gain).to(y.dtype), gain

    def _svd_link(self, x: torch.Tensor, s: torch.Tensor, h: torch.Tensor, h_hat: torch.Tensor,
                  no_t: torch.Tensor, interference: Optional[Interference] = None) -> ChannelOutput:
        """SVD precoding and combining on the ``S`` strongest eigenmodes of ``h_hat``.

        :input s: ``[..., uses, S]`` unit-energy symbols; ``h``, ``h_hat``: ``[..., uses, nr, nt]``.
        """
        streams = s.shape[-1]
        _, _, vh = torch.linalg.svd(h_hat)
        precoder = vh[..., :streams, :].conj().transpose(-1, -2)  # V[:, :S], [..., uses, nt, S]
        sent = (precoder @ s.unsqueeze(-1)).squeeze(-1) / math.sqrt(streams)  # [..., uses, nt]
        y = _received((h @ sent.unsqueeze(-1)).squeeze(-1), no_t, x, interference)
        s_hat, gain = self.svd_detect(y, h_hat)
        noise_var = (no_t + self.params.csi_error_variance).unsqueeze(-1)  # [..., 1, 1] or scalar
        no_eff = streams * noise_var / gain.square()
        return ChannelOutput(y=y, h=h, h_hat=h_hat, x_hat=s_hat.reshape(x.shape),
                             no_eff=no_eff.to(x.real.dtype).expand(s_hat.shape).reshape(x.shape))


def build_channel(spec: Union[Dict[str, Any], Channel], field: str = "channel") -> Channel:
    """Build a registered channel from ``{type: name, **params}`` (a Channel passes through).

    :raises UserError: unknown type or invalid parameter, naming ``field.<param>``.
    """
    if isinstance(spec, Channel):
        return spec
    return build_component(channels, spec, field=field)


def channel_spec(channel: Channel) -> Optional[Dict[str, Any]]:
    """The ``{type: name, **params}`` mapping that rebuilds a registered channel."""
    name = vars(type(channel)).get("registered_name")
    if name is None:  # not registered itself (e.g. an unregistered subclass)
        return None
    return {"type": name, **channel.params.model_dump(mode="json")}

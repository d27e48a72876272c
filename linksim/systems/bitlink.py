"""Classical bit link: random bits -> channel code -> QAM -> channel -> APP demapper -> decoder.

The reference digital link of linksim, on the PHY chain that every classical baseline
shares (:class:`~linksim.phy.link.CodedModulationLink`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, FrozenSet, Literal, Mapping, Optional

import torch
from pydantic import Field

from ..phy.base import ebno_db_from_snr_db, snr_db_from_ebno_db
from ..phy.channels import build_channel
from ..phy.link import CodedModulationLink, build_link
from ..registry import ParamsModel, systems
from .base import System, SystemContext


def _generator_device(device: str) -> str:
    """Key of Sionna's generator for ``device``: ``"cuda"`` means the current GPU (``"cuda:0"``)."""
    resolved = torch.device(device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", torch.cuda.current_device())
    return str(resolved)


def _snr_of(point: Mapping[str, float], bits_per_symbol: int, rate: float) -> float:
    if "snr_db" in point:
        return float(point["snr_db"])
    return snr_db_from_ebno_db(point["ebno_db"], bits_per_symbol, rate)


@systems.register("bit_link")
class BitLink(System):
    """Random information bits over a coded, modulated link (BER/BLER).

    Params (YAML ``params:``):

    * ``code``: a code spec, e.g. ``{type: ldpc5g, k: 512, n: 1024}``; default uncoded.
    * ``modulation``: constellation order (2 = BPSK, 4, 16, 64, 256 = square QAM).
    * ``demapping``: ``app`` (default, exact LLRs for decoders) or ``maxlog``. For
      *uncoded* BER, the sign of the APP LLR is a bit-wise MAP decision, which beats
      the nearest-point decisions that the closed-form QAM BER describes by a few
      percent at low SNR; use ``maxlog`` to compare with that theory.

    Sweep parameters: ``snr_db`` (Es/N0 per channel use) or ``ebno_db`` (converted with
    the code rate and bits per symbol, padding not counted).
    """

    class Params(ParamsModel):
        code: Dict[str, Any] = Field(default_factory=lambda: {"type": "uncoded", "k": 1200})
        modulation: int = Field(4, description="constellation order: 2 (BPSK), 4, 16, 64, 256, 1024")
        demapping: Literal["app", "maxlog"] = Field(
            "app", description="APP (exact LLRs) or max-log; max-log signs are nearest-point decisions")

    sweep_parameters: ClassVar[FrozenSet[str]] = frozenset({"snr_db", "ebno_db"})
    sweep_labels: ClassVar[Dict[str, str]] = {**System.sweep_labels, "ebno_db": "$E_b/N_0$ (dB)"}
    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"ber", "bler"})

    @classmethod
    def _build_link(cls, params: "BitLink.Params", context: SystemContext, field: str) -> CodedModulationLink:
        return build_link(params.code, params.modulation, build_channel(context.channel, field="channel"),
                          field=field, demapping=params.demapping)

    @classmethod
    def validate_context(cls, params: ParamsModel, context: SystemContext) -> None:
        cls._build_link(params, context, field="params")  # type: ignore[arg-type]

    #: Peak bytes per information bit and per coded bit of one batch (bits, LLRs, symbols,
    #: channel gains and decoder messages). Measured peaks (CPU, one thread) were 0.2-1.0 of
    #: this estimate (Turbo the closest): uncoded QPSK k=1200, 5G LDPC (512, 1024) QPSK, Turbo k=256 16-QAM,
    #: 802.16e LDPC n=2304 r=1/2 64-QAM.
    BYTES_PER_INFO_BIT, BYTES_PER_CODED_BIT = 16, 160

    @classmethod
    def batch_memory_bytes(cls, params: ParamsModel, context: SystemContext, batch_size: int) -> Optional[float]:
        code = cls._build_link(params, context, field="params").code  # type: ignore[arg-type]
        return float(batch_size) * (code.k * cls.BYTES_PER_INFO_BIT + code.n * cls.BYTES_PER_CODED_BIT)

    def setup(self) -> None:
        self.link = self._build_link(self.params, self.context, field="params")  # type: ignore[arg-type]
        self.k = self.link.code.k
        self._device = _generator_device(self.context.device)

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        import sionna.phy

        device = self._device
        snr_db = _snr_of(point, self.link.modulation.bits_per_symbol, self.link.code.rate)
        gen = sionna.phy.config.torch_rng(device)
        # float32 directly: the same draws as int64 randint followed by a copy to float32
        u = torch.randint(0, 2, (batch_size, self.k), generator=gen, device=device, dtype=torch.float32)
        u_hat = self.link.transmit(u, snr_db)
        errors = u_hat != u
        counts = torch.stack([errors.sum(), errors.any(dim=-1).sum()]).tolist()  # one device sync
        return {"bit_errors": counts[0], "bits": float(u.numel()), "block_errors": counts[1], "blocks": float(batch_size)}

    def provenance(self) -> Dict[str, Any]:
        link = self.link
        return {
            "code": dict(self.params.code),  # type: ignore[attr-defined]
            "k": link.code.k,
            "n": link.code.n,
            "code_rate": link.code.rate,
            "bits_per_symbol": link.modulation.bits_per_symbol,
            "symbols_per_block": link.symbols_per_block,
            "info_bits_per_channel_use": link.bits_per_channel_use,
            "ebno_db_offset": ebno_db_from_snr_db(0.0, link.modulation.bits_per_symbol, link.code.rate),
            "data": "uniform random bits",
        }

"""Classical bit link: random bits -> channel code -> QAM -> channel -> APP demapper -> decoder.

The reference digital link of linksim and the back end of every classical baseline
(text and image codecs put their bytes through the same chain, see
:class:`CodedModulationLink`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Dict, FrozenSet, Literal, Mapping, Optional, Union

import torch
from pydantic import Field

from ..errors import UserError
from ..phy.base import Channel, ChannelCode, ebno_db_from_snr_db, snr_db_from_ebno_db, snr_db_to_no
from ..phy.channels import build_channel
from ..phy.codes import Ldpc5G, WimaxLdpc, build_code
from ..phy.modulation import Modulation
from ..registry import ParamsModel, systems
from .base import System, SystemContext


_BP_DECODED_CODES = (Ldpc5G, WimaxLdpc)
"""Codes decoded in cache-sized chunks on the CPU (see :class:`CodedModulationLink`)."""


class CodedModulationLink:
    """Channel code + modulation + channel + demapper + decoder, on blocks of bits.

    :param code: The channel code (k information bits per block).
    :param modulation: The constellation.
    :param channel: The channel; blocks are padded with random bits so each block fills
        a whole number of channel uses (``channel.symbols_multiple``).

    On the CPU, for belief-propagation (LDPC) decoders, the receiver (demapper and
    decoder, which draw no random numbers) runs on chunks of about :attr:`cpu_chunk_bits`
    code bits per intra-op thread: BP makes many passes over ``[batch, edges]`` tensors,
    and chunks that stay in the CPU caches decode 1.2-1.6x faster than batches of
    200-1000 blocks (benchmarks/README.md). Every block is decoded on its own, so the
    results are bit-identical to decoding the whole batch at once. Other decoders have a
    large cost per call (the turbo decoder's trellis loop: 4.5-10x slower in chunks), so
    they, and GPUs, get the whole batch in one call. A code may set its own
    ``cpu_chunk_bits`` attribute (0: never).
    """

    cpu_chunk_bits: ClassVar[int] = 16384
    """Code bits per receiver chunk and intra-op thread on the CPU, for BP-decoded codes."""

    def __init__(self, code: ChannelCode, modulation: Modulation, channel: Channel) -> None:
        self.code = code
        self.modulation = modulation
        self.channel = channel
        chunk_bits = getattr(code, "cpu_chunk_bits", None)
        if chunk_bits is None:
            chunk_bits = self.cpu_chunk_bits if isinstance(code, _BP_DECODED_CODES) else 0
        self._chunk_bits = int(chunk_bits)
        m = modulation.bits_per_symbol
        multiple = m * channel.symbols_multiple
        self.padded_bits = -(-code.n // multiple) * multiple

    @property
    def symbols_per_block(self) -> int:
        """Complex channel uses per code block (including padding)."""
        return self.padded_bits // self.modulation.bits_per_symbol

    @property
    def bits_per_channel_use(self) -> float:
        """Information bits per complex channel use."""
        return self.code.k / self.symbols_per_block

    def transmit(self, u: torch.Tensor, snr_db: float) -> torch.Tensor:
        """Send information blocks through the link.

        :param u: ``[batch, k]`` float 0/1 information bits.
        :param snr_db: Es/N0 per complex channel use (dB).
        :returns: ``[batch, k]`` decoded bits.
        """
        import sionna.phy

        c = self.code.encode(u)
        pad = self.padded_bits - self.code.n
        if pad:
            gen = sionna.phy.config.torch_rng(str(c.device))
            filler = torch.randint(0, 2, (*c.shape[:-1], pad), generator=gen, device=c.device, dtype=c.dtype)
            c = torch.cat([c, filler], dim=-1)
        x = self.modulation.map(c)
        out = self.channel(x, snr_db_to_no(snr_db))
        return self.receive(out.x_hat, out.no_eff)

    def receive(self, x_hat: torch.Tensor, no_eff: Union[torch.Tensor, float]) -> torch.Tensor:
        """Demap and decode detected symbols (deterministic: draws no random numbers).

        :param x_hat: ``[batch, s]`` complex detected symbols (``s`` = :attr:`symbols_per_block`).
        :param no_eff: Their effective noise variance: a float or a real tensor
            broadcastable to ``x_hat`` (as in :class:`~linksim.phy.base.ChannelOutput`).
        :returns: ``[batch, k]`` decoded bits.
        """
        rows = self._chunk_rows(x_hat)
        if not rows or rows >= x_hat.shape[0]:
            return self._demap_decode(x_hat, no_eff)
        split_no = (isinstance(no_eff, torch.Tensor) and no_eff.dim() == x_hat.dim()
                    and no_eff.shape[0] == x_hat.shape[0])
        parts = []
        for start in range(0, x_hat.shape[0], rows):
            no = no_eff[start:start + rows] if split_no else no_eff
            parts.append(self._demap_decode(x_hat[start:start + rows], no))
        return torch.cat(parts, dim=0)

    def _demap_decode(self, x_hat: torch.Tensor, no_eff: Union[torch.Tensor, float]) -> torch.Tensor:
        llr = self.modulation.demap(x_hat, no_eff)[..., : self.code.n]
        return self.code.decode(llr)

    def _chunk_rows(self, x_hat: torch.Tensor) -> int:
        """Rows of ``x_hat`` per receiver chunk; 0: no chunking (off the CPU, or disabled)."""
        if x_hat.device.type != "cpu" or self._chunk_bits <= 0 or x_hat.dim() < 2:
            return 0
        bits_per_row = self.padded_bits * math.prod(x_hat.shape[1:-1])
        return max(1, self._chunk_bits * torch.get_num_threads() // max(1, bits_per_row))


def _generator_device(device: str) -> str:
    """Key of Sionna's generator for ``device``: ``"cuda"`` means the current GPU (``"cuda:0"``)."""
    resolved = torch.device(device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", torch.cuda.current_device())
    return str(resolved)


def build_link(code: Mapping[str, Any], order: int, channel: Channel, *, field: str = "params",
               demapping: str = "app") -> CodedModulationLink:
    """A :class:`CodedModulationLink` from a code spec and a constellation order.

    :raises UserError: naming ``<field>.code`` or ``<field>.modulation``.
    """
    try:
        modulation = Modulation(order, demapping)
    except ValueError as exc:
        raise UserError(f"{field}.modulation: {exc}") from None
    return CodedModulationLink(build_code(dict(code), field=f"{field}.code"), modulation, channel)


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

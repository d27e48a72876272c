"""A coded, modulated digital link on blocks of bits: the PHY chain of every classical link.

:class:`CodedModulationLink` is channel code -> QAM mapper -> channel -> APP demapper ->
decoder. The bit link (``bit_link``) sends random bits through it; the text and image
baselines send their source codecs' bytes (:mod:`linksim.source.payload`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping, Optional, Union

import torch

from ..errors import UserError
from .base import Channel, ChannelCode, snr_db_to_no
from .codes import Ldpc5G, WimaxLdpc, build_code
from .modulation import Modulation

__all__ = ["CodedModulationLink", "build_link"]


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
    and with Sionna's BP decoder chunks that stay in the CPU caches decoded 1.2-1.6x
    faster than batches of 200-1000 blocks; with linksim's faster decoder
    (:mod:`linksim.phy.ldpc_decoder`) chunks and whole batches decode at about the same
    speed (benchmarks/README.md). Every block is decoded on its own, so the
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

    def transmit(self, u: torch.Tensor, snr_db: float, *, channel: Optional[Channel] = None,
                 serial: bool = False, blocks_per_row: int = 1) -> torch.Tensor:
        """Send information blocks through the link.

        :param u: ``[batch, k]`` float 0/1 information bits.
        :param snr_db: Es/N0 per complex channel use (dB).
        :param channel: Send through this channel instead of the link's own (same kind
            of channel, e.g. with another ``coherence``).
        :param serial: The blocks go out one after another on one channel: the channel
            sees one row of ``batch x symbols_per_block`` channel uses, so fading blocks
            (``coherence``) run across code-block boundaries. Default: each block is its
            own row (its own ``block`` fade).
        :param blocks_per_row: Consecutive blocks that share one channel row (one
            ``coherence: block`` fade), e.g. the blocks of one message; ``batch`` must be
            a multiple of it. Ignored with ``serial``.
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
        if serial:
            rows = x.reshape(1, -1)
        elif blocks_per_row > 1:
            if x.shape[0] % blocks_per_row:
                raise ValueError(f"blocks_per_row = {blocks_per_row} does not divide the batch of {x.shape[0]} blocks")
            rows = x.reshape(x.shape[0] // blocks_per_row, -1)
        else:
            rows = x
        out = (channel or self.channel)(rows, snr_db_to_no(snr_db))
        x_hat, no_eff = out.x_hat, out.no_eff
        if rows is not x:
            x_hat = x_hat.reshape(x.shape)
            no_eff = no_eff.reshape(x.shape) if isinstance(no_eff, torch.Tensor) and no_eff.dim() else no_eff
        return self.receive(x_hat, no_eff)

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

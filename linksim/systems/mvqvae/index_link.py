"""Codebook indices over a linksim channel as uncoded Gray M-QAM (paper Sec. III-B, Table I).

Each image's indices ``[T]`` become ``T log2 J`` bits (most significant bit first),
packed across indices (so that codebook sizes that are not a power of ``M``'s bits
still cost ``ceil(T log2 J / log2 M)`` symbols), zero-padded to whole symbols and to the
channel's stream multiple, mapped onto Sionna's Gray QAM, sent through the channel and
detected by a hard decision on the nearest constellation point of each equalised symbol.
No channel code: Table I's formula has no code rate for the VQ scheme.

Shapes: indices ``[N, T]`` int64; bits ``[N, T log2 J]`` float 0/1; symbols ``[N, S]``
complex64 with ``S`` = :meth:`IndexLink.symbols_per_message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from ...phy.base import Channel, ChannelOutput, TensorLike
from ...phy.modulation import Modulation
from .symbols import bits_per_index


@dataclass
class IndexTransmission:
    """What came out of one :meth:`IndexLink.transmit`.

    :ivar indices: ``[N, T]`` int64 received indices (hard decisions).
    :ivar bit_errors: ``[N]`` wrong bits among the ``T log2 J`` information bits.
    :ivar channel: the channel's :class:`~linksim.phy.base.ChannelOutput` (``x_hat``
        ``[N, S]`` and ``no_eff``, e.g. for a soft receiver).
    """

    indices: torch.Tensor
    bit_errors: torch.Tensor
    channel: ChannelOutput


class IndexLink:
    """Send codebook indices as uncoded Gray QAM over ``channel``.

    :param codebook_size: ``J``, a power of two (indices carry ``log2 J`` bits).
    :param channel: any linksim channel (e.g. MIMO 8x4 with ``precoding: svd``).
    :param order: QAM order ``M`` (16 in the paper).
    """

    def __init__(self, codebook_size: int, channel: Channel, order: int = 16) -> None:
        self.bits_per_index = bits_per_index(codebook_size)
        self.codebook_size = int(codebook_size)
        self.channel = channel
        self.modulation = Modulation(order)
        weights = 2 ** torch.arange(self.bits_per_index - 1, -1, -1)
        self._weights = weights  # MSB first
        self._point_bits = self.bits_of(torch.arange(self.modulation.order), self.modulation.bits_per_symbol)

    # ------------------------------------------------------------------ bits
    @staticmethod
    def bits_of(values: torch.Tensor, width: int) -> torch.Tensor:
        """``[...]`` non-negative integers -> ``[..., width]`` float 0/1, most significant bit first."""
        shifts = torch.arange(width - 1, -1, -1, device=values.device)
        return ((values.long().unsqueeze(-1) >> shifts) & 1).float()

    def to_bits(self, indices: torch.Tensor) -> torch.Tensor:
        """``[N, T]`` indices -> ``[N, T log2 J]`` bits, packed across indices."""
        if indices.min() < 0 or indices.max() >= self.codebook_size:
            raise ValueError(f"indices must lie in 0..{self.codebook_size - 1}")
        return self.bits_of(indices, self.bits_per_index).flatten(-2)

    def from_bits(self, bits: torch.Tensor) -> torch.Tensor:
        """``[N, T log2 J]`` bits -> ``[N, T]`` indices (inverse of :meth:`to_bits`)."""
        grouped = bits.reshape(*bits.shape[:-1], -1, self.bits_per_index).round().long()
        return (grouped * self._weights.to(bits.device)).sum(-1)

    # ------------------------------------------------------------------ symbols
    def symbols_per_message(self, tokens: int) -> int:
        """Channel symbols for ``tokens`` indices: whole QAM symbols, padded to the stream multiple."""
        symbols = self.modulation.num_symbols(tokens * self.bits_per_index)
        multiple = self.channel.symbols_multiple
        return -(-symbols // multiple) * multiple

    def map(self, indices: torch.Tensor) -> torch.Tensor:
        """``[N, T]`` indices -> ``[N, S]`` unit-energy QAM symbols (zero bits pad the tail)."""
        bits = self.to_bits(indices)
        total = self.symbols_per_message(indices.shape[-1]) * self.modulation.bits_per_symbol
        bits = torch.nn.functional.pad(bits, (0, total - bits.shape[-1]))
        return self.modulation.map(bits)

    def hard_bits(self, x_hat: torch.Tensor, tokens: int) -> torch.Tensor:
        """Nearest-point decisions of ``[N, S]`` equalised symbols -> the first ``tokens log2 J`` bits."""
        points = self.modulation.points.to(x_hat.device, x_hat.dtype)
        nearest = (x_hat.unsqueeze(-1) - points).abs().argmin(-1)  # [N, S]
        bits = self._point_bits.to(x_hat.device)[nearest].flatten(-2)
        return bits[..., : tokens * self.bits_per_index]

    def index_log_probs(self, x_hat: torch.Tensor, no_eff: torch.Tensor, tokens: int) -> torch.Tensor:
        """A soft receiver, differentiable in ``x_hat``: log-probabilities of every codebook index.

        Each equalised symbol's posterior over the ``M`` constellation points (Gaussian noise of
        variance ``no_eff``, uniform prior) gives its bits' probabilities; an index's
        log-probability is the sum of its ``log2 J`` bits' log-probabilities (bits independent).

        :param x_hat: ``[N, S]`` complex equalised symbols.
        :param no_eff: ``[N, S]`` (or broadcastable) effective noise variance, > 0.
        :param tokens: ``T`` indices carried by the first ``T log2 J`` bits.
        :return: ``[N, T, J]`` log-probabilities (unnormalised over ``J`` only by the clamp).
        """
        points = self.modulation.points.to(x_hat.device, x_hat.dtype)
        distance = (x_hat.unsqueeze(-1) - points).abs().square()  # [N, S, M]
        posterior = torch.softmax(-distance / no_eff.unsqueeze(-1).clamp_min(1e-12), dim=-1)
        p_one = (posterior @ self._point_bits.to(posterior.dtype)).flatten(-2)  # [N, S log2 M]
        p_one = p_one[..., : tokens * self.bits_per_index].reshape(*x_hat.shape[:-1], tokens, self.bits_per_index)
        table = self.bits_of(torch.arange(self.codebook_size), self.bits_per_index).to(p_one.dtype)  # [J, b]
        tiny = 1e-12
        return p_one.clamp_min(tiny).log() @ table.T + (1 - p_one).clamp_min(tiny).log() @ (1 - table).T

    def transmit(self, indices: torch.Tensor, no: TensorLike, interference: Optional[Any] = None) -> IndexTransmission:
        """Send ``[N, T]`` indices at noise variance ``no`` (float, or ``[N]`` per image), optionally
        with a receiver-side ``interference`` (:data:`linksim.phy.channels.Interference`; MIMO only)."""
        sent_bits = self.to_bits(indices)
        symbols = self.map(indices)
        out = self.channel(symbols, no) if interference is None else self.channel(symbols, no, interference)
        bits = self.hard_bits(out.x_hat, indices.shape[-1])
        errors = (bits != sent_bits).sum(-1)
        return IndexTransmission(indices=self.from_bits(bits), bit_errors=errors, channel=out)

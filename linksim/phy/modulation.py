"""Digital modulation: BPSK and square Gray-labelled QAM at unit average symbol energy.

A plain building block (not a registered component) wrapping Sionna's
:class:`~sionna.phy.mapping.Mapper` and APP :class:`~sionna.phy.mapping.Demapper`::

    mod = Modulation(16)                  # 16-QAM, 4 bits per symbol
    x = mod.map(bits)                     # [..., 4 s] float 0/1 -> [..., s] complex64
    llr = mod.demap(x_hat, no_eff)        # -> [..., 4 s] LLRs, log(P(b=1)/P(b=0))

Labelling is Sionna's (3GPP TS 38.211 Gray mapping for QAM; BPSK maps bit 0 to +1 and
bit 1 to -1). LLRs follow Sionna's sign convention: positive means "bit 1 more likely".
BPSK symbols are real-valued (imaginary part 0); with complex noise of variance ``no``
the APP demapper then gives ``llr = -4 Re(y) / no``.
"""

from __future__ import annotations

import math
from typing import ClassVar, FrozenSet, Tuple, Union

import torch
import torch.nn.functional as F
from sionna.phy.mapping import Demapper, Mapper

__all__ = ["Modulation", "MODULATION_ORDERS"]

MODULATION_ORDERS: Tuple[int, ...] = (2, 4, 16, 64, 256, 1024)
"""Supported orders: BPSK (2) and square QAM (4, 16, 64, 256, 1024)."""

_NAMES = {2: "BPSK", 4: "QPSK"}


class Modulation:
    """BPSK or square QAM mapper/demapper at unit average energy.

    :param order: Constellation size M, one of :data:`MODULATION_ORDERS`.
    :param demapping_method: "app" (exact, default) or "maxlog".
    :raises ValueError: unsupported order or method (callers add the scenario field path).
    """

    ORDERS: ClassVar[FrozenSet[int]] = frozenset(MODULATION_ORDERS)

    def __init__(self, order: int, demapping_method: str = "app") -> None:
        if isinstance(order, bool) or order not in self.ORDERS:
            orders = ", ".join(str(o) for o in MODULATION_ORDERS)
            raise ValueError(f"modulation order {order!r} not supported; use one of {orders}")
        if demapping_method not in ("app", "maxlog"):
            raise ValueError(f"demapping_method must be 'app' or 'maxlog', got {demapping_method!r}")
        self.order = int(order)
        self.bits_per_symbol = int(math.log2(self.order))
        kind = "pam" if self.order == 2 else "qam"
        self._mapper = Mapper(kind, self.bits_per_symbol)
        self._demapper = Demapper(demapping_method, kind, self.bits_per_symbol)

    @property
    def name(self) -> str:
        """Human-readable name: "BPSK", "QPSK", "16-QAM", ..."""
        return _NAMES.get(self.order, f"{self.order}-QAM")

    @property
    def points(self) -> torch.Tensor:
        """``[M]`` complex64 constellation points; index ``i`` carries the bits of ``i`` (MSB first)."""
        return self._mapper.constellation()

    def __repr__(self) -> str:
        return f"Modulation({self.order})"

    # ------------------------------------------------------------------ sizes & padding

    def num_symbols(self, num_bits: int) -> int:
        """Symbols needed for ``num_bits`` bits: ``ceil(num_bits / bits_per_symbol)``."""
        return -(-int(num_bits) // self.bits_per_symbol)

    def num_pad_bits(self, num_bits: int) -> int:
        """Zero bits appended by :meth:`pad_bits` to a block of ``num_bits`` bits."""
        return self.num_symbols(num_bits) * self.bits_per_symbol - int(num_bits)

    def pad_bits(self, bits: torch.Tensor) -> torch.Tensor:
        """Append zeros so that the last dimension is a multiple of ``bits_per_symbol``.

        :param bits: ``[..., b]`` float 0/1.
        :output: ``[..., m * ceil(b / m)]`` (``bits`` itself when no padding is needed).
        """
        pad = self.num_pad_bits(bits.shape[-1])
        return F.pad(bits, (0, pad)) if pad else bits

    # ------------------------------------------------------------------ map / demap

    def map(self, bits: torch.Tensor) -> torch.Tensor:
        """Map bits to symbols.

        :param bits: ``[..., m * s]`` float (or int) 0/1, ``m = bits_per_symbol``; use
            :meth:`pad_bits` first if the length is not a multiple of ``m``.
        :output: ``[..., s]`` complex64 symbols with E|x|^2 = 1.
        """
        if bits.shape[-1] % self.bits_per_symbol:
            raise ValueError(
                f"{self.name}: last dimension {bits.shape[-1]} is not a multiple of "
                f"{self.bits_per_symbol} bits per symbol; pad_bits() first"
            )
        return self._mapper(bits)

    def demap(self, x_hat: torch.Tensor, no_eff: Union[torch.Tensor, float]) -> torch.Tensor:
        """Bit LLRs from (equalised) symbols.

        :param x_hat: ``[..., s]`` complex symbols.
        :param no_eff: Effective noise variance per complex symbol: a float, or a real
            tensor broadcastable to ``x_hat`` (e.g. ``[..., s]`` per symbol after
            equalisation of a fading channel, or ``[..., 1]`` per block).
        :output: ``[..., m * s]`` float LLRs ``log(P(b=1)/P(b=0))``, bits of a symbol adjacent.
        """
        real_dtype = x_hat.real.dtype
        no = torch.as_tensor(no_eff, dtype=real_dtype, device=x_hat.device)
        return self._demapper(x_hat, no)

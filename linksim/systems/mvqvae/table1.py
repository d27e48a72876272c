"""Table I of the masked VQ-VAE paper as a system: symbols per image from the paper's formulas.

``type: mvqvae_symbols`` needs no data and no channel: each batch reports the exact count
of :mod:`.symbols` for every image, so ``linksim run scenarios/mvqvae_table1_paper.yaml``
writes Table I (CSV and Markdown) at the paper's shapes in well under a second. Counts
measured on a running link are reported by the masked VQ-VAE systems themselves
(metric ``symbols_per_message``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar, Dict, FrozenSet, Literal, Mapping, Optional

from pydantic import Field, model_validator

from ...registry import ParamsModel, systems
from ..base import System
from . import symbols as sym


@systems.register("mvqvae_symbols")
class SymbolCount(System):
    """Channel symbols per image of one Table I scheme, by the paper's arithmetic.

    Params: ``scheme`` (``mvqvae``: kept patches x log2 J / B_s; ``jpeg_ldpc``: bits /
    (R_c B_s) with bits from ``jpeg_bytes`` or from the raw image divided by
    ``compression``), ``image_size`` (side, pixels), ``patch``, ``codebook_size``,
    ``masking_ratio``, ``bits_per_symbol``, ``code_rate``, ``channels``, ``bits_per_pixel``.

    Sweep parameter: ``snr_db`` (ignored: the count does not depend on it).
    """

    class Params(ParamsModel):
        scheme: Literal["mvqvae", "jpeg_ldpc"] = Field(..., description="mvqvae or jpeg_ldpc")
        image_size: int = Field(224, ge=1, le=8192, strict=True, description="image side in pixels")
        patch: int = Field(16, ge=1, le=8192, strict=True, description="patch side (mvqvae)")
        codebook_size: int = Field(256, ge=2, le=2**16, strict=True,
                                   description="J, a power of two (mvqvae)")
        masking_ratio: float = Field(0.5, ge=0.0, lt=1.0, description="M_r in [0, 1) (mvqvae)")
        bits_per_symbol: int = Field(4, ge=1, le=16, strict=True, description="B_s (16-QAM: 4)")
        code_rate: float = Field(0.5, gt=0.0, le=1.0, description="R_c (jpeg_ldpc)")
        channels: int = Field(3, ge=1, le=4, strict=True, description="colour channels (jpeg_ldpc)")
        bits_per_pixel: int = Field(8, ge=1, le=16, strict=True, description="bits per pixel value (jpeg_ldpc)")
        jpeg_bytes: Optional[int] = Field(None, ge=1, le=10**9, strict=True,
                                          description="mean JPEG size per image (jpeg_ldpc)")
        compression: Optional[float] = Field(None, gt=0.0, le=1e6,
                                             description="C_r: raw bits / JPEG bits (jpeg_ldpc)")

        @model_validator(mode="after")
        def _consistent(self) -> "SymbolCount.Params":
            if self.scheme == "mvqvae":
                if self.codebook_size & (self.codebook_size - 1):
                    _raise("codebook_size", f"{self.codebook_size} is not a power of two (indices are sent "
                                            "as log2 J bits)")
                if self.image_size % self.patch:
                    _raise("patch", f"{self.patch} does not divide the image side {self.image_size}")
            elif self.jpeg_bytes is not None and self.compression is not None:
                _raise("compression", "give jpeg_bytes or compression, not both")
            return self

    metrics_provided: ClassVar[FrozenSet[str]] = frozenset({"symbols_per_message"})

    def count(self) -> Fraction:
        """The exact symbols per image."""
        p = self.params
        if p.scheme == "mvqvae":
            return sym.vq_symbols(p.image_size, p.image_size, p.patch, p.codebook_size,
                                  Fraction(p.masking_ratio).limit_denominator(10**6), p.bits_per_symbol)
        bits = Fraction(8 * p.jpeg_bytes) if p.jpeg_bytes is not None else sym.raw_image_bits(
            p.image_size, p.image_size, p.channels, p.bits_per_pixel,
            None if p.compression is None else Fraction(p.compression).limit_denominator(10**6))
        return sym.jpeg_ldpc_symbols(bits, Fraction(p.code_rate).limit_denominator(10**6), p.bits_per_symbol)

    def simulate(self, batch_size: int, point: Mapping[str, float]) -> Dict[str, float]:
        value = float(self.count())
        return {"symbols_per_message_sum": value * batch_size,
                "symbols_per_message_sumsq": value * value * batch_size,
                "symbols_per_message_count": float(batch_size)}

    def provenance(self) -> Dict[str, Any]:
        return {"formula": "mvqvae: round((1 - M_r) N) log2 J / B_s; jpeg_ldpc: bits / (R_c B_s)",
                "exact": str(self.count()), "data": "none (arithmetic at the given shapes)"}


def _raise(field: str, message: str) -> None:
    raise ValueError(f"{field}: {message}")

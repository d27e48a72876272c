"""Table I of the masked VQ-VAE paper as exact arithmetic: channel symbols per image.

All counts are :class:`fractions.Fraction` so that the paper's numbers can be checked
exactly (``tests/test_mvqvae_parts.py``); :func:`symbols_sent` gives the whole symbols a
link actually sends (bits packed across indices, the last symbol padded).

Masked VQ-VAE (paper, line 357, as printed): ``L H J_c M_r / (P^2 B_s)`` with ``L x H``
the image, ``P`` the patch side, ``J_c = log2 J`` bits per codebook index, ``M_r`` the
masking ratio and ``B_s`` bits per symbol (4 for 16-QAM). The fraction of patches that
is *sent* is ``1 - M_r`` (the "reserving ratio" of Fig. 7); the two agree only at
``M_r = 0.5``, the paper's setting, so :func:`vq_symbols` uses ``1 - M_r`` and
:func:`vq_symbols_as_printed` keeps the printed form for the check.

JPEG + LDPC (as printed ``L H C_n P_b R_c / (C_r B_s)``, with a garbled denominator):
the example multiplies by 2 = ``1 / R_c``, so the consistent form is
``bits / (R_c B_s)`` with ``bits = L H C_n P_b / C_r``. The paper's 53,760 needs
``C_r = 11.2``, which it never states; without compression the expression is 602,112,
and the mean JPEG size it does state (5,108 B) gives 20,432 (README, masked VQ-VAE).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Dict, Optional, Sequence, Tuple, Union

Number = Union[int, Fraction]

#: The paper's shapes (Sec. V-A): 224x224 RGB images, 8-bit pixels, J = 256, M_r = 0.5,
#: 16-QAM (4 bits per symbol), LDPC rate 1/2.
PAPER_IMAGE = 224
PAPER_CODEBOOK = 256
PAPER_MASKING_RATIO = Fraction(1, 2)
PAPER_BITS_PER_SYMBOL = 4
PAPER_CODE_RATE = Fraction(1, 2)
#: Mean JPEG size the paper states (bytes per image).
PAPER_JPEG_BYTES = 5108
#: Compression ratio that reproduces the paper's 53,760 symbols (never stated in the paper).
PAPER_IMPLIED_COMPRESSION = Fraction(56, 5)


def _fraction(value: Union[int, float, Fraction], name: str) -> Fraction:
    frac = Fraction(value).limit_denominator(10**9) if isinstance(value, float) else Fraction(value)
    if frac < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return frac


def bits_per_index(codebook_size: int) -> int:
    """``J_c = log2 J`` for a power-of-two codebook size ``J >= 2``."""
    if codebook_size < 2 or codebook_size & (codebook_size - 1):
        raise ValueError(f"codebook size {codebook_size} is not a power of two >= 2")
    return codebook_size.bit_length() - 1


def patches(height: int, width: int, patch: int) -> int:
    """Number of ``patch x patch`` patches of an ``height x width`` image (sides must divide)."""
    if height % patch or width % patch:
        raise ValueError(f"patch {patch} does not divide the {height}x{width} image")
    return (height // patch) * (width // patch)


def patch_grid(image_shape: Sequence[int], patch: int, image_size: Optional[int] = None) -> Tuple[int, int]:
    """Rows and columns of patches the ViT sees: of ``(H, W, ...)`` images, or of their resized
    ``image_size x image_size`` copies (``params.image_size``, the paper's 224)."""
    h, w = (image_size, image_size) if image_size else (int(image_shape[0]), int(image_shape[1]))
    return h // patch, w // patch


def kept_patches(num_patches: int, masking_ratio: Union[float, Fraction]) -> int:
    """Patches sent: ``round((1 - M_r) N)`` (half up), at least one."""
    keep = (1 - _fraction(masking_ratio, "masking_ratio")) * num_patches
    return max(1, math.floor(keep + Fraction(1, 2)))


def vq_symbols(height: int, width: int, patch: int, codebook_size: int,
               masking_ratio: Union[float, Fraction], bits_per_symbol: int) -> Fraction:
    """Symbols per image of the masked VQ-VAE: ``kept x log2 J / B_s`` (kept = round((1 - M_r) N))."""
    kept = kept_patches(patches(height, width, patch), masking_ratio)
    return Fraction(kept * bits_per_index(codebook_size), bits_per_symbol)


def vq_symbols_as_printed(height: int, width: int, patch: int, codebook_size: int,
                          masking_ratio: Union[float, Fraction], bits_per_symbol: int) -> Fraction:
    """The paper's printed formula ``L H J_c M_r / (P^2 B_s)`` (equals :func:`vq_symbols` at M_r = 1/2)."""
    m_r = _fraction(masking_ratio, "masking_ratio")
    return Fraction(height * width * bits_per_index(codebook_size), patch * patch * bits_per_symbol) * m_r


def jpeg_ldpc_symbols(payload_bits: Union[int, Fraction], code_rate: Union[float, Fraction],
                      bits_per_symbol: int) -> Fraction:
    """Symbols per image of the digital baseline: ``bits / (R_c B_s)``."""
    rate = _fraction(code_rate, "code_rate")
    if not 0 < rate <= 1:
        raise ValueError(f"code rate must be in (0, 1], got {code_rate}")
    return Fraction(payload_bits) / (rate * bits_per_symbol)


def raw_image_bits(height: int, width: int, channels: int = 3, bits_per_pixel: int = 8,
                   compression: Optional[Union[float, Fraction]] = None) -> Fraction:
    """``L H C_n P_b / C_r`` bits (``compression`` None: no compression, ``C_r = 1``)."""
    bits = Fraction(height * width * channels * bits_per_pixel)
    return bits / _fraction(compression, "compression") if compression is not None else bits


def symbols_sent(symbols: Fraction) -> int:
    """Whole channel symbols a link sends for ``symbols`` (bits packed, the last symbol padded)."""
    return math.ceil(symbols)


def paper_table1() -> Dict[str, Fraction]:
    """Table I's classification rows at the paper's shapes, computed (not copied).

    Keys: ``mvqvae_patch16`` (196), ``mvqvae_patch8`` (784), ``jpeg_ldpc_uncompressed``
    (602,112: the printed expression without ``C_r``), ``jpeg_ldpc_implied`` (53,760, with
    the unstated ``C_r = 11.2``), ``jpeg_ldpc_stated_size`` (20,432, from the stated
    5,108 B per image).
    """
    size, j, m_r, b_s, r_c = (PAPER_IMAGE, PAPER_CODEBOOK, PAPER_MASKING_RATIO, PAPER_BITS_PER_SYMBOL,
                              PAPER_CODE_RATE)
    return {
        "mvqvae_patch16": vq_symbols(size, size, 16, j, m_r, b_s),
        "mvqvae_patch8": vq_symbols(size, size, 8, j, m_r, b_s),
        "jpeg_ldpc_uncompressed": jpeg_ldpc_symbols(raw_image_bits(size, size), r_c, b_s),
        "jpeg_ldpc_implied": jpeg_ldpc_symbols(raw_image_bits(size, size, compression=PAPER_IMPLIED_COMPRESSION),
                                               r_c, b_s),
        "jpeg_ldpc_stated_size": jpeg_ldpc_symbols(8 * PAPER_JPEG_BYTES, r_c, b_s),
    }

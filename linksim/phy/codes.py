"""Registered channel codes: uncoded, 5G NR LDPC, IEEE 802.16e (WiMAX) LDPC and LTE Turbo.

Every code follows :class:`~linksim.phy.base.ChannelCode`:

* ``encode(u)``: ``u`` is ``[..., k]`` float 0/1, the result ``[..., n]`` float 0/1 code bits
  (same dtype and device as ``u``);
* ``decode(llr)``: ``llr`` is ``[..., n]`` float channel LLRs in Sionna's convention
  ``log(P(b=1)/P(b=0))`` (positive means "bit 1"), the result ``[..., k]`` hard 0/1 bits.

Scenario specs (the ``code:`` block of a YAML scenario)::

    code: {type: uncoded, k: 1024}
    code: {type: ldpc5g, k: 512, n: 1024, num_iter: 20}
    code: {type: wimax_ldpc, rate: "3/4B", n: 2304, num_iter: 20}
    code: {type: turbo, k: 256, num_iter: 6}

Build one with :func:`build_code`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import as_file, files
from typing import Any, Dict, FrozenSet, Literal, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field, field_validator, model_validator
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

from ..errors import UserError
from ..registry import ParamsModel, build_component, codes
from .base import ChannelCode
from .ldpc_decoder import FastLDPC5GDecoder, FastLDPCBPDecoder
from .turbo_decoder import TurboMapDecoder

__all__ = [
    "Uncoded",
    "Ldpc5G",
    "WimaxLdpc",
    "Turbo",
    "build_code",
    "wimax_base_matrix",
    "wimax_pcm",
    "WIMAX_RATES",
    "WIMAX_LENGTHS",
    "lte_turbo_block_sizes",
]

CnUpdate = Literal["boxplus-phi", "boxplus", "minsum", "offset-minsum"]

#: Longest uncoded block (bits): 2**17 >= the longest 5G LDPC codeword Sionna rate-matches
#: (316 x 384 = 121344 bits), so an uncoded block is never longer than a coded one.
UNCODED_MAX_K = 2**17


def build_code(spec: Dict[str, Any], field: str = "code") -> ChannelCode:
    """Build a registered code from a ``{type: name, ...params}`` mapping.

    :param spec: E.g. ``{"type": "ldpc5g", "k": 512, "n": 1024}``.
    :param field: Field path used in error messages (``systems[0].code``).
    :raises UserError: unknown code name or invalid parameter.
    """
    return build_component(codes, spec, field=field)


def _hard_decision(llr: torch.Tensor) -> torch.Tensor:
    """Hard bits from Sionna-convention LLRs: 1 where ``llr > 0`` (``[..., n]`` float)."""
    return (llr > 0).to(llr.dtype)


# ---------------------------------------------------------------------------------------
# Uncoded
# ---------------------------------------------------------------------------------------


@codes.register("uncoded")
class Uncoded(ChannelCode):
    """No channel code: n = k, decoding is a hard decision on each LLR."""

    class Params(ParamsModel):
        k: int = Field(1024, ge=1, le=UNCODED_MAX_K,
                       description=f"block length in bits (n = k; 1..{UNCODED_MAX_K}, the longest code block "
                                   "linksim sends)")

    def __init__(self, params: Optional[ParamsModel] = None) -> None:
        super().__init__(params)
        self.k = self.n = self.params.k

    def encode(self, u: torch.Tensor) -> torch.Tensor:
        """``[..., k]`` -> ``[..., k]`` (a copy of ``u``)."""
        _check_last_dim(u, self.k, "u")
        return u.clone()

    def decode(self, llr: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` LLRs -> ``[..., k]`` hard bits (``llr > 0`` gives 1)."""
        _check_last_dim(llr, self.n, "llr")
        return _hard_decision(llr)


def _check_last_dim(x: torch.Tensor, size: int, name: str) -> None:
    if x.shape[-1] != size:
        raise ValueError(f"{name}: last dimension must be {size}, got shape {tuple(x.shape)}")


# ---------------------------------------------------------------------------------------
# 5G NR LDPC (Sionna)
# ---------------------------------------------------------------------------------------


@codes.register("ldpc5g")
class Ldpc5G(ChannelCode):
    """5G NR LDPC code (3GPP TS 38.212) with rate matching, via Sionna's LDPC5GEncoder/Decoder.

    Decoding is flooding belief propagation on the (pruned) 5G graph with ``num_iter``
    iterations and no early stopping; it returns the ``k`` information bits. The decoder
    is :class:`~linksim.phy.ldpc_decoder.FastLDPC5GDecoder`: Sionna's ``LDPC5GDecoder``
    (rate recovery included) with a faster BP core, bit-identical in its decisions.
    """

    class Params(ParamsModel):
        k: int = Field(512, ge=12, le=8448,
                       description="information bits per block (12..8448, 3GPP TS 38.212 5.2.2)")
        n: int = Field(1024, ge=13, le=316 * 384,
                       description="code bits after rate matching (<= 316 x 384 = 121344, Sionna's limit; "
                                   "k/n in [1/5, 0.95])")
        num_iter: int = Field(20, ge=1, le=200, description="BP iterations (1..200)")
        cn_update: CnUpdate = "boxplus-phi"

        @model_validator(mode="after")
        def _check_rate(self) -> "Ldpc5G.Params":
            rate = self.k / self.n
            if not 1 / 5 <= rate <= 0.95:
                raise ValueError(f"code rate k/n = {rate:.4f} must lie in [1/5, 0.95] for 5G LDPC")
            # Base-graph choice of TS 38.212 7.2.2 as Sionna makes it: BG1 for k > 3824
            # (unless rate <= 1/4) decodes only rates >= 1/3, BG2 holds at most 3840 bits.
            if self.k > 3824 and 1 / 4 < rate < 1 / 3:
                raise ValueError(f"code rate k/n = {rate:.4f} is not supported for k = {self.k} > 3824 "
                                 "(base graph 1 needs k/n >= 1/3; base graph 2 k/n <= 1/4)")
            if self.k > 3840 and rate <= 1 / 4:
                raise ValueError(f"code rate k/n = {rate:.4f} <= 1/4 needs base graph 2, which holds at most "
                                 f"k = 3840 information bits (got k = {self.k})")
            return self

    def __init__(self, params: Optional[ParamsModel] = None) -> None:
        super().__init__(params)
        p = self.params
        try:
            self._encoder = LDPC5GEncoder(p.k, p.n)
            self._decoder = FastLDPC5GDecoder(
                self._encoder,
                cn_update=p.cn_update,
                num_iter=p.num_iter,
                hard_out=True,
                return_infobits=True,
            )
        except ValueError as exc:  # combination Sionna rejects beyond the field checks
            raise UserError(f"ldpc5g: unsupported (k={p.k}, n={p.n}): {exc}") from None
        self.k, self.n = p.k, p.n

    def encode(self, u: torch.Tensor) -> torch.Tensor:
        """``[..., k]`` float 0/1 -> ``[..., n]`` float 0/1 (rate-matched codeword)."""
        return self._encoder(u)

    def decode(self, llr: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` LLRs -> ``[..., k]`` hard information bits."""
        return self._decoder(llr)


# ---------------------------------------------------------------------------------------
# IEEE 802.16e (WiMAX) LDPC
# ---------------------------------------------------------------------------------------

# Base (model) matrices of IEEE Std 802.16e-2005, section 8.4.9.2.5, for the largest
# expansion factor z0 = 96 (n = 2304). -1 is an all-zero z x z block, p >= 0 the identity
# cyclically right-shifted by p. Each matrix has 24 block columns; the last m_b columns
# are the parity part: h_b (one block column with three non-zero blocks) followed by the
# dual-diagonal staircase.
#
# Public transcriptions of the standard disagree on two entries: rate 3/4B row 5
# column 7 (35 or 38) and rate 5/6 row 3 column 0 (68 or 50). The values used here
# (35, 68) are the ones for which the expanded codes have no 4-cycles at any of the 19
# lengths, like the other 802.16e codes except 3/4A; the alternatives create 4-cycles.
_WIMAX_BASE_TEXT: Dict[str, str] = {
    "1/2": """
        -1 94 73 -1 -1 -1 -1 -1 55 83 -1 -1  7  0 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1
        -1 27 -1 -1 -1 22 79  9 -1 -1 -1 12 -1  0  0 -1 -1 -1 -1 -1 -1 -1 -1 -1
        -1 -1 -1 24 22 81 -1 33 -1 -1 -1  0 -1 -1  0  0 -1 -1 -1 -1 -1 -1 -1 -1
        61 -1 47 -1 -1 -1 -1 -1 65 25 -1 -1 -1 -1 -1  0  0 -1 -1 -1 -1 -1 -1 -1
        -1 -1 39 -1 -1 -1 84 -1 -1 41 72 -1 -1 -1 -1 -1  0  0 -1 -1 -1 -1 -1 -1
        -1 -1 -1 -1 46 40 -1 82 -1 -1 -1 79  0 -1 -1 -1 -1  0  0 -1 -1 -1 -1 -1
        -1 -1 95 53 -1 -1 -1 -1 -1 14 18 -1 -1 -1 -1 -1 -1 -1  0  0 -1 -1 -1 -1
        -1 11 73 -1 -1 -1  2 -1 -1 47 -1 -1 -1 -1 -1 -1 -1 -1 -1  0  0 -1 -1 -1
        12 -1 -1 -1 83 24 -1 43 -1 -1 -1 51 -1 -1 -1 -1 -1 -1 -1 -1  0  0 -1 -1
        -1 -1 -1 -1 -1 94 -1 59 -1 -1 70 72 -1 -1 -1 -1 -1 -1 -1 -1 -1  0  0 -1
        -1 -1  7 65 -1 -1 -1 -1 39 49 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  0  0
        43 -1 -1 -1 -1 66 -1 41 -1 -1 -1 26  7 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  0
    """,
    "2/3A": """
         3  0 -1 -1  2  0 -1  3  7 -1  1  1 -1 -1 -1 -1  1  0 -1 -1 -1 -1 -1 -1
        -1 -1  1 -1 36 -1 -1 34 10 -1 -1 18  2 -1  3  0 -1  0  0 -1 -1 -1 -1 -1
        -1 -1 12  2 -1 15 -1 40 -1  3 -1 15 -1  2 13 -1 -1 -1  0  0 -1 -1 -1 -1
        -1 -1 19 24 -1  3  0 -1  6 -1 17 -1 -1 -1  8 39 -1 -1 -1  0  0 -1 -1 -1
        20 -1  6 -1 -1 10 29 -1 -1 28 -1 14 -1 38 -1 -1  0 -1 -1 -1  0  0 -1 -1
        -1 -1 10 -1 28 20 -1 -1  8 -1 36 -1  9 -1 21 45 -1 -1 -1 -1 -1  0  0 -1
        35 25 -1 37 -1 21 -1 -1  5 -1 -1  0 -1  4 20 -1 -1 -1 -1 -1 -1 -1  0  0
        -1  6  6 -1 -1 -1  4 -1 14 30 -1  3 36 -1 14 -1  1 -1 -1 -1 -1 -1 -1  0
    """,
    "2/3B": """
         2 -1 19 -1 47 -1 48 -1 36 -1 82 -1 47 -1 15 -1 95  0 -1 -1 -1 -1 -1 -1
        -1 69 -1 88 -1 33 -1  3 -1 16 -1 37 -1 40 -1 48 -1  0  0 -1 -1 -1 -1 -1
        10 -1 86 -1 62 -1 28 -1 85 -1 16 -1 34 -1 73 -1 -1 -1  0  0 -1 -1 -1 -1
        -1 28 -1 32 -1 81 -1 27 -1 88 -1  5 -1 56 -1 37 -1 -1 -1  0  0 -1 -1 -1
        23 -1 29 -1 15 -1 30 -1 66 -1 24 -1 50 -1 62 -1 -1 -1 -1 -1  0  0 -1 -1
        -1 30 -1 65 -1 54 -1 14 -1  0 -1 30 -1 74 -1  0 -1 -1 -1 -1 -1  0  0 -1
        32 -1  0 -1 15 -1 56 -1 85 -1  5 -1  6 -1 52 -1  0 -1 -1 -1 -1 -1  0  0
        -1  0 -1 47 -1 13 -1 61 -1 84 -1 55 -1 78 -1 41 95 -1 -1 -1 -1 -1 -1  0
    """,
    "3/4A": """
         6 38  3 93 -1 -1 -1 30 70 -1 86 -1 37 38  4 11 -1 46 48  0 -1 -1 -1 -1
        62 94 19 84 -1 92 78 -1 15 -1 -1 92 -1 45 24 32 30 -1 -1  0  0 -1 -1 -1
        71 -1 55 -1 12 66 45 79 -1 78 -1 -1 10 -1 22 55 70 82 -1 -1  0  0 -1 -1
        38 61 -1 66  9 73 47 64 -1 39 61 43 -1 -1 -1 -1 95 32  0 -1 -1  0  0 -1
        -1 -1 -1 -1 32 52 55 80 95 22  6 51 24 90 44 20 -1 -1 -1 -1 -1 -1  0  0
        -1 63 31 88 20 -1 -1 -1  6 40 56 16 71 53 -1 -1 27 26 48 -1 -1 -1 -1  0
    """,
    "3/4B": """
        -1 81 -1 28 -1 -1 14 25 17 -1 -1 85 29 52 78 95 22 92  0  0 -1 -1 -1 -1
        42 -1 14 68 32 -1 -1 -1 -1 70 43 11 36 40 33 57 38 24 -1  0  0 -1 -1 -1
        -1 -1 20 -1 -1 63 39 -1 70 67 -1 38  4 72 47 29 60  5 80 -1  0  0 -1 -1
        64  2 -1 -1 63 -1 -1  3 51 -1 81 15 94  9 85 36 14 19 -1 -1 -1  0  0 -1
        -1 53 60 80 -1 26 75 -1 -1 -1 -1 86 77  1  3 72 60 25 -1 -1 -1 -1  0  0
        77 -1 -1 -1 15 28 -1 35 -1 72 30 68 85 84 26 64 11 89  0 -1 -1 -1 -1  0
    """,
    "5/6": """
         1 25 55 -1 47  4 -1 91 84  8 86 52 82 33  5  0 36 20  4 77 80  0 -1 -1
        -1  6 -1 36 40 47 12 79 47 -1 41 21 12 71 14 72  0 44 49  0  0  0  0 -1
        51 81 83  4 67 -1 21 -1 31 24 91 61 81  9 86 78 60 88 67 15 -1 -1  0  0
        68 -1 50 15 -1 36 13 10 11 20 53 90 29 92 57 30 84 92 11 66 80 -1 -1  0
    """,
}

WIMAX_RATES: Tuple[str, ...] = tuple(_WIMAX_BASE_TEXT)
"""The six 802.16e code variants: "1/2", "2/3A", "2/3B", "3/4A", "3/4B", "5/6"."""

WIMAX_LENGTHS: Tuple[int, ...] = tuple(range(576, 2304 + 1, 96))
"""The 19 codeword lengths of 802.16e LDPC: 576, 672, ..., 2304 (z = n / 24 = 24 .. 96)."""

_WIMAX_ALIASES = {"2/3": "2/3A", "3/4": "3/4A"}
_WIMAX_Z0 = 96
_WIMAX_NB = 24


def _wimax_rate_name(rate: str) -> str:
    name = _WIMAX_ALIASES.get(rate, rate)
    if name not in _WIMAX_BASE_TEXT:
        known = ", ".join(WIMAX_RATES + tuple(_WIMAX_ALIASES))
        raise ValueError(f"unknown 802.16e code rate {rate!r}; known: {known}")
    return name


@lru_cache(maxsize=None)
def _wimax_base_z0(rate: str) -> np.ndarray:
    rows = [[int(v) for v in line.split()] for line in _WIMAX_BASE_TEXT[rate].strip().splitlines()]
    base = np.array(rows, dtype=np.int64)
    assert base.shape[1] == _WIMAX_NB, (rate, base.shape)
    return base


def wimax_base_matrix(rate: str, n: int) -> np.ndarray:
    """Base matrix of an 802.16e LDPC code with its shifts scaled to ``z = n / 24``.

    Shift scaling follows the standard: ``p mod z`` for rate 2/3A, ``floor(p * z / 96)``
    for all other rates; ``-1`` (all-zero block) is kept.

    :param rate: "1/2", "2/3A", "2/3B", "3/4A", "3/4B" or "5/6" ("2/3"/"3/4" mean the A codes).
    :param n: Codeword length, one of :data:`WIMAX_LENGTHS`.
    :output: ``[m_b, 24]`` int64 array of shifts (``m_b = 24 (1 - rate)``).
    """
    rate = _wimax_rate_name(rate)
    if n not in WIMAX_LENGTHS:
        raise ValueError(f"802.16e LDPC length n={n} not in 576..2304 step 96")
    z = n // _WIMAX_NB
    base = _wimax_base_z0(rate)
    if rate == "2/3A":
        scaled = np.mod(base, z)
    else:
        scaled = (base * z) // _WIMAX_Z0
    return np.where(base < 0, -1, scaled)


@lru_cache(maxsize=None)
def wimax_pcm(rate: str, n: int) -> sp.csr_matrix:
    """Expanded parity-check matrix ``H`` (``[n - k, n]``, 0/1, CSR) of an 802.16e code.

    Block ``(i, j)`` with shift ``s`` is the z x z identity cyclically right-shifted by
    ``s``: row ``r`` of the block has its one in column ``(r + s) mod z``.
    The first ``k`` columns are the systematic (information) bits.
    """
    base = wimax_base_matrix(rate, n)
    z = n // _WIMAX_NB
    bi, bj = np.nonzero(base >= 0)
    shifts = base[bi, bj]
    r = np.arange(z)
    rows = (bi[:, None] * z + r[None, :]).ravel()
    cols = (bj[:, None] * z + (r[None, :] + shifts[:, None]) % z).ravel()
    data = np.ones(rows.size, dtype=np.int8)
    return sp.csr_matrix((data, (rows, cols)), shape=(base.shape[0] * z, n))


class _DualDiagonalEncoder:
    """Systematic encoder for QC-LDPC codes with the 802.16e parity structure, over GF(2).

    ``H = [H_s | h_b | T]`` in blocks of size z: ``H_s`` is the systematic part
    (``m_b x k_b`` blocks), ``h_b`` one block column with an odd number of non-zero blocks,
    ``T`` the dual-diagonal staircase (identity blocks at ``(i, i)`` and ``(i + 1, i)``).
    With ``lambda_i = sum_j H_s(i, j) u_j`` (block row syndromes):

    * summing all block rows cancels the staircase, so ``(sum_i h_b(i)) p_0 = sum_i lambda_i``;
      ``sum_i h_b(i)`` reduces to a single circulant ``P^s`` (the equal top/bottom shifts
      cancel), hence ``p_0 = P^{-s} sum_i lambda_i``;
    * the staircase gives ``p_i = sum_{l < i} (lambda_l + h_b(l) p_0)`` for ``i = 1 .. m_b - 1``,
      a cumulative XOR.

    Cost is O(number of edges) per block, batched over any leading dimensions.

    :param base: ``[m_b, n_b]`` scaled base matrix (-1 = zero block).
    :param z: Expansion (lifting) factor.
    """

    def __init__(self, base: np.ndarray, z: int) -> None:
        m_b, n_b = base.shape
        k_b = n_b - m_b
        self.z, self.m_b, self.k = z, m_b, k_b * z
        sys_part, h_b, stair = base[:, :k_b], base[:, k_b], base[:, k_b + 1 :]
        expected_stair = np.full((m_b, m_b - 1), -1)
        idx = np.arange(m_b - 1)
        expected_stair[idx, idx] = 0
        expected_stair[idx + 1, idx] = 0
        if not np.array_equal(stair, expected_stair):
            raise ValueError("parity part is not dual-diagonal")

        # Gather table for lambda: row (i, r) of H_s has ones at u[j*z + (r + s_ij) mod z].
        r = np.arange(z)
        degree = (sys_part >= 0).sum(axis=1)
        d_max = int(degree.max())
        gather = np.full((m_b, z, d_max), self.k, dtype=np.int64)  # k -> appended zero bit
        for i in range(m_b):
            for t, j in enumerate(np.nonzero(sys_part[i] >= 0)[0]):
                gather[i, :, t] = j * z + (r + sys_part[i, j]) % z
        self._gather = torch.from_numpy(gather.reshape(m_b * z, d_max))

        # h_b(i) p_0 for every block row, as a gather from p_0 (index z -> zero).
        hb_gather = np.full((m_b, z), z, dtype=np.int64)
        for i in np.nonzero(h_b >= 0)[0]:
            hb_gather[i] = (r + h_b[i]) % z
        self._hb_gather = torch.from_numpy(hb_gather)

        # sum_i h_b(i) over GF(2): shifts present an odd number of times survive.
        values, counts = np.unique(h_b[h_b >= 0], return_counts=True)
        surviving = values[counts % 2 == 1]
        if surviving.size != 1:
            raise ValueError("h_b does not reduce to a single circulant; code not encodable this way")
        self._p0_shift = int(surviving[0])

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        """``[..., k]`` 0/1 float -> ``[..., n]`` systematic codeword ``[u, p_0, ..., p_{m_b-1}]``."""
        lead = u.shape[:-1]
        z, m_b = self.z, self.m_b
        u_pad = torch.cat([u, u.new_zeros(*lead, 1)], dim=-1)
        gather = self._gather.to(u.device)
        lam = u_pad[..., gather[:, 0]].clone()
        for t in range(1, gather.shape[1]):
            lam += u_pad[..., gather[:, t]]
        lam = torch.remainder(lam, 2).reshape(*lead, m_b, z)
        # p_0 = P^{-s} sum_i lambda_i, where (P^s x)[r] = x[(r + s) mod z].
        p0 = torch.roll(torch.remainder(lam.sum(dim=-2), 2), shifts=self._p0_shift, dims=-1)
        p0_pad = torch.cat([p0, p0.new_zeros(*lead, 1)], dim=-1)
        terms = lam + p0_pad[..., self._hb_gather.to(u.device)]  # [..., m_b, z]
        parity = torch.remainder(torch.cumsum(terms[..., :-1, :], dim=-2), 2)
        return torch.cat([u, p0, parity.reshape(*lead, (m_b - 1) * z)], dim=-1)


@codes.register("wimax_ldpc")
class WimaxLdpc(ChannelCode):
    """IEEE 802.16e (WiMAX) QC-LDPC code, decoded by flooding BP on ``H``.

    ``H`` is expanded from the standard's base matrices (:func:`wimax_pcm`); encoding is
    systematic (``c = [u, p]``) and exploits the dual-diagonal parity structure; decoding
    is flooding BP with ``num_iter`` iterations, returning the first ``k`` (information)
    bits: :class:`~linksim.phy.ldpc_decoder.FastLDPCBPDecoder`, bit-identical in its
    decisions to Sionna's generic :class:`sionna.phy.fec.ldpc.LDPCBPDecoder`, faster.
    """

    class Params(ParamsModel):
        rate: Literal["1/2", "2/3A", "2/3B", "3/4A", "3/4B", "5/6", "2/3", "3/4"] = Field(
            "1/2", description='code rate; "2/3" and "3/4" mean the A codes'
        )
        n: int = Field(2304, description="codeword length: 576..2304 step 96 (IEEE 802.16e 8.4.9.2.5)")
        num_iter: int = Field(20, ge=1, le=200, description="BP iterations (1..200)")
        cn_update: CnUpdate = "boxplus-phi"

        @field_validator("rate")
        @classmethod
        def _canonical_rate(cls, rate: str) -> str:
            return _wimax_rate_name(rate)

        @field_validator("n")
        @classmethod
        def _check_n(cls, n: int) -> int:
            if n not in WIMAX_LENGTHS:
                raise ValueError("must be one of 576, 672, ..., 2304 (multiples of 96)")
            return n

    def __init__(self, params: Optional[ParamsModel] = None) -> None:
        super().__init__(params)
        p = self.params
        self.z = p.n // _WIMAX_NB
        self.base = wimax_base_matrix(p.rate, p.n)
        self.pcm = wimax_pcm(p.rate, p.n)
        self.n = p.n
        self.k = p.n - self.pcm.shape[0]
        self._encoder = _DualDiagonalEncoder(self.base, self.z)
        self._decoder = FastLDPCBPDecoder(self.pcm, cn_update=p.cn_update, hard_out=True, num_iter=p.num_iter)

    def encode(self, u: torch.Tensor) -> torch.Tensor:
        """``[..., k]`` float 0/1 -> ``[..., n]`` systematic codeword ``[u, parity]``."""
        _check_last_dim(u, self.k, "u")
        return self._encoder(u)

    def decode(self, llr: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` LLRs -> ``[..., k]`` hard information bits of flooding BP.

        LLRs are clipped to +-:data:`TURBO_LLR_CLIP` first (the bound the Turbo decoder
        uses), so that the check-node updates stay finite in float32 at high SNR; an LLR
        of that size already means a certain bit.
        """
        _check_last_dim(llr, self.n, "llr")
        return self._decoder(llr.clamp(-TURBO_LLR_CLIP, TURBO_LLR_CLIP))[..., : self.k]


# ---------------------------------------------------------------------------------------
# LTE Turbo (Sionna)
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def lte_turbo_block_sizes() -> FrozenSet[int]:
    """The 188 block sizes of the LTE QPP interleaver (TS 36.212 Table 5.1.3-3), 40..6144."""
    from sionna.phy.fec.turbo import coeffs

    with as_file(files(coeffs).joinpath("turbo_coeffs.csv")) as path:
        table = np.genfromtxt(path, delimiter=",", skip_header=1)
    return frozenset(int(v) for v in table[:, 1])


#: Magnitude to which channel LLRs are clipped before Turbo decoding.
TURBO_LLR_CLIP = 30.0


@codes.register("turbo")
class Turbo(ChannelCode):
    """LTE Turbo code, rate 1/3, QPP interleaver, both encoders terminated (Sionna).

    Two 8-state RSC encoders (constraint length 4, generators 13/15 octal as in LTE);
    termination adds 12 tail bits, so ``n = 3 k + 12`` and ``rate = k / (3 k + 12)``.
    Decoding is iterative BCJR (``algorithm``: exact "map", "log" or "maxlog") with
    ``num_iter`` iterations: Sionna's ``TurboDecoder``, except that "map" runs
    :class:`~linksim.phy.turbo_decoder.TurboMapDecoder`, which returns the same
    decisions (bit-identical LLRs) several times faster.
    """

    class Params(ParamsModel):
        k: int = Field(256, description="information bits: an LTE QPP block size (40..6144, "
                                        "3GPP TS 36.212 Table 5.1.3-3)")
        num_iter: int = Field(6, ge=1, le=50, description="Turbo iterations (1..50)")
        algorithm: Literal["map", "log", "maxlog"] = "map"

        @field_validator("k")
        @classmethod
        def _check_k(cls, k: int) -> int:
            if k not in lte_turbo_block_sizes():
                raise ValueError(
                    "must be an LTE Turbo block size (40..512 step 8, 528..1024 step 16, "
                    "1056..2048 step 32, 2112..6144 step 64)"
                )
            return k

    def __init__(self, params: Optional[ParamsModel] = None) -> None:
        super().__init__(params)
        p = self.params
        self._encoder = TurboEncoder(constraint_length=4, rate=1 / 3, terminate=True, interleaver_type="3GPP")
        self.k = p.k
        # Sionna's TurboEncoder.n omits the tail bits; take n from an actual codeword.
        self.n = int(self._encoder(torch.zeros(1, p.k)).shape[-1])
        assert self.n == 3 * p.k + 4 * (self._encoder.constraint_length - 1), self.n
        if p.algorithm == "map":  # same decisions as Sionna's, several times faster (turbo_decoder.py)
            self._decoder = TurboMapDecoder(self._encoder, p.k, p.num_iter)
        else:
            self._decoder = TurboDecoder(self._encoder, num_iter=p.num_iter, hard_out=True, algorithm=p.algorithm)

    def encode(self, u: torch.Tensor) -> torch.Tensor:
        """``[..., k]`` float 0/1 -> ``[..., 3k + 12]`` (systematic, parity 1, parity 2, tails)."""
        _check_last_dim(u, self.k, "u")
        return self._encoder(u)

    def decode(self, llr: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` LLRs -> ``[..., k]`` hard information bits.

        LLRs are clipped to +-:data:`TURBO_LLR_CLIP` first: Sionna's BCJR overflows in
        float32 for |LLR| above about 90 (high SNR) and then returns garbage; the clip
        changes no decision.
        """
        _check_last_dim(llr, self.n, "llr")
        return self._decoder(llr.clamp(-TURBO_LLR_CLIP, TURBO_LLR_CLIP))

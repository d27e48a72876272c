"""Dynamic transmission of Mem-DeepSC (Sec. IV): the length rule eq. (15) and the masks.

Required length, eq. (15) (Proposition 2)
----------------------------------------
Source (the Mem-DeepSC paper, Xie, Qin, Li, JSAC 2023; line numbers of its Markdown text,
``papers/mem-deepsc.md`` in the project's shared folder): Sec. IV-A, eq. (12) at
line 206, eq. (14) at line 220, Proposition 2 / eq. (15) at lines 225-230, Case 1 at
line 234; the values of Sec. V-A3 at line 332 ("For Mem-DeepSC, mu_max = 1 and
sigma_m^2 = 1.44"); Table II's "32 symbols to 16 symbols per sentence as the SNR
increases" at line 351 (the table body itself is missing from the text). The transmitted signal is modelled as a latent
codeword plus model noise, ``x = r + n_model``, ``n_model ~ CN(0, sigma_m^2 I)``
(eq. (11)). Sphere packing with model noise only gives ``N = (1 + mu_max^2 /
sigma_m^2)^(L/2)`` codewords for length ``L`` (eq. (12)); adding channel noise of
variance ``sigma_n^2`` gives ``N = (1 + mu_max^2 / (sigma_m^2 + sigma_n^2))^(L1/2)``
for length ``L1`` (eq. (14)). Equal codeword counts give Proposition 2, eq. (15)::

    L1 = L_min * log(1 + mu_max^2 / sigma_m^2) / log(1 + mu_max^2 / (sigma_m^2 + sigma_n^2))

where ``L_min`` (the paper's ``L`` in (15)) is "the minimum length to prevent from
model noise", i.e. the length needed without channel noise (Case 1: ``sigma_n^2 -> 0``
gives ``L1 -> L_min``; Case 2: ``sigma_n^2 -> inf`` gives ``L1 -> inf``). The log base
cancels. What this module implements (:func:`eq15_length`):

* ``sigma_n^2 = 10**(-snr_db / 10)``: the noise variance per complex symbol at unit
  average symbol energy (the paper's SNR definition below eq. (2) equals linksim's
  Es/N0 convention, :mod:`linksim.phy.base`);
* ``L_min`` defaults to ``ceil(L / 2)`` (16 for the paper's L = 32): Table II's
  "Mem-DeepSC with dynamic" row goes from 32 symbols at low SNR down to 16 at high
  SNR, and eq. (15) tends to ``L_min`` as SNR grows;
* the result is **rounded to the nearest integer** (``rounding="round"``, the
  default) and **clipped to [1, L]**: a sentence never gets more symbols than the
  encoder produces (``L``, the "32 at low SNR" of Table II). Rounding up (``"ceil"``,
  the literal "minimum length") never reaches 16 at a finite SNR because the ratio in
  (15) is > 1 whenever ``sigma_n^2 > 0``; Table II's 16 needs round-to-nearest.

Values for ``L = 32``, ``L_min = 16``, ``mu_max = 1``, ``sigma_m^2 = 1.44`` (ratio
``ln(1.6944)/ln(1 + 1/(1.44 + sigma_n^2))``): -6 dB -> 49.8 -> 32 (clipped); 0 dB ->
24.57 -> 25; 6 dB -> 18.16 -> 18; 12 dB -> 16.54 -> 17; 18 dB -> 16.14 -> 16. L1 reaches
32 below about -2.7 dB (``sigma_n^2 = 1.876``).

Masks (Sec. IV-B, IV-C)
-----------------------
A mask is a ``[M, L]`` 0/1 float tensor, one row per sentence, with exactly ``L1``
ones per row (``L1`` may differ between rows). Masked symbols are **not transmitted**:
:func:`apply_mask` zeroes them and re-normalises the kept ones to unit average energy
per *transmitted* symbol, so the SNR per channel use (Es/N0) means the same with or
without a mask (the sentence's total energy drops from ``L`` to ``L1``). The receiver
zero-pads the unsent positions (detected values there are discarded).

* importance mask (eqs. (17)-(19)): keep the ``L1`` highest importance scores
  (:func:`topk_mask`); in training a straight-through soft top-k
  (:func:`soft_topk_mask`) lets the CE loss reach the importance model;
* consecutive mask: keep the first ``L1`` symbols (:func:`consecutive_mask`);
* random mask (benchmark): ``L1`` random positions (:func:`random_mask`); the receiver
  knows them (shared pseudo-random seed), no retraining.

Position overhead of the importance mask (:func:`position_overhead_symbols`): the
receiver must learn which ``L1`` of the ``L`` positions were sent. The default
(``"enumerative"``) sends the index of the kept subset among the ``C(L, L1)`` subsets,
``ceil(log2 C(L, L1))`` bits, as uncoded QPSK side information (2 bits per complex
symbol, assumed received error-free, e.g. on a protected control channel):
``ceil(ceil(log2 C(L, L1)) / 2)`` symbols; ``L1 = L`` costs nothing. ``"bitmap"``
sends the L-bit bitmap (``ceil(L / 2)`` QPSK symbols whenever ``L1 < L``); ``"none"``
ignores the overhead (as the paper's symbol counts appear to). The consecutive and
random masks need no position information (L1 follows from the SNR known to both
ends, or from the number of symbols received).
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence, Union

import numpy as np
import torch

#: Sec. V-A3: "For Mem-DeepSC, mu_max = 1 and sigma_m^2 = 1.44".
PAPER_MU_MAX = 1.0
PAPER_SIGMA_M2 = 1.44

Rounding = Literal["round", "ceil"]
Overhead = Literal["enumerative", "bitmap", "none"]


# --------------------------------------------------------------------------- eq. (15)


def eq15_ratio(snr_db: float, mu_max: float = PAPER_MU_MAX, sigma_m2: float = PAPER_SIGMA_M2) -> float:
    """``L1 / L_min`` of eq. (15) at ``snr_db`` (>= 1; ``inf`` at ``snr_db = -inf``)."""
    if mu_max <= 0 or sigma_m2 <= 0:
        raise ValueError("mu_max and sigma_m2 must be > 0")
    sigma_n2 = 10.0 ** (-float(snr_db) / 10.0)
    denom = math.log1p(mu_max**2 / (sigma_m2 + sigma_n2))
    if denom <= 0.0:
        return math.inf
    return math.log1p(mu_max**2 / sigma_m2) / denom


def eq15_length(snr_db: float, l_min: int, l_max: int, *, mu_max: float = PAPER_MU_MAX,
                sigma_m2: float = PAPER_SIGMA_M2, rounding: Rounding = "round") -> int:
    """Symbols to send per sentence at ``snr_db`` by eq. (15), clipped to ``[1, l_max]``.

    :param snr_db: Es/N0 per complex symbol [dB] (``sigma_n^2 = 10**(-snr_db/10)``).
    :param l_min: ``L`` of eq. (15): length needed without channel noise.
    :param l_max: Symbols the JSC encoder produces (upper clip).
    :param rounding: ``"round"`` (nearest, default; matches Table II) or ``"ceil"``.
    :returns: ``L1`` in ``[1, l_max]``.
    """
    if l_min < 1 or l_max < 1:
        raise ValueError("l_min and l_max must be >= 1")
    value = l_min * eq15_ratio(snr_db, mu_max, sigma_m2)
    if not math.isfinite(value):
        return int(l_max)
    # the 1e-9 keeps exact integers (e.g. the noiseless limit) from ceil-ing up
    n = math.ceil(value - 1e-9) if rounding == "ceil" else math.floor(value + 0.5)
    return int(min(max(n, 1), l_max))


def eq15_table(snr_db: Sequence[float], l_min: int, l_max: int, **kwargs: Union[float, str]) -> np.ndarray:
    """:func:`eq15_length` for each SNR: ``[len(snr_db)]`` int array (a Table II row)."""
    return np.array([eq15_length(s, l_min, l_max, **kwargs) for s in snr_db], dtype=np.int64)


# --------------------------------------------------------------------------- overhead


def position_overhead_bits(l1: int, length: int, method: Overhead = "enumerative") -> int:
    """Side-information bits telling the receiver which ``l1`` of ``length`` symbols were sent."""
    if not 0 <= l1 <= length:
        raise ValueError(f"l1 must lie in [0, {length}], got {l1}")
    if method == "none" or l1 == length:
        return 0
    if method == "bitmap":
        return length
    if method == "enumerative":
        return math.ceil(math.log2(math.comb(length, l1))) if math.comb(length, l1) > 1 else 0
    raise ValueError(f"unknown overhead method {method!r}")


def position_overhead_symbols(l1: int, length: int, method: Overhead = "enumerative") -> int:
    """:func:`position_overhead_bits` as uncoded QPSK symbols (2 bits per symbol, rounded up)."""
    return -(-position_overhead_bits(l1, length, method) // 2)


# --------------------------------------------------------------------------- masks


def draw_lengths(count: int, low: int, high: int, device: Union[str, torch.device] = "cpu") -> torch.Tensor:
    """``[count]`` int64 lengths uniform on ``{low, ..., high}`` (Sionna's generator)."""
    import sionna.phy

    gen = sionna.phy.config.torch_rng(str(torch.device(device)))
    return torch.randint(int(low), int(high) + 1, (count,), generator=gen, device=device)


def _lengths(l1: Union[int, torch.Tensor], rows: int, device: torch.device) -> torch.Tensor:
    if isinstance(l1, torch.Tensor):
        return l1.to(device=device, dtype=torch.long).reshape(rows)
    return torch.full((rows,), int(l1), dtype=torch.long, device=device)


def consecutive_mask(length: int, l1: Union[int, torch.Tensor], rows: Optional[int] = None) -> torch.Tensor:
    """Keep the first ``l1`` of ``length`` symbols: ``[M, length]`` float 0/1.

    :param l1: int or ``[M]`` int tensor (``rows`` needed for an int).
    """
    rows = rows if rows is not None else (l1.shape[0] if isinstance(l1, torch.Tensor) else 1)
    device = l1.device if isinstance(l1, torch.Tensor) else torch.device("cpu")
    l1 = _lengths(l1, rows, device)
    return (torch.arange(length, device=device)[None, :] < l1[:, None]).float()


def topk_mask(scores: torch.Tensor, l1: Union[int, torch.Tensor]) -> torch.Tensor:
    """Keep the ``l1`` largest ``scores`` of each row (eq. (18)): ``[M, L]`` float 0/1.

    Ties are broken by position (lower index first), so every row has exactly ``l1``
    ones.
    """
    rows = scores.shape[0]
    l1 = _lengths(l1, rows, scores.device)
    order = torch.argsort(scores.detach(), dim=-1, descending=True, stable=True)
    ranks = torch.argsort(order, dim=-1)
    return (ranks < l1[:, None]).to(scores.dtype)


def soft_topk_mask(scores: torch.Tensor, l1: Union[int, torch.Tensor], temperature: float = 1.0) -> torch.Tensor:
    """Straight-through soft top-k: forward = :func:`topk_mask`, backward = sigmoid.

    Scores are standardised per row (zero mean, unit standard deviation) so that the
    temperature acts on a fixed scale. The threshold ``kappa`` of eq. (18) is the
    midpoint between the ``l1``-th and ``(l1+1)``-th largest score of each row (held
    constant); the relaxed mask ``sigmoid((s - kappa) / temperature)`` carries the
    gradient ("SoftKMax", Sec. IV-B2) while the forward value is the hard mask with
    exactly ``l1`` ones. (Standardising raised the importance mask's accuracy on
    embedded task 1 at L1 = 16 from 0.94 to 0.97 for the same training budget.)

    :param scores: ``[M, L]`` float. :param l1: int or ``[M]`` int tensor in ``[1, L]``.
    :returns: ``[M, L]`` float.
    """
    rows, length = scores.shape
    l1 = _lengths(l1, rows, scores.device)
    hard = topk_mask(scores, l1)
    # standardised per row, so that the temperature acts on a fixed scale
    scores = (scores - scores.mean(-1, keepdim=True)) / (scores.std(-1, keepdim=True) + 1e-6)
    ordered = torch.sort(scores.detach(), dim=-1, descending=True).values
    upper = ordered.gather(1, (l1 - 1).clamp(0, length - 1)[:, None])
    lower = ordered.gather(1, l1.clamp(0, length - 1)[:, None])
    kappa = torch.where(l1[:, None] >= length, upper - temperature, 0.5 * (upper + lower))
    soft = torch.sigmoid((scores - kappa) / temperature)
    return hard + (soft - soft.detach())  # exactly `hard` in value


def random_mask(length: int, l1: Union[int, torch.Tensor], rows: Optional[int] = None,
                device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """Keep ``l1`` uniformly random positions per row (Sionna's generator): ``[M, L]``."""
    import sionna.phy

    rows = rows if rows is not None else (l1.shape[0] if isinstance(l1, torch.Tensor) else 1)
    if device is None:
        device = l1.device if isinstance(l1, torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    gen = sionna.phy.config.torch_rng(str(device))
    scores = torch.rand((rows, length), generator=gen, device=device)
    return topk_mask(scores, _lengths(l1, rows, device))


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the unsent symbols and give the sent ones unit average energy (eq. (19)).

    :param x: ``[M, L, 2]`` float (re, im), unit average energy per symbol.
    :param mask: ``[M, L]`` float, 1 = sent (may carry a straight-through gradient).
    :returns: ``[M, L, 2]``: ``x * mask`` scaled so that the sent symbols of each row
        have mean energy 1 (``sum |x~|^2 = L1``).
    """
    kept = x * mask[..., None]
    energy = kept.square().sum(dim=(1, 2))
    count = mask.detach().sum(dim=-1)
    scale = torch.sqrt(count / energy.clamp_min(1e-12))
    return kept * scale[:, None, None]

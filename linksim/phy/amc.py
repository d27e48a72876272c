"""Adaptive modulation and coding (AMC): pick a code and a modulation from the SNR.

An :class:`AmcTable` holds modulation-and-coding schemes, each with the lowest SNR at
which it may be used (``min_snr_db``, Es/N0 in dB in linksim's convention, see
:mod:`linksim.phy.base`). :meth:`AmcTable.select` returns the scheme with the highest
spectral efficiency (information bits per channel use, ``rate * log2(M)``) whose
threshold is at or below the SNR; below every threshold it returns the most robust
scheme (lowest threshold). The choice is therefore monotone: a higher SNR never selects
a less efficient scheme.

Thresholds come from BLER curves: :meth:`AmcTable.from_target_bler` takes, for each
candidate, the SNR where its BLER falls to a target (log-linear interpolation on a grid),
either from supplied curves or from a simulation (by default :func:`awgn_bler`).

YAML (the ``amc:`` block of a scenario, validated by :class:`AmcParams`)::

    amc: {}                                   # rate and order: 5G LDPC 1/3..5/6 x QPSK/16/64-QAM
    amc: {preset: turbo_order}                # order only: Turbo r=1/3 + QPSK/16/64-QAM
    amc:
      entries:
        - {min_snr_db: -0.9, order: 4,  code: {type: turbo, k: 256}}
        - {min_snr_db:  3.8, order: 16, code: {type: turbo, k: 256}}
        - {min_snr_db:  9.0, order: 64, code: {type: ldpc5g, k: 512, n: 768}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Type, Union

import numpy as np
import torch
from pydantic import Field, ValidationError, field_validator
from sionna.phy import config

from ..errors import UserError
from ..registry import ParamsModel, format_validation_error
from .base import ChannelCode, snr_db_to_no
from .codes import build_code
from .modulation import MODULATION_ORDERS, Modulation

__all__ = [
    "AmcCandidate",
    "AmcEntry",
    "AmcParams",
    "AmcScheme",
    "AmcTable",
    "DEFAULT_TURBO_QAM_ENTRIES",
    "LDPC_RATE_ORDER_ENTRIES",
    "PRESET_ENTRIES",
    "awgn_bler",
    "snr_at_bler",
]

BlerSimulator = Callable[[ChannelCode, Modulation, np.ndarray], Sequence[float]]


class AmcCandidate(ParamsModel):
    """A modulation-and-coding scheme without a threshold: a code spec and a QAM order."""

    code: Dict[str, Any] = Field(description="code spec, e.g. {type: turbo, k: 256}")
    order: int = Field(description="modulation order: 2 (BPSK), 4, 16, 64, 256 or 1024")

    @field_validator("order")
    @classmethod
    def _check_order(cls, order: int) -> int:
        if order not in MODULATION_ORDERS:
            raise ValueError(f"must be one of {', '.join(map(str, MODULATION_ORDERS))}")
        return order

    @field_validator("code")
    @classmethod
    def _check_code(cls, code: Dict[str, Any]) -> Dict[str, Any]:
        if not isinstance(code.get("type"), str):
            raise ValueError("needs a 'type' naming a registered code")
        return code


class AmcEntry(AmcCandidate):
    """One row of an AMC table: usable from ``min_snr_db`` (Es/N0, dB) upwards."""

    min_snr_db: float


class AmcParams(ParamsModel):
    """The ``amc:`` block of a scenario: explicit entries, or a shipped table (``preset``)."""

    entries: Optional[List[AmcEntry]] = Field(
        None, min_length=1, max_length=64,
        description="1..64 schemes (each builds a code; LTE's CQI table has 15, NR's 28 MCS); "
                    "given, they replace the preset")
    preset: Literal["ldpc_rate_order", "turbo_order"] = Field(
        "ldpc_rate_order",
        description="table used without entries: ldpc_rate_order adapts code rate and QAM order (5G LDPC "
                    "k=256, rates 1/3..5/6, QPSK/16/64-QAM); turbo_order adapts the order only (LTE Turbo r=1/3)")

    def build(self, field: str = "amc") -> "AmcTable":
        """Build the :class:`AmcTable` (codes are validated here, errors name ``field``)."""
        entries = self.entries if self.entries is not None else PRESET_ENTRIES[self.preset]
        return AmcTable(entries, field=field)


@dataclass(frozen=True)
class AmcScheme:
    """A built AMC entry.

    :ivar entry: The table row (thresholds and specs).
    :ivar code: The built channel code.
    :ivar modulation: The built modulation.
    :ivar efficiency: Information bits per channel use, ``code.rate * bits_per_symbol``.
    """

    entry: AmcEntry
    code: ChannelCode
    modulation: Modulation
    efficiency: float

    @property
    def min_snr_db(self) -> float:
        return self.entry.min_snr_db

    def __repr__(self) -> str:
        code_name = self.entry.code.get("type")
        return (
            f"AmcScheme({code_name} r={self.code.rate:.3f} + {self.modulation.name}, "
            f"{self.efficiency:.3f} b/cu, >= {self.min_snr_db:g} dB)"
        )


class AmcTable:
    """An AMC table: schemes sorted by spectral efficiency, selected by SNR threshold.

    :param entries: :class:`AmcEntry` objects or mappings with ``min_snr_db``, ``code``
        (a code spec) and ``order``.
    :param field: Field path for error messages (``amc``).
    :raises UserError: invalid entry, code spec or order.
    """

    def __init__(self, entries: Sequence[Union[AmcEntry, Mapping[str, Any]]], field: str = "amc") -> None:
        if not entries:
            raise UserError(f"{field}.entries: at least one entry is required")
        schemes = []
        for i, raw in enumerate(entries):
            where = f"{field}.entries[{i}]"
            entry = raw if isinstance(raw, AmcEntry) else _validate(AmcEntry, raw, where)
            code = build_code(entry.code, field=f"{where}.code")
            modulation = Modulation(entry.order)
            schemes.append(AmcScheme(entry, code, modulation, code.rate * modulation.bits_per_symbol))
        schemes.sort(key=lambda s: (s.efficiency, s.min_snr_db))
        self.schemes: List[AmcScheme] = schemes
        self._thresholds = np.array([s.min_snr_db for s in schemes])
        self._efficiency = np.array([s.efficiency for s in schemes])

    def __len__(self) -> int:
        return len(self.schemes)

    def __iter__(self):
        return iter(self.schemes)

    def __repr__(self) -> str:
        rows = ",\n  ".join(repr(s) for s in self.schemes)
        return f"AmcTable(\n  {rows}\n)"

    @property
    def thresholds_db(self) -> np.ndarray:
        """``[num_schemes]`` thresholds in the table's order (ascending efficiency)."""
        return self._thresholds.copy()

    def select_index(self, snr_db: Union[float, Sequence[float], np.ndarray, torch.Tensor]) -> Union[int, np.ndarray]:
        """Index into :attr:`schemes` chosen at ``snr_db`` (a float, or an array of any shape).

        Highest efficiency among schemes with ``min_snr_db <= snr_db`` (ties: the lower
        threshold); the most robust scheme (lowest threshold) if none qualifies.
        """
        if isinstance(snr_db, torch.Tensor):
            snr_db = snr_db.detach().cpu().numpy()
        snr = np.asarray(snr_db, dtype=float)
        eligible = self._thresholds <= snr[..., None]  # [..., num_schemes]
        # Schemes are sorted by (efficiency, threshold): argmax takes the first maximum,
        # i.e. the lowest threshold among equally efficient eligible schemes.
        best = np.argmax(np.where(eligible, self._efficiency, -np.inf), axis=-1)
        most_robust = int(np.lexsort((self._efficiency, self._thresholds))[0])
        chosen = np.where(eligible.any(axis=-1), best, most_robust)
        return int(chosen) if chosen.ndim == 0 else chosen

    def select(self, snr_db: float) -> AmcScheme:
        """The scheme to use at ``snr_db`` (Es/N0 in dB); see :meth:`select_index`."""
        return self.schemes[self.select_index(float(snr_db))]

    @classmethod
    def from_target_bler(
        cls,
        candidates: Sequence[Union[AmcCandidate, Mapping[str, Any]]],
        target_bler: float,
        snr_db: Sequence[float],
        simulate_bler: Optional[BlerSimulator] = None,
        bler_curves: Optional[Sequence[Sequence[float]]] = None,
        drop_dominated: bool = True,
    ) -> "AmcTable":
        """Build a table whose thresholds are where each candidate reaches ``target_bler``.

        :param candidates: Schemes without thresholds (``{code: spec, order: M}``).
        :param target_bler: Target block error rate, e.g. 0.1.
        :param snr_db: Ascending SNR grid (Es/N0, dB) of the curves.
        :param simulate_bler: ``f(code, modulation, snr_db_grid) -> bler per SNR``; used when
            ``bler_curves`` is not given. Defaults to :func:`awgn_bler`.
        :param bler_curves: Measured BLER per candidate on ``snr_db`` (one list per candidate).
        :param drop_dominated: Leave out schemes that a more efficient scheme beats at a
            lower or equal threshold (they could never be selected).
        :raises ValueError: bad target or grid, curve length mismatch, or no candidate
            reaching the target on the grid. Candidates that never reach it are left out.
        """
        if not 0.0 < target_bler < 1.0:
            raise ValueError("target_bler must lie in (0, 1)")
        grid = np.asarray(snr_db, dtype=float)
        if grid.ndim != 1 or grid.size < 1 or np.any(np.diff(grid) <= 0):
            raise ValueError("snr_db must be a non-empty ascending 1-D grid")
        cands = [c if isinstance(c, AmcCandidate) else _validate(AmcCandidate, c, "candidates") for c in candidates]
        if bler_curves is not None and len(bler_curves) != len(cands):
            raise ValueError("bler_curves needs one curve per candidate")
        simulate = simulate_bler if simulate_bler is not None else awgn_bler

        entries = []
        for i, cand in enumerate(cands):
            if bler_curves is not None:
                bler = np.asarray(bler_curves[i], dtype=float)
            else:
                bler = np.asarray(simulate(build_code(cand.code), Modulation(cand.order), grid), dtype=float)
            if bler.shape != grid.shape:
                raise ValueError(f"BLER curve {i} has {bler.size} points, the grid {grid.size}")
            threshold = snr_at_bler(grid, bler, target_bler)
            if threshold is not None:
                entries.append(AmcEntry(code=cand.code, order=cand.order, min_snr_db=threshold))
        if not entries:
            raise ValueError(f"no candidate reaches BLER {target_bler} on the SNR grid")
        table = cls(entries)
        if drop_dominated:
            kept, best_threshold = [], math.inf
            for scheme in reversed(table.schemes):  # most efficient first
                if scheme.min_snr_db < best_threshold:
                    kept.append(scheme.entry)
                    best_threshold = scheme.min_snr_db
            table = cls(kept[::-1])
        return table


def _validate(model: Type[ParamsModel], raw: Mapping[str, Any], field: str) -> Any:
    """Validate ``raw`` with ``model``; errors become a :class:`UserError` naming ``field``."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, prefix=field)) from None


def snr_at_bler(snr_db: Sequence[float], bler: Sequence[float], target: float) -> Optional[float]:
    """SNR at which a BLER curve falls to ``target`` (and stays at or below it on the grid).

    Interpolates ``log10(BLER)`` linearly between the last grid point above the target
    and the next one (a zero BLER counts as the target there, which is conservative).

    :param snr_db: ``[P]`` ascending SNR grid.
    :param bler: ``[P]`` BLER values.
    :param target: Target BLER in (0, 1).
    :return: The threshold in dB, or ``None`` if the last point is still above the target.
    """
    grid = np.asarray(snr_db, dtype=float)
    curve = np.asarray(bler, dtype=float)
    above = np.nonzero(curve > target)[0]
    if above.size == 0:
        return float(grid[0])
    i = int(above[-1])
    if i == grid.size - 1:
        return None
    lo = math.log10(curve[i])
    hi = math.log10(curve[i + 1]) if curve[i + 1] > 0 else math.log10(target)
    t = (lo - math.log10(target)) / (lo - hi)
    return float(grid[i] + t * (grid[i + 1] - grid[i]))


@torch.no_grad()
def awgn_bler(
    code: ChannelCode,
    modulation: Modulation,
    snr_db: Sequence[float],
    num_blocks: int = 1000,
    batch_size: int = 250,
    max_block_errors: Optional[int] = 200,
) -> np.ndarray:
    """Monte-Carlo BLER of ``code`` + ``modulation`` over complex AWGN.

    Each block: ``k`` uniform bits -> encode -> pad to whole symbols -> map -> add noise
    of variance ``no = 10^(-snr/10)`` per complex sample (Es = 1) -> APP demap ->
    decode. Random numbers come from Sionna's generator (seed via
    ``sionna.phy.config.seed``).

    :param snr_db: ``[P]`` SNR points (Es/N0, dB).
    :param num_blocks: Blocks per SNR point (upper bound, see ``max_block_errors``).
    :param batch_size: Blocks per batch.
    :param max_block_errors: Stop a point early once this many block errors were seen
        (``None``: always run ``num_blocks``).
    :return: ``[P]`` float BLER estimates.
    """
    device = config.device
    gen = config.torch_rng(device)
    out = []
    for snr in np.asarray(snr_db, dtype=float):
        no = float(snr_db_to_no(float(snr)))
        errors = done = 0
        while done < num_blocks and (max_block_errors is None or errors < max_block_errors):
            batch = min(batch_size, num_blocks - done)
            u = torch.randint(0, 2, (batch, code.k), generator=gen, device=device).float()
            c = modulation.pad_bits(code.encode(u))
            x = modulation.map(c)
            noise = torch.complex(
                torch.randn(x.shape, generator=gen, device=device),
                torch.randn(x.shape, generator=gen, device=device),
            ) * math.sqrt(no / 2)
            llr = modulation.demap(x + noise, no)[..., : code.n]
            u_hat = code.decode(llr)
            errors += int((u_hat != u).any(dim=-1).sum())
            done += batch
        out.append(errors / done)
    return np.array(out)


# Default table: LTE Turbo (k = 256, n = 780, rate 0.328; exact-MAP BCJR, 6 iterations)
# with QPSK, 16-QAM and 64-QAM (APP demapping) over AWGN. Each threshold is the Es/N0 at
# which the BLER falls to 10 % (the usual LTE CQI target), rounded up to 0.1 dB.
# Measured with awgn_bler (seed 1234, 1000 blocks per point, 0.25 dB grid) and
# snr_at_bler(grid, bler, 0.1):
#   QPSK    -1.50: 0.368  -1.25: 0.222  -1.00: 0.104  -0.75: 0.038  -0.50: 0.014  -> -0.99 dB
#   16-QAM   3.25: 0.362   3.50: 0.215   3.75: 0.093   4.00: 0.040   4.25: 0.019  ->  3.73 dB
#   64-QAM   6.75: 0.349   7.00: 0.235   7.25: 0.123   7.50: 0.069   (8.0: 0/400) ->  7.34 dB
# For reference, the Shannon limits at these efficiencies (0.66, 1.31, 1.97 b/cu) are
# -2.4, 1.7 and 4.7 dB.
DEFAULT_TURBO_QAM_ENTRIES: List[AmcEntry] = [
    AmcEntry(min_snr_db=-0.9, order=4, code={"type": "turbo", "k": 256}),
    AmcEntry(min_snr_db=3.8, order=16, code={"type": "turbo", "k": 256}),
    AmcEntry(min_snr_db=7.4, order=64, code={"type": "turbo", "k": 256}),
]


# Rate and order adaptation: 5G NR LDPC (TS 38.212, k = 256 information bits, rate-matched
# to n = 768, 512, 384, 341, 307 code bits: rates 1/3, 1/2, 2/3, 3/4, 5/6; flooding BP,
# 20 iterations) with QPSK, 16-QAM and 64-QAM over AWGN, thresholds at 10 % BLER rounded
# up to 0.1 dB. LDPC rather than Turbo: Sionna's Turbo encoder offers rates 1/3 and 1/2
# only, while the 5G code is rate-matched to any rate in [1/5, 0.95] (and replaced Turbo
# for NR data channels). Measured with awgn_bler (seed 1234, 1000 blocks per point or 200
# block errors, 0.25 dB grid) and snr_at_bler(grid, bler, 0.1) (threshold, efficiency):
#   QPSK   1/3 -0.72 dB 0.667 | 1/2  1.60 1.000 | 2/3  3.69 1.333 | 3/4  4.69 1.501 | 5/6  6.06 1.668
#   16-QAM 1/3  4.14 dB 1.333 | 1/2  6.98 2.000 | 2/3  9.64 2.667 | 3/4 10.83 3.003 | 5/6 12.44 3.336
#   64-QAM 1/3  8.00 dB 2.000 | 1/2 11.59 3.000 | 2/3 14.73 4.000 | 3/4 16.14 4.504 | 5/6 18.01 5.003
# e.g. QPSK 1/2: BLER 0.309, 0.144, 0.058, 0.025 at 1.25, 1.5, 1.75, 2.0 dB. Dominated
# schemes (a more efficient one has a lower threshold: 16-QAM 1/3, 64-QAM 1/3 and 1/2) are
# left out; the 12 others are the table.
LDPC_RATE_ORDER_ENTRIES: List[AmcEntry] = [
    AmcEntry(min_snr_db=thr, order=order, code={"type": "ldpc5g", "k": 256, "n": n})
    for thr, order, n in (
        (-0.7, 4, 768), (1.6, 4, 512), (3.7, 4, 384), (4.7, 4, 341), (6.1, 4, 307),
        (7.0, 16, 512), (9.7, 16, 384), (10.9, 16, 341), (12.5, 16, 307),
        (14.8, 64, 384), (16.2, 64, 341), (18.1, 64, 307),
    )
]

#: The shipped tables by ``amc.preset`` name.
PRESET_ENTRIES: Dict[str, List[AmcEntry]] = {
    "ldpc_rate_order": LDPC_RATE_ORDER_ENTRIES,
    "turbo_order": DEFAULT_TURBO_QAM_ENTRIES,
}

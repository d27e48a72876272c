"""Adaptive modulation and coding: selection rule, thresholds from BLER curves, YAML block."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import sionna

from linksim.errors import UserError
from linksim.phy.amc import (
    DEFAULT_TURBO_QAM_ENTRIES,
    AmcParams,
    AmcTable,
    awgn_bler,
    snr_at_bler,
)
from linksim.phy.codes import build_code
from linksim.phy.modulation import Modulation


@pytest.fixture(autouse=True)
def _seed() -> None:
    sionna.phy.config.seed = 1234


@pytest.fixture(scope="module")
def default_table() -> AmcTable:
    """The Turbo table (order adaptation only), the default before rate adaptation."""
    return AmcParams(preset="turbo_order").build()


@pytest.fixture(scope="module")
def rate_order_table() -> AmcTable:
    return AmcParams().build()


def test_the_default_table_adapts_code_rate_and_order(rate_order_table: AmcTable) -> None:
    schemes = list(rate_order_table)
    assert len(schemes) == 12 and all(s.code.registered_name == "ldpc5g" and s.code.k == 256 for s in schemes)
    assert {round(s.code.rate, 2) for s in schemes} == {0.33, 0.5, 0.67, 0.75, 0.83}
    assert {s.modulation.order for s in schemes} == {4, 16, 64}
    # sorted by efficiency, thresholds rising with it: no scheme is dominated
    assert np.all(np.diff([s.efficiency for s in schemes]) > 0)
    assert np.all(np.diff(rate_order_table.thresholds_db) > 0)
    picks = [rate_order_table.select(snr) for snr in (-5.0, 2.0, 8.0, 20.0)]
    assert [(p.modulation.order, round(p.code.rate, 2)) for p in picks] == [(4, 0.33), (4, 0.5), (16, 0.5), (64, 0.83)]


@pytest.mark.slow
def test_rate_order_thresholds_reproduce(rate_order_table: AmcTable) -> None:
    """Each LDPC threshold sits at the 10 % BLER crossing (cheap check: 64 blocks, +-1 dB)."""
    for scheme in rate_order_table:
        low, high = awgn_bler(scheme.code, scheme.modulation, [scheme.min_snr_db - 1.0, scheme.min_snr_db + 1.0],
                              num_blocks=64, batch_size=64, max_block_errors=None)
        assert low > 0.3 and high < 0.05, (scheme, low, high)


def test_default_table(default_table: AmcTable) -> None:
    assert len(default_table) == 3
    assert [s.modulation.order for s in default_table] == [4, 16, 64]
    rate = 256 / 780
    assert [s.efficiency for s in default_table] == pytest.approx([2 * rate, 4 * rate, 6 * rate])
    assert np.all(np.diff(default_table.thresholds_db) > 0)
    assert all(s.code.registered_name == "turbo" for s in default_table)


def test_select_is_monotone_and_respects_thresholds(default_table: AmcTable) -> None:
    grid = np.arange(-10.0, 25.0, 0.05)
    efficiency = [default_table.select(snr).efficiency for snr in grid]
    assert np.all(np.diff(efficiency) >= 0)
    for scheme in default_table:
        assert default_table.select(scheme.min_snr_db) is scheme  # threshold is inclusive
    lowest = default_table.schemes[0]
    assert default_table.select(lowest.min_snr_db - 5) is lowest  # most robust below all
    assert default_table.select(100.0) is default_table.schemes[-1]
    # Vectorised selection agrees with the scalar one.
    idx = default_table.select_index(grid.reshape(10, -1))
    assert idx.shape == (10, grid.size // 10)
    assert [default_table.schemes[i].efficiency for i in idx.ravel()] == efficiency


def test_select_prefers_efficiency_over_threshold_order() -> None:
    # A more efficient scheme with a lower threshold dominates a less efficient one.
    table = AmcTable(
        [
            {"min_snr_db": 0.0, "order": 4, "code": {"type": "uncoded", "k": 8}},
            {"min_snr_db": 6.0, "order": 2, "code": {"type": "uncoded", "k": 8}},
            {"min_snr_db": 2.0, "order": 16, "code": {"type": "uncoded", "k": 8}},
        ]
    )
    assert [table.select(s).modulation.order for s in (-1.0, 1.0, 3.0, 7.0)] == [4, 4, 16, 16]


def test_snr_at_bler_interpolates_log_linearly() -> None:
    grid = [0.0, 1.0, 2.0, 3.0]
    assert snr_at_bler(grid, [1.0, 0.1, 0.01, 0.001], 0.1) == pytest.approx(1.0)
    assert snr_at_bler(grid, [1.0, 0.1, 0.01, 0.001], 0.03) == pytest.approx(1 + math.log10(0.1 / 0.03))
    assert snr_at_bler(grid, [0.5, 0.2, 0.0, 0.0], 0.1) == pytest.approx(2.0)  # zero counts as target
    assert snr_at_bler(grid, [0.05, 0.01, 0.0, 0.0], 0.1) == 0.0
    assert snr_at_bler(grid, [1.0, 0.9, 0.5, 0.2], 0.1) is None
    # Non-monotone noise: the last crossing is used (conservative).
    assert snr_at_bler(grid, [1.0, 0.05, 0.2, 0.01], 0.1) > 2.0


def test_from_target_bler_with_supplied_curves() -> None:
    grid = np.arange(0.0, 10.5, 0.5)

    def waterfall(center: float) -> np.ndarray:
        return np.clip(10.0 ** (-(grid - center)), 0.0, 1.0)  # BLER 0.1 at center + 1 dB

    candidates = [
        {"code": {"type": "uncoded", "k": 8}, "order": 4},
        {"code": {"type": "uncoded", "k": 8}, "order": 16},
        {"code": {"type": "uncoded", "k": 8}, "order": 64},
        {"code": {"type": "uncoded", "k": 8}, "order": 256},  # never reaches the target
        {"code": {"type": "uncoded", "k": 8}, "order": 2},  # dominated by QPSK
    ]
    curves = [waterfall(1.0), waterfall(4.0), waterfall(7.0), np.ones_like(grid), waterfall(3.0)]
    table = AmcTable.from_target_bler(candidates, 0.1, grid, bler_curves=curves)
    assert [s.modulation.order for s in table] == [4, 16, 64]
    assert table.thresholds_db == pytest.approx([2.0, 5.0, 8.0])
    kept_all = AmcTable.from_target_bler(candidates, 0.1, grid, bler_curves=curves, drop_dominated=False)
    assert [s.modulation.order for s in kept_all] == [2, 4, 16, 64]
    with pytest.raises(ValueError, match="no candidate"):
        AmcTable.from_target_bler(candidates[3:4], 0.1, grid, bler_curves=curves[3:4])
    with pytest.raises(ValueError):
        AmcTable.from_target_bler(candidates, 1.5, grid, bler_curves=curves)


def test_from_target_bler_calls_the_simulator() -> None:
    calls = []

    def fake_simulator(code, modulation, grid):
        calls.append((code.registered_name, modulation.order, len(grid)))
        return np.where(grid >= 3.0 * modulation.bits_per_symbol, 0.0, 1.0)

    candidates = [{"code": {"type": "uncoded", "k": 16}, "order": m} for m in (4, 16)]
    table = AmcTable.from_target_bler(candidates, 0.1, np.arange(0, 20.0), simulate_bler=fake_simulator)
    assert calls == [("uncoded", 4, 20), ("uncoded", 16, 20)]
    assert table.thresholds_db.tolist() == [6.0, 12.0]


def test_awgn_bler_matches_uncoded_bpsk_theory() -> None:
    code, mod = build_code({"type": "uncoded", "k": 8}), Modulation(2)
    snr_db = np.array([2.0, 4.0])
    bler = awgn_bler(code, mod, snr_db, num_blocks=4000, batch_size=2000, max_block_errors=None)
    p_bit = scipy.stats.norm.sf(np.sqrt(2 * 10 ** (snr_db / 10)))
    expected = 1 - (1 - p_bit) ** 8
    sigma = np.sqrt(expected * (1 - expected) / 4000)
    assert np.all(np.abs(bler - expected) < 4 * sigma), (bler, expected)


@pytest.mark.slow
def test_default_thresholds_reproduce(default_table: AmcTable) -> None:
    """The default thresholds sit where the AWGN BLER of each scheme crosses 10 %.

    Recipe for the table (see DEFAULT_TURBO_QAM_ENTRIES): ``awgn_bler`` with 1000 blocks
    per point on a 0.25 dB grid around each waterfall, then ``snr_at_bler(grid, bler, 0.1)``.
    Here a cheap check with 64 blocks per point: 1 dB above the threshold the BLER is
    well below 10 %, 1 dB below it well above.
    """
    for scheme in default_table:
        low, high = awgn_bler(
            scheme.code, scheme.modulation, [scheme.min_snr_db - 1.0, scheme.min_snr_db + 1.0],
            num_blocks=64, batch_size=64, max_block_errors=None,
        )
        assert low > 0.3 and high < 0.05, (scheme, low, high)


def test_amc_params_yaml_block() -> None:
    table = AmcParams.model_validate(
        {"entries": [{"min_snr_db": 1.5, "order": 16, "code": {"type": "ldpc5g", "k": 512, "n": 1024}}]}
    ).build()
    assert len(table) == 1 and table.select(-3.0).code.n == 1024
    assert AmcParams.model_validate({}).entries is None
    for bad in (
        {"entries": []},
        {"entries": [{"min_snr_db": 1.0, "order": 8, "code": {"type": "turbo"}}]},
        {"entries": [{"min_snr_db": 1.0, "order": 4, "code": {"k": 256}}]},
        {"table": "lte"},
    ):
        with pytest.raises(ValueError):
            AmcParams.model_validate(bad)
    with pytest.raises(UserError, match=r"amc\.entries\[0\]\.code\.k"):
        AmcParams.model_validate({"entries": [{"min_snr_db": 0, "order": 4, "code": {"type": "turbo", "k": 7}}]}).build()
    with pytest.raises(UserError, match=r"amc\.entries\[0\]\.order"):
        AmcTable([{"min_snr_db": 0, "order": 5, "code": {"type": "uncoded"}}])
    assert len(DEFAULT_TURBO_QAM_ENTRIES) == 3

"""Channel codes: round trips, 802.16e matrices per the standard, BER at known Eb/N0."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import sionna
import torch

from linksim.errors import UserError
from linksim.phy.base import snr_db_from_ebno_db, snr_db_to_no
from linksim.phy.codes import (
    WIMAX_LENGTHS,
    WIMAX_RATES,
    WimaxLdpc,
    build_code,
    lte_turbo_block_sizes,
    wimax_base_matrix,
    wimax_pcm,
)
from linksim.phy.modulation import Modulation


@pytest.fixture(autouse=True)
def _seed() -> None:
    sionna.phy.config.seed = 1234


def _bits(*shape: int) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=sionna.phy.config.torch_rng("cpu")).float()


def _perfect_llr(c: torch.Tensor, magnitude: float = 10.0) -> torch.Tensor:
    """Noise-free LLRs in Sionna's convention log(P(1)/P(0)): positive for a one."""
    return magnitude * (2.0 * c - 1.0)


def _gf2_rank(h: np.ndarray) -> int:
    """Rank over GF(2) of a 0/1 matrix (rows packed into uint64 words)."""
    rows = np.packbits(h.astype(np.uint8), axis=1)
    pad = (-rows.shape[1]) % 8
    rows = np.pad(rows, ((0, 0), (0, pad))).view(">u8").astype(np.uint64)
    rank = 0
    num_cols = h.shape[1]
    for col in range(num_cols):
        word, bit = divmod(col, 64)
        mask = np.uint64(1) << np.uint64(63 - bit)
        candidates = np.nonzero(rows[rank:, word] & mask)[0]
        if candidates.size == 0:
            continue
        pivot = rank + candidates[0]
        rows[[rank, pivot]] = rows[[pivot, rank]]
        hit = np.nonzero(rows[:, word] & mask)[0]
        hit = hit[hit != rank]
        rows[hit] ^= rows[rank]
        rank += 1
        if rank == rows.shape[0]:
            break
    return rank


_WIMAX_RATE_VALUE = {"1/2": 1 / 2, "2/3A": 2 / 3, "2/3B": 2 / 3, "3/4A": 3 / 4, "3/4B": 3 / 4, "5/6": 5 / 6}

ROUND_TRIP_SPECS = [
    {"type": "uncoded", "k": 100},
    {"type": "ldpc5g", "k": 512, "n": 1024},
    {"type": "ldpc5g", "k": 100, "n": 300},
    {"type": "turbo", "k": 256},
    {"type": "turbo", "k": 40, "num_iter": 2, "algorithm": "maxlog"},
    *({"type": "wimax_ldpc", "rate": r, "n": 2304} for r in WIMAX_RATES),
    *({"type": "wimax_ldpc", "rate": r, "n": 576, "num_iter": 5} for r in WIMAX_RATES),
    {"type": "wimax_ldpc", "rate": "2/3", "n": 1344, "cn_update": "minsum"},
]


@pytest.mark.parametrize("spec", ROUND_TRIP_SPECS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_noiseless_round_trip(spec: dict) -> None:
    code = build_code(spec)
    u = _bits(3, 2, code.k)
    c = code.encode(u)
    assert c.shape == (3, 2, code.n) and c.dtype == u.dtype
    assert torch.all((c == 0) | (c == 1))
    u_hat = code.decode(_perfect_llr(c))
    assert u_hat.shape == u.shape
    assert torch.equal(u_hat, u)


def test_registered_names_and_rates() -> None:
    from linksim.registry import codes

    assert {"uncoded", "ldpc5g", "wimax_ldpc", "turbo"} <= set(codes.names())
    assert build_code({"type": "ldpc5g", "k": 512, "n": 1024}).rate == 0.5
    assert build_code({"type": "uncoded", "k": 7}).n == 7


def test_turbo_length_includes_termination() -> None:
    code = build_code({"type": "turbo"})
    assert (code.k, code.n) == (256, 3 * 256 + 12)
    assert code.rate == pytest.approx(256 / 780)
    assert 6144 in lte_turbo_block_sizes() and 40 in lte_turbo_block_sizes() and len(lte_turbo_block_sizes()) == 188


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"type": "uncoded", "k": 0}, "code.k"),
        ({"type": "ldpc5g", "k": 512, "n": 500}, "code"),  # rate > 0.95
        ({"type": "ldpc5g", "k": 100, "n": 1000}, "code"),  # rate < 1/5
        ({"type": "ldpc5g", "k": 512, "n": 1024, "iters": 3}, "code.iters"),
        ({"type": "wimax_ldpc", "n": 600}, "code.n"),
        ({"type": "wimax_ldpc", "rate": "7/8"}, "code.rate"),
        ({"type": "wimax_ldpc", "num_iter": 0}, "code.num_iter"),
        ({"type": "turbo", "k": 250}, "code.k"),
        ({"type": "polar"}, "code.type"),
    ],
)
def test_invalid_params_rejected(spec: dict, field: str) -> None:
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        build_code(spec)


def test_wimax_rate_aliases() -> None:
    assert WimaxLdpc.Params(rate="2/3").rate == "2/3A"
    assert WimaxLdpc.Params(rate="3/4").rate == "3/4A"
    assert WimaxLdpc.Params().n == 2304


# --------------------------------------------------------------------- 802.16e matrices

_ROW_DEGREES = {"1/2": {6, 7}, "2/3A": {10}, "2/3B": {10, 11}, "3/4A": {14, 15}, "3/4B": {14, 15}, "5/6": {20}}
# Column-degree histograms {degree: number of base columns} of the base matrices.
_COLUMN_DEGREES = {
    "1/2": {2: 11, 3: 8, 6: 5},
    "2/3A": {2: 7, 3: 12, 6: 5},
    "2/3B": {2: 7, 3: 1, 4: 16},
    "3/4A": {2: 5, 3: 1, 4: 18},
    "3/4B": {2: 5, 3: 12, 6: 7},
    "5/6": {2: 3, 3: 10, 4: 11},
}


@pytest.mark.parametrize("rate", WIMAX_RATES)
def test_wimax_base_matrix_structure(rate: str) -> None:
    base = wimax_base_matrix(rate, 2304)
    m_b = round(24 * (1 - _WIMAX_RATE_VALUE[rate]))
    assert base.shape == (m_b, 24)
    nonzero = base >= 0
    assert set(nonzero.sum(axis=1).tolist()) == _ROW_DEGREES[rate]
    degrees, counts = np.unique(nonzero.sum(axis=0), return_counts=True)
    assert dict(zip(degrees.tolist(), counts.tolist())) == _COLUMN_DEGREES[rate]
    # Parity part: h_b with three non-zero blocks, then the dual-diagonal staircase.
    k_b = 24 - m_b
    assert nonzero[:, k_b].sum() == 3 and base[0, k_b] >= 0 and base[-1, k_b] >= 0
    stair = nonzero[:, k_b + 1 :].astype(int)
    assert np.array_equal(stair, np.eye(m_b, m_b - 1, dtype=int) + np.eye(m_b, m_b - 1, k=-1, dtype=int))
    assert np.all(base[nonzero] < 96)


@pytest.mark.parametrize("rate", WIMAX_RATES)
@pytest.mark.parametrize("n", [576, 2304])
def test_wimax_pcm_rank_and_codewords(rate: str, n: int) -> None:
    code = build_code({"type": "wimax_ldpc", "rate": rate, "n": n})
    k = round(n * _WIMAX_RATE_VALUE[rate])
    assert (code.k, code.n) == (k, n)
    h = wimax_pcm(rate, n)
    assert h.shape == (n - k, n)
    assert _gf2_rank(h.toarray()) == n - k
    u = _bits(16, k)
    c = code.encode(u)
    assert torch.equal(c[:, :k], u)  # systematic
    syndrome = (h @ c.numpy().T.astype(np.int64)) % 2
    assert not syndrome.any()


def test_wimax_shift_scaling() -> None:
    """Rate 2/3A scales shifts modulo z, the others by floor(p z / 96)."""
    z = 672 // 24  # 28
    h = wimax_pcm("2/3A", 672).tocsr()
    # First row of the 2/3A base matrix: (column block, shift) at z0 = 96.
    row0 = [(0, 3), (1, 0), (4, 2), (5, 0), (7, 3), (8, 7), (10, 1), (11, 1), (16, 1), (17, 0)]
    assert h[0].indices.tolist() == [j * z + s % z for j, s in row0]
    base_12 = wimax_base_matrix("1/2", 672)
    assert base_12[0, 1] == 94 * 28 // 96 and base_12[0, 12] == 7 * 28 // 96
    assert wimax_base_matrix("2/3A", 672)[1, 4] == 36 % 28


def _num_4_cycles(base: np.ndarray, z: int) -> int:
    count = 0
    for i1, i2 in itertools.combinations(range(base.shape[0]), 2):
        shared = np.nonzero((base[i1] >= 0) & (base[i2] >= 0))[0]
        for j1, j2 in itertools.combinations(shared, 2):
            count += (base[i1, j1] - base[i1, j2] + base[i2, j2] - base[i2, j1]) % z == 0
    return count


@pytest.mark.parametrize("rate", ["2/3B", "3/4B", "5/6"])
def test_wimax_codes_free_of_4_cycles(rate: str) -> None:
    """Documents the choice between the two published values of two base-matrix entries."""
    assert all(_num_4_cycles(wimax_base_matrix(rate, n), n // 24) == 0 for n in WIMAX_LENGTHS)


def test_wimax_large_batch_encoding_matches_pcm() -> None:
    code = WimaxLdpc(WimaxLdpc.Params(rate="3/4B", n=1152))
    c = code.encode(_bits(4, 50, code.k)).reshape(-1, code.n)
    assert not ((code.pcm @ c.numpy().T.astype(np.int64)) % 2).any()


# ------------------------------------------------------------------------ AWGN BER


def _awgn_bit_errors(code, modulation: Modulation, ebno_db: float, num_blocks: int) -> tuple:
    """(bit errors, bits, block errors) over complex AWGN at the given Eb/N0."""
    snr_db = snr_db_from_ebno_db(ebno_db, modulation.bits_per_symbol, code.rate)
    no = snr_db_to_no(snr_db)
    gen = sionna.phy.config.torch_rng("cpu")
    u = _bits(num_blocks, code.k)
    x = modulation.map(modulation.pad_bits(code.encode(u)))
    noise = torch.complex(torch.randn(x.shape, generator=gen), torch.randn(x.shape, generator=gen))
    llr = modulation.demap(x + math.sqrt(no / 2) * noise, no)[..., : code.n]
    errors = code.decode(llr) != u
    return int(errors.sum()), errors.numel(), int(errors.any(dim=-1).sum())


def _ber_upper_bound(errors: int, bits: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound, treating bit errors as independent."""
    return float(scipy.stats.beta.ppf(confidence, errors + 1, bits - errors))


@pytest.mark.parametrize(
    "spec, order, ebno_db, num_blocks",
    [
        ({"type": "ldpc5g", "k": 512, "n": 1024}, 4, 3.0, 200),
        ({"type": "turbo", "k": 256}, 2, 2.5, 160),
    ],
    ids=["ldpc5g-qpsk-3dB", "turbo-bpsk-2.5dB"],
)
def test_ber_below_1e_4_at_known_ebno(spec: dict, order: int, ebno_db: float, num_blocks: int) -> None:
    code = build_code(spec)
    bit_errors, bits, block_errors = _awgn_bit_errors(code, Modulation(order), ebno_db, num_blocks)
    # ~1e5 bits with (almost) no errors: the 95 % upper bound on the BER is below 1e-4.
    assert _ber_upper_bound(bit_errors, bits) < 1e-4, (bit_errors, bits, block_errors)


def test_ldpc_decoding_fails_gracefully_far_below_capacity() -> None:
    """At Eb/N0 = -2 dB a rate-1/2 code cannot work: many block errors, but valid output."""
    code = build_code({"type": "wimax_ldpc", "rate": "1/2", "n": 576, "num_iter": 5})
    bit_errors, bits, block_errors = _awgn_bit_errors(code, Modulation(2), -2.0, 20)
    assert block_errors >= 15 and 0.02 < bit_errors / bits < 0.5


@pytest.mark.parametrize("magnitude", [1e2, 1e4])
def test_decoders_survive_huge_llrs(magnitude):
    """High SNR gives |LLR| in the hundreds; every decoder must still decode."""
    for spec in ({"type": "turbo", "k": 256}, {"type": "ldpc5g", "k": 512, "n": 1024},
                 {"type": "wimax_ldpc", "rate": "1/2", "n": 576}):
        code = build_code(spec)
        u = torch.randint(0, 2, (3, code.k)).float()
        c = code.encode(u)
        assert torch.equal(code.decode((2 * c - 1) * magnitude), u), spec

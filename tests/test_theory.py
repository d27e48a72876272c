"""Tests for linksim.phy.theory: closed forms, numerical integration and Monte-Carlo checks.

Monte-Carlo BERs are compared with the theory through a Wilson score interval at
99.99% (z = 3.9), so a correct curve fails with negligible probability while an
approximation (e.g. the nearest-neighbour QAM formula) or an off-by-3-dB SNR
convention falls far outside.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats
from sionna.phy import config
from sionna.phy.mapping import BinarySource, Demapper, Mapper

from linksim.errors import UserError
from linksim.phy import theory as th
from linksim.phy.channels import build_channel
from linksim.registry import theory as theory_registry, validate_params

Z = 3.9


@pytest.fixture(autouse=True)
def _seed():
    config.seed = 1234


def wilson(errors: int, n: int, z: float = Z) -> tuple:
    """Wilson score interval for a binomial proportion."""
    p = errors / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def q(x):
    return stats.norm.sf(x)


SNR_DB = np.array([-10.0, -3.0, 0.0, 5.0, 10.0, 15.0, 20.0, 30.0])


def test_registry_holds_the_functions():
    for name in ["ber_qam_awgn", "ber_qam_rayleigh", "capacity_awgn", "capacity_rayleigh",
                 "capacity_rician", "capacity_mimo_rayleigh"]:
        assert theory_registry._entries[name].obj is getattr(th, name)


# ---------------------------------------------------------------------------------- BER


def test_qpsk_awgn_is_q_sqrt_snr():
    g = 10 ** (SNR_DB / 10)
    np.testing.assert_allclose(th.ber_qam_awgn(SNR_DB, order=4), q(np.sqrt(g)), rtol=1e-12, atol=0)


def test_bpsk_awgn_and_rayleigh_closed_forms():
    g = 10 ** (SNR_DB / 10)
    np.testing.assert_allclose(th.ber_qam_awgn(SNR_DB, order=2), q(np.sqrt(2 * g)), rtol=1e-12, atol=0)
    bpsk, qpsk = th.ber_qam_rayleigh(SNR_DB, order=2), th.ber_qam_rayleigh(SNR_DB, order=4)
    np.testing.assert_allclose(bpsk, 0.5 * (1 - np.sqrt(g / (1 + g))), rtol=1e-9)
    np.testing.assert_allclose(qpsk, 0.5 * (1 - np.sqrt(g / (2 + g))), rtol=1e-9)


def test_16qam_terms_match_the_known_expression():
    coeffs, factors = th.qam_erfc_terms(16)
    np.testing.assert_allclose(coeffs, [3 / 8, 1 / 4, -1 / 8])
    np.testing.assert_allclose(factors, np.array([1, 3, 5]) / math.sqrt(10))


@pytest.mark.parametrize("order", [2, 4, 16, 64, 256])
def test_ber_limits_and_monotonicity(order):
    assert th.ber_qam_awgn(-200.0, order) == pytest.approx(0.5, abs=1e-9)
    assert th.ber_qam_rayleigh(-200.0, order) == pytest.approx(0.5, abs=1e-9)
    snr = np.linspace(-10, 40, 51)
    for ber in (th.ber_qam_awgn(snr, order), th.ber_qam_rayleigh(snr, order)):
        assert ber.shape == snr.shape and np.all(ber >= 0)
        decreasing = np.diff(ber) < 0
        assert np.all(decreasing | (ber[1:] < 1e-300))  # strictly, until it underflows


@pytest.mark.parametrize("order", [4, 16, 64, 256])
@pytest.mark.parametrize("snr_db", [0.0, 12.0, 30.0])
def test_rayleigh_ber_equals_numerical_average_of_awgn_ber(order, snr_db):
    mean = 10 ** (snr_db / 10)

    def integrand(g):
        return th.ber_qam_awgn(10 * np.log10(g), order) * np.exp(-g / mean) / mean if g > 0 else 0.5 / mean

    value, _ = integrate.quad(integrand, 0, 60 * mean, points=[mean], limit=400, epsabs=1e-14, epsrel=1e-10)
    assert th.ber_qam_rayleigh(snr_db, order) == pytest.approx(value, rel=1e-7)


def _hard_ber(order: int, snr_db: float, num_bits: int, channel_spec: dict) -> tuple:
    """Bit errors of Sionna QAM + maxlog hard decisions (= nearest point) through a linksim channel."""
    m = int(math.log2(order))
    bits = BinarySource()([num_bits // m, m])
    x = Mapper("qam", m)(bits).reshape(1, -1)
    out = build_channel(channel_spec)(x, 10 ** (-snr_db / 10))
    demapper = Demapper("maxlog", "qam", m, hard_out=True)
    bits_hat = demapper(out.x_hat.reshape(-1, 1), out.no_eff.reshape(-1, 1))
    return int((bits_hat.reshape(bits.shape) != bits).sum()), bits.numel()


@pytest.mark.parametrize("order, snr_db", [(16, 8.0), (16, 14.0), (64, 18.0), (4, 6.0)])
def test_awgn_ber_matches_monte_carlo(order, snr_db):
    errors, n = _hard_ber(order, snr_db, 400_000, {"type": "awgn"})
    lo, hi = wilson(errors, n)
    assert errors > 100
    assert lo <= th.ber_qam_awgn(snr_db, order) <= hi, (errors / n, th.ber_qam_awgn(snr_db, order))


@pytest.mark.parametrize("order, snr_db", [(16, 15.0), (4, 10.0)])
def test_rayleigh_ber_matches_monte_carlo(order, snr_db):
    errors, n = _hard_ber(order, snr_db, 400_000, {"type": "rayleigh"})
    lo, hi = wilson(errors, n)
    assert lo <= th.ber_qam_rayleigh(snr_db, order) <= hi, (errors / n, th.ber_qam_rayleigh(snr_db, order))


def test_nearest_neighbour_approximation_is_rejected_by_the_ci():
    """The Monte-Carlo check is sharp enough to tell the exact formula from the usual
    approximation (4/log2 M)(1 - 1/sqrt M) Q(sqrt(3 snr/(M-1))) = 3/8 erfc(sqrt(snr/10))
    for 16-QAM (the first Cho-Yoon term only), which is off at low SNR."""
    snr_db = 0.0
    errors, n = _hard_ber(16, snr_db, 400_000, {"type": "awgn"})
    lo, hi = wilson(errors, n)
    approx = 3 / 8 * special.erfc(math.sqrt(10 ** (snr_db / 10) / 10))
    assert lo <= th.ber_qam_awgn(snr_db, 16) <= hi
    assert not lo <= approx <= hi


@pytest.mark.parametrize("order", [0, 1, 3, 8, 32, 2.0, True])
def test_invalid_order(order):
    with pytest.raises(UserError, match="order"):
        th.ber_qam_awgn(10.0, order)


def test_params_models_validate_scenario_parameters():
    assert validate_params(th.ber_qam_rayleigh, {"order": 64}, field="theory").order == 64
    with pytest.raises(UserError, match=r"theory\.order"):
        validate_params(th.ber_qam_awgn, {"order": 8}, field="theory")
    with pytest.raises(UserError, match=r"theory\.k_factor"):
        validate_params(th.capacity_rician, {"k_factor": -1}, field="theory")
    with pytest.raises(UserError, match=r"theory\.order: unknown key"):
        validate_params(th.capacity_awgn, {"order": 4}, field="theory")


# ----------------------------------------------------------------------------- capacity


def test_capacity_awgn():
    np.testing.assert_allclose(th.capacity_awgn([0.0, 10.0]), [1.0, math.log2(11.0)])


def test_capacity_rayleigh_matches_monte_carlo():
    rng = np.random.default_rng(5)
    gain = rng.exponential(size=400_000)
    for snr_db in [-5.0, 0.0, 10.0, 25.0]:
        samples = np.log2(1 + 10 ** (snr_db / 10) * gain)
        se = samples.std() / math.sqrt(samples.size)
        assert abs(th.capacity_rayleigh(snr_db) - samples.mean()) < 5 * se


def test_capacity_rayleigh_extremes_are_finite():
    c = th.capacity_rayleigh(np.array([-60.0, -40.0, 80.0]))
    assert np.all(np.isfinite(c))
    # low SNR: C ~ snr log2(e); high SNR: C ~ log2(snr) - gamma_Euler log2(e)
    assert c[0] == pytest.approx(1e-6 * math.log2(math.e), rel=1e-5)
    assert c[2] == pytest.approx(math.log2(1e8) - np.euler_gamma * math.log2(math.e), rel=1e-6)
    assert np.all(th.capacity_rayleigh(SNR_DB) < th.capacity_awgn(SNR_DB))


def test_capacity_rician_limits():
    rayleigh = th.capacity_rayleigh(SNR_DB)
    np.testing.assert_allclose(th.capacity_rician(SNR_DB, k_factor=0.0), rayleigh, rtol=1e-8)
    np.testing.assert_allclose(th.capacity_rician(SNR_DB, k_factor=1e4), th.capacity_awgn(SNR_DB), atol=1e-3)
    by_k = [th.capacity_rician(10.0, k_factor=k) for k in [0.0, 1.0, 2.0, 10.0, 100.0]]
    assert np.all(np.diff(by_k) > 0)


def test_rician_power_pdf_is_a_density_with_unit_mean():
    for k in [0.0, 2.0, 50.0]:
        mass, _ = integrate.quad(th.rician_power_pdf, 0, 60, args=(k,), points=[1.0], limit=200)
        mean, _ = integrate.quad(lambda g: g * th.rician_power_pdf(g, k), 0, 60, points=[1.0], limit=200)
        assert mass == pytest.approx(1.0, abs=1e-8) and mean == pytest.approx(1.0, abs=1e-8)


def test_capacity_rician_matches_the_channel_samples():
    """Ties the theory to the simulator: E log2(1 + snr |h|^2) over linksim's Rician draws."""
    k, snr_db = 2.0, 10.0
    out = build_channel({"type": "rician", "k_factor": k})(torch.ones(200, 1000, dtype=torch.complex64), 0.1)
    samples = np.log2(1 + 10 ** (snr_db / 10) * out.h.abs().square().double().numpy().ravel())
    se = samples.std() / math.sqrt(samples.size)
    assert abs(th.capacity_rician(snr_db, k_factor=k) - samples.mean()) < 5 * se


def test_capacity_mimo_rayleigh_monte_carlo():
    snr = np.array([0.0, 10.0, 20.0])
    siso = th.capacity_mimo_rayleigh(snr, nt=1, nr=1, samples=50_000)
    np.testing.assert_allclose(siso, th.capacity_rayleigh(snr), rtol=0.01)
    c22 = th.capacity_mimo_rayleigh(snr, nt=2, nr=2)
    np.testing.assert_array_equal(c22, th.capacity_mimo_rayleigh(snr, nt=2, nr=2))  # deterministic
    other_seed = th.capacity_mimo_rayleigh(snr, nt=2, nr=2, seed=1)
    np.testing.assert_allclose(c22, other_seed, rtol=0.01)
    # 2x2 gains about 2 bit per 3 dB at high SNR; 1x2 (receive diversity) beats SISO
    slope = th.capacity_mimo_rayleigh([30.0, 33.0103], nt=2, nr=2)
    assert slope[1] - slope[0] == pytest.approx(2.0, abs=0.05)
    assert np.all(th.capacity_mimo_rayleigh(snr, nt=1, nr=2) > th.capacity_rayleigh(snr))
    assert np.all(c22 < 2 * th.capacity_awgn(snr))

"""Statistical and contract tests for linksim.phy.channels.

Statistical checks compare sample means with their expectation within ``Z`` standard
errors estimated from the same samples (a wrong model shifts the mean by many
standard errors; a correct one fails with probability ~1e-6 per check, and the seed
is fixed anyway).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from sionna.phy import config

from linksim.errors import UserError
from linksim.phy import channels as ch
from linksim.registry import channels as channel_registry

Z = 5.0  # width of the confidence intervals, in standard errors


@pytest.fixture(autouse=True)
def _seed():
    config.seed = 1234


def assert_mean(samples: torch.Tensor, expected: float, z: float = Z) -> None:
    """The sample mean is within ``z`` standard errors of ``expected``."""
    s = samples.detach().double().flatten()
    se = s.std().item() / math.sqrt(s.numel())
    mean = s.mean().item()
    assert abs(mean - expected) <= z * se, f"mean {mean:.6g} vs {expected:.6g} (se {se:.3g})"


def qpsk(*shape: int) -> torch.Tensor:
    """Random unit-energy QPSK symbols, complex64."""
    bits = torch.randint(0, 2, (*shape, 2), generator=config.torch_rng("cpu")) * 2.0 - 1.0
    return torch.complex(bits[..., 0], bits[..., 1]) / math.sqrt(2.0)


def build(**spec) -> ch.Channel:
    return ch.build_channel(spec)


# ------------------------------------------------------------------------- registry / params


@pytest.mark.parametrize(
    "spec, cls",
    [
        ({"type": "awgn"}, ch.AWGNChannel),
        ({"type": "rayleigh"}, ch.RayleighChannel),
        ({"type": "rician", "k_factor": 2}, ch.RicianChannel),
        ({"type": "mimo", "nt": 2, "nr": 2}, ch.MIMOChannel),
    ],
)
def test_registered_names_and_classes(spec, cls):
    assert channel_registry._entries[spec["type"]].obj is cls
    assert type(ch.build_channel(spec)) is cls


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"type": "rician", "k_factor": -1.0}, "channel.k_factor"),
        ({"type": "rician"}, "channel.k_factor"),
        ({"type": "rayleigh", "coherence": 0}, "channel.coherence"),
        ({"type": "rayleigh", "coherence": "slow"}, "channel.coherence"),
        ({"type": "rayleigh", "csi": {"type": "imperfect"}}, "error_variance"),
        ({"type": "rayleigh", "csi": {"type": "imperfect", "error_variance": -0.1}}, "error_variance"),
        ({"type": "rayleigh", "csi": "guess"}, "channel.csi"),
        ({"type": "awgn", "k_factor": 1.0}, "channel.k_factor: unknown key"),
        ({"type": "mimo", "nt": 4, "nr": 2, "equalizer": "zf"}, "channel.equalizer"),
        ({"type": "mimo", "nt": 0, "nr": 2}, "channel.nt"),
        ({"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 5}, "channel.streams"),
        ({"type": "mimo", "nt": 8, "nr": 4, "streams": 1}, "channel.streams"),
        ({"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 0}, "channel.streams"),
        ({"type": "mimo", "nt": 8, "nr": 4, "precoding": "zf"}, "channel.precoding"),
        ({"type": "nope"}, "channel.type"),
    ],
)
def test_invalid_params_name_the_field(spec, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        ch.build_channel(spec)


def test_csi_shapes_and_spec_roundtrip():
    short = build(type="rayleigh", csi="perfect", coherence=4)
    assert isinstance(short.params.csi, ch.PerfectCSI) and short.params.coherence == 4
    spec = {"type": "rician", "k_factor": 2.0, "csi": {"type": "imperfect", "error_variance": 0.05}}
    channel = ch.build_channel(spec)
    assert channel.params.csi_error_variance == 0.05
    again = ch.build_channel(ch.channel_spec(channel))
    assert again.params == channel.params
    assert build(type="mimo", nt=4, nr=2).symbols_multiple == 4  # lmmse allows nr < nt


# ---------------------------------------------------------------------------------- AWGN


def test_awgn_noise_variance_matches_no():
    x = qpsk(100, 2000)
    out = build(type="awgn")(x, 0.3)
    noise = out.y - x
    assert_mean(noise.abs().square(), 0.3)
    assert_mean(noise.real.square(), 0.15)
    assert_mean(noise.imag.square(), 0.15)
    assert_mean(noise.real, 0.0)
    assert torch.equal(out.x_hat, out.y)
    assert torch.all(out.h == 1) and torch.all(out.h_hat == 1)
    assert out.no_eff.shape == x.shape and torch.allclose(out.no_eff, torch.tensor(0.3))


@pytest.mark.parametrize("shape_of_no", ["per_example", "full"])
def test_awgn_per_example_noise(shape_of_no):
    no = torch.tensor([0.01, 0.1, 1.0, 10.0])
    x = qpsk(4, 50000)
    no_in = no if shape_of_no == "per_example" else no[:, None].expand(4, 50000)
    out = build(type="awgn")(x, no_in)
    for i in range(4):
        assert_mean((out.y[i] - x[i]).abs().square() / no[i], 1.0)
    assert torch.equal(out.no_eff[:, 0], no)


def test_noise_variance_shape_and_value_errors():
    x = qpsk(4, 10)
    with pytest.raises(ValueError, match="broadcast"):
        build(type="awgn")(x, torch.ones(3))
    with pytest.raises(ValueError, match=">= 0"):
        build(type="awgn")(x, -1.0)
    with pytest.raises(TypeError, match="complex"):
        build(type="awgn")(x.real, 0.1)


def test_noise_per_example_with_extra_leading_axes():
    x = qpsk(2, 3, 20000)
    no = torch.tensor([[0.1, 0.2, 0.4], [0.8, 1.6, 3.2]])
    out = build(type="rayleigh")(x, no)
    noise = out.y - out.h * x
    for i in range(2):
        for j in range(3):
            assert_mean(noise[i, j].abs().square() / no[i, j], 1.0)


# ------------------------------------------------------------------------- fading statistics


def test_rayleigh_gain_is_unit_mean_exponential():
    out = build(type="rayleigh")(qpsk(200, 1000), 0.1)
    h = out.h.flatten()
    power = h.abs().square()
    assert_mean(power, 1.0)
    assert_mean(h.real, 0.0)
    assert_mean(h.real * h.imag, 0.0)  # circular: independent re/im
    assert_mean(h.real.square() - h.imag.square(), 0.0)
    assert stats.kstest(power[:20000].numpy(), "expon").pvalue > 1e-3
    assert stats.kstest(power[:20000].numpy(), "expon", args=(0, 1.3)).pvalue < 1e-6  # the test can fail


@pytest.mark.parametrize("k_factor", [0.5, 2.0, 10.0])
def test_rician_k_factor_by_moments(k_factor):
    """Greenstein's moment estimator K = sqrt(1-v)/(1-sqrt(1-v)), v = Var|h|^2/E^2|h|^2,
    per batch of 10^4 samples; the batch means give the confidence interval."""
    los_phase = 0.7
    out = build(type="rician", k_factor=k_factor, los_phase=los_phase)(qpsk(50, 10000), 0.1)
    power = out.h.abs().square().double()
    assert_mean(power, 1.0)
    v = power.var(dim=1) / power.mean(dim=1).square()
    root = torch.sqrt(1.0 - v)
    assert_mean(root / (1.0 - root), k_factor)
    # LOS component: E[h] = sqrt(K/(K+1)) e^{j phase}
    los = out.h.mean()
    assert abs(abs(los) - math.sqrt(k_factor / (k_factor + 1))) < 0.01
    assert abs(np.angle(los.item()) - los_phase) < 0.02


def test_rician_zero_k_is_rayleigh():
    out = build(type="rician", k_factor=0.0)(qpsk(20, 1000), 0.1)
    assert stats.kstest(out.h.abs().square().flatten().numpy(), "expon").pvalue > 1e-3


def test_coherence_symbol_block_and_integer():
    x = qpsk(6, 10)
    h_sym = build(type="rayleigh")(x, 0.1).h
    assert torch.all(h_sym[:, 1:] != h_sym[:, :-1])
    h_blk = build(type="rayleigh", coherence="block")(x, 0.1).h
    assert h_blk.shape == x.shape
    assert torch.all(h_blk == h_blk[:, :1]) and len(set(h_blk[:, 0].tolist())) == 6
    h_int = build(type="rician", k_factor=1.0, coherence=3)(x, 0.1).h
    starts = [0, 3, 6, 9]
    for a, b in zip(starts, starts[1:] + [10]):
        assert torch.all(h_int[:, a:b] == h_int[:, a:a + 1])
    assert torch.all(h_int[:, [0, 3, 6]] != h_int[:, [3, 6, 9]])


# ----------------------------------------------------------------------- detection and CSI


@pytest.mark.parametrize(
    "spec", [{"type": "rayleigh"}, {"type": "rician", "k_factor": 2.0, "coherence": "block"}]
)
def test_eq3_perfect_csi_noiseless_returns_x(spec):
    x = qpsk(8, 500)
    out = ch.build_channel(spec)(x, 0.0)
    assert torch.equal(out.h_hat, out.h)
    torch.testing.assert_close(out.x_hat, x, rtol=1e-5, atol=1e-5)
    assert torch.all(out.no_eff == 0)


def test_eq3_no_eff_is_calibrated_with_perfect_csi():
    """x_hat - x = conj(h) n / |h|^2 has variance no / |h|^2 = no_eff given h."""
    x = qpsk(100, 2000)
    out = build(type="rayleigh")(x, 0.2)
    assert_mean((out.x_hat - x).abs().square() / out.no_eff, 1.0)


def test_imperfect_csi_error_variance_and_eq3():
    sigma2, no = 0.05, 0.1
    x = qpsk(100, 2000)
    out = build(type="rayleigh", csi={"type": "imperfect", "error_variance": sigma2})(x, no)
    err = out.h_hat - out.h
    assert_mean(err.abs().square(), sigma2)
    assert_mean((err * out.h.conj()).real, 0.0)  # independent of h
    assert_mean(err.real.square(), sigma2 / 2)
    expected = out.h_hat.conj() * out.y / out.h_hat.abs().square()
    torch.testing.assert_close(out.x_hat, expected)
    torch.testing.assert_close(out.no_eff, (no + sigma2) / out.h_hat.abs().square())


def test_imperfect_csi_error_is_per_coherence_block():
    csi = {"type": "imperfect", "error_variance": 0.1}
    out = build(type="rayleigh", coherence="block", csi=csi)(qpsk(5, 8), 0.1)
    err = out.h_hat - out.h
    assert torch.allclose(err, err[:, :1].expand_as(err))
    assert torch.all(err[:, 0] != 0)


# ------------------------------------------------------------------------------------ MIMO


def test_mimo_shapes_and_power():
    x = qpsk(50, 1000)
    no = 0.2
    out = build(type="mimo", nt=2, nr=3)(x, no)
    assert out.y.shape == (50, 500, 3) and out.h.shape == (50, 500, 3, 2)
    assert out.x_hat.shape == x.shape and out.no_eff.shape == x.shape
    assert_mean(out.y.abs().square(), 1.0 + no)  # total Tx power 1, unit-variance H
    assert_mean(out.h.abs().square(), 1.0)


@pytest.mark.parametrize("nr", [2, 4])
def test_mimo_zf_noiseless_recovers_x(nr):
    x = qpsk(20, 400)
    out = build(type="mimo", nt=2, nr=nr, equalizer="zf")(x, 0.0)
    err = (out.x_hat - x).abs()
    if nr == 4:
        assert err.max() < 1e-4
    else:  # square channels are occasionally ill-conditioned in float32
        assert err.median() < 1e-5 and torch.quantile(err.flatten(), 0.99) < 1e-3
    assert torch.all(out.no_eff == 0)


def test_mimo_lmmse_close_at_high_snr():
    x = qpsk(20, 400)
    out = build(type="mimo", nt=2, nr=4, equalizer="lmmse")(x, 10 ** (-40 / 10))
    assert (out.x_hat - x).abs().square().mean() < 1e-3
    assert out.no_eff.max() < 1e-2 and out.no_eff.min() > 0


@pytest.mark.parametrize("equalizer, nt, nr", [("zf", 2, 2), ("zf", 2, 4), ("lmmse", 2, 2), ("lmmse", 4, 2)])
def test_mimo_no_eff_is_calibrated(equalizer, nt, nr):
    """E|x_hat - x|^2 = no_eff per stream (exact for ZF; for LMMSE with i.i.d. symbols)."""
    x = qpsk(40, 1000)
    out = build(type="mimo", nt=nt, nr=nr, equalizer=equalizer)(x, 0.3)
    assert_mean((out.x_hat - x).abs().square() / out.no_eff, 1.0)


def test_mimo_imperfect_csi_and_coherence():
    x = qpsk(10, 60)
    csi = {"type": "imperfect", "error_variance": 0.02}
    out = build(type="mimo", nt=2, nr=2, coherence=5, csi=csi)(x, 0.1)
    err = out.h_hat - out.h
    assert_mean(err.abs().square(), 0.02, z=6)
    assert torch.all(out.h[:, :5] == out.h[:, :1]) and torch.all(out.h[:, 5] != out.h[:, 4])
    assert torch.all(err[:, :5] == err[:, :1])


def test_mimo_input_errors():
    mimo = build(type="mimo", nt=2, nr=2)
    with pytest.raises(ValueError, match="multiple of the 2 streams"):
        mimo(qpsk(2, 5), 0.1)
    with pytest.raises(ValueError, match="per example"):
        mimo(qpsk(2, 6), torch.full((2, 6), 0.1))


@pytest.mark.parametrize("streams", [1, 2, 3, 4])
def test_mimo_svd_noiseless_is_exact_and_transmits_unit_power(streams):
    """Perfect CSI, no noise: every stream comes back exactly, and the received energy per
    use is sum_i sigma_i^2 |s_i|^2 / S, i.e. the precoder sends total power |s|^2 / S."""
    x = qpsk(16, 24 * streams).to(torch.complex128)
    channel = build(type="mimo", nt=8, nr=4, precoding="svd", streams=streams)
    assert channel.symbols_multiple == streams
    out = channel(x, 0.0)
    assert out.y.shape == (16, 24, 4) and out.h.shape == (16, 24, 4, 8)
    assert (out.x_hat - x).abs().max() < 1e-10 and torch.all(out.no_eff == 0)
    sigma = torch.linalg.svdvals(out.h)[..., :streams]
    s = x.reshape(16, 24, streams)
    expected = (sigma.square() * s.abs().square()).sum(-1) / streams
    assert torch.allclose(out.y.abs().square().sum(-1), expected, rtol=1e-10)


@pytest.mark.parametrize("streams", [1, 4])
def test_mimo_svd_no_eff_is_calibrated(streams):
    x = qpsk(40, 200 * streams)
    out = build(type="mimo", nt=8, nr=4, precoding="svd", streams=streams)(x, 0.5)
    assert_mean((out.x_hat - x).abs().square() / out.no_eff, 1.0)


@pytest.mark.parametrize("nt, nr", [(1, 4), (4, 1)])
def test_mimo_svd_one_stream_is_mrc_mrt_with_closed_form_ber(nt, nr):
    """The dominant eigenmode of a 1xN (Nx1) channel is maximum-ratio combining
    (transmission): QPSK BER = the N-branch MRC closed form, within 5 standard errors."""
    from linksim.phy.theory import ber_qam_rayleigh_mrc

    snr_db, shape = 0.0, (200, 500)
    x = qpsk(*shape)
    out = build(type="mimo", nt=nt, nr=nr, precoding="svd", streams=1)(x, 10 ** (-snr_db / 10))
    errors = torch.cat([(out.x_hat.real * x.real < 0).flatten(), (out.x_hat.imag * x.imag < 0).flatten()])
    expected = float(ber_qam_rayleigh_mrc(snr_db, 4, max(nt, nr)))
    se = math.sqrt(expected * (1 - expected) / errors.numel())
    assert abs(errors.double().mean().item() - expected) < Z * se, (errors.double().mean().item(), expected)


def test_mimo_svd_imperfect_csi_precodes_with_the_estimate():
    csi = {"type": "imperfect", "error_variance": 0.05}
    out = build(type="mimo", nt=4, nr=4, precoding="svd", streams=2, csi=csi)(qpsk(8, 40), 0.0)
    assert not torch.equal(out.h, out.h_hat)
    assert torch.all(out.no_eff > 0)


# ------------------------------------------------------------------ gradients, dtype, seed

GRADIENT_SPECS = [
    {"type": "awgn"},
    {"type": "rayleigh", "coherence": "block"},
    {"type": "rician", "k_factor": 2.0, "csi": {"type": "imperfect", "error_variance": 0.01}},
    {"type": "mimo", "nt": 2, "nr": 2, "equalizer": "zf"},
    {"type": "mimo", "nt": 2, "nr": 2, "equalizer": "lmmse", "coherence": 2},
    {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1},
    {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 2},
]


@pytest.mark.parametrize("spec", GRADIENT_SPECS, ids=lambda s: s["type"] + "-" + s.get("equalizer", s.get("precoding", "")) + str(s.get("streams", "")))
def test_gradient_wrt_x_is_finite_and_nonzero(spec):
    x = qpsk(4, 8).requires_grad_(True)
    target = qpsk(4, 8)
    out = ch.build_channel(spec)(x, torch.full((4,), 0.1))
    loss = (out.x_hat - target).abs().square().mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("spec", GRADIENT_SPECS[:4], ids=lambda s: s["type"])
def test_complex128_is_preserved(spec):
    x = qpsk(3, 8).to(torch.complex128)
    out = ch.build_channel(spec)(x, 0.1)
    assert out.x_hat.dtype == torch.complex128 and out.no_eff.dtype == torch.float64


def test_seed_makes_draws_reproducible():
    channel = build(type="rician", k_factor=1.0, csi={"type": "imperfect", "error_variance": 0.1})
    x = qpsk(3, 16)
    config.seed = 7
    first = channel(x, 0.1)
    config.seed = 7
    second = channel(x, 0.1)
    assert torch.equal(first.y, second.y) and torch.equal(first.h_hat, second.h_hat)
    assert not torch.equal(first.y, channel(x, 0.1).y)

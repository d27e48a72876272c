"""The privacy building blocks against closed forms: DP calibration, keyed encryption, MI leakage, QAM SER."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from linksim.errors import UserError
from linksim.phy.theory import ser_qam_awgn
from linksim.privacy import DPMechanism, KeyedTransform, entropy_bits, mi_from_joint, mi_per_image, \
    pixel_joint_histograms
from linksim.stats import wilson_interval

K = 128  # complex symbols per image at the paper's settings


# ---------------------------------------------------------------------------------- DP calibration
def test_laplace_noise_has_the_calibrated_law():
    mech = DPMechanism("laplace", 0.9, K, calibration="clipped")
    gen = torch.Generator().manual_seed(1)
    noise = mech.sample(torch.Size([2_000_000]), torch.float64, generator=gen).numpy()
    b = mech.noise_scale
    assert abs(noise.var() / (2 * b * b) - 1) < 0.01
    assert abs(noise.mean()) < 5 * math.sqrt(2 * b * b / noise.size)
    assert abs(stats.kurtosis(noise) - 3.0) < 0.1  # Laplace: excess kurtosis 3
    assert stats.kstest(noise[:200_000], stats.laplace(scale=b).cdf).pvalue > 0.01


@pytest.mark.parametrize("calibration, expected_snr_db", [
    ("strict", (-83.2, -77.2, -58.1)), ("clipped", (-44.6, -38.6, -19.5)), ("scale", (0.0, 6.0, 25.1))])
def test_calibrations_at_the_papers_budgets(calibration, expected_snr_db):
    """The analysis' arithmetic (its section 2.2): noise scale and feature SNR per calibration."""
    for epsilon, snr_db in zip((0.05, 0.1, 0.9), expected_snr_db):
        mech = DPMechanism("laplace", epsilon, K, calibration=calibration)
        assert mech.feature_snr_db == pytest.approx(snr_db, abs=0.05)
        if calibration == "strict":
            assert mech.sensitivity == pytest.approx(2 * math.sqrt(2 * K) * math.sqrt(K)) == pytest.approx(362.04, abs=0.01)
            assert mech.noise_scale == pytest.approx(mech.sensitivity / epsilon)
            assert mech.epsilon_total == epsilon
        elif calibration == "clipped":
            assert mech.clip_bound == pytest.approx(3 * math.sqrt(0.5))
            assert mech.noise_scale == pytest.approx(2 * mech.clip_bound / epsilon)
            assert mech.epsilon_total == pytest.approx(2 * K * epsilon)
        else:
            assert mech.noise_scale == pytest.approx(0.025 / epsilon)
            assert mech.epsilon_total is None and "no formal DP guarantee" in mech.guarantee()


def test_gaussian_mechanism_sigma():
    mech = DPMechanism("gaussian", 0.5, K, calibration="strict", delta=1e-5)
    assert mech.sensitivity == pytest.approx(2 * math.sqrt(K))
    assert mech.noise_scale == pytest.approx(mech.sensitivity * math.sqrt(2 * math.log(1.25 / 1e-5)) / 0.5)
    clipped = DPMechanism("gaussian", 0.5, K, calibration="clipped", delta=1e-5)
    assert clipped.sensitivity == pytest.approx(2 * clipped.clip_bound * math.sqrt(2 * K))


@pytest.mark.parametrize("kwargs, field", [({"epsilon": 0.0}, "dp.epsilon"), ({"epsilon": -1.0}, "dp.epsilon"),
                                           ({"epsilon": 2.0, "mechanism": "gaussian", "calibration": "strict"},
                                            "dp.epsilon"),
                                           ({"epsilon": 0.5, "mechanism": "gaussian", "delta": 0.0}, "dp.delta")])
def test_bad_budgets_name_the_field(kwargs, field):
    kwargs = {"mechanism": "laplace", **kwargs}
    with pytest.raises(UserError, match=field):
        DPMechanism(symbols=K, **kwargs)


@pytest.mark.parametrize("calibration", ["strict", "clipped"])
def test_the_privacy_loss_never_exceeds_the_guarantee(calibration):
    """max over outputs y of log p(y|z) / p(y|z') <= epsilon_total for neighbours the calibration covers."""
    k = 4
    mech = DPMechanism("laplace", 0.3, k, calibration=calibration)
    n, b, radius = 2 * k, mech.noise_scale, math.sqrt(k)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(200):
        if calibration == "strict":  # any two messages on the sphere of radius sqrt(kP)
            z, z2 = (v / np.linalg.norm(v) * radius for v in rng.standard_normal((2, n)))
        else:  # anything, clipped as the mechanism clips it
            z, z2 = (np.clip(v, -mech.clip_bound, mech.clip_bound) for v in 5 * rng.standard_normal((2, n)))
        y = z + rng.uniform(-20 * b, 20 * b, size=(500, n))
        loss = (np.abs(y - z2).sum(-1) - np.abs(y - z).sum(-1)) / b
        worst = max(worst, loss.max())
    assert worst <= mech.epsilon_total + 1e-9
    if calibration == "clipped":  # attained by opposite corners of the clipping box
        corner = np.full(n, mech.clip_bound)
        y = corner + 100 * b
        assert (np.abs(y + corner).sum() - np.abs(y - corner).sum()) / b == pytest.approx(mech.epsilon_total)


def test_clipping_happens_before_the_noise():
    mech = DPMechanism("laplace", 0.9, 8, calibration="clipped")
    z = torch.linspace(-10, 10, 16).reshape(1, 16)
    noisy = mech.privatize(z, torch.Generator().manual_seed(3))
    noise = mech.sample(z.shape, z.dtype, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(noisy - noise, z.clamp(-mech.clip_bound, mech.clip_bound), atol=1e-6)


def _ridge(train_in: np.ndarray, train_out: np.ndarray, lam: float = 1e-3):
    a = np.c_[train_in, np.ones(len(train_in))]
    w = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ train_out)
    return lambda inputs: np.c_[inputs, np.ones(len(inputs))] @ w


def _psnr(x: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((x - np.clip(y, 0, 1)) ** 2)))


def _sources(count: int, dim: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((6, dim))
    return 1 / (1 + np.exp(-rng.standard_normal((count, 6)) @ basis / 2))  # low-rank "images" in (0, 1)


def _features(x: np.ndarray, k: int = 16) -> torch.Tensor:
    w = np.random.default_rng(9).standard_normal((x.shape[1], 2 * k))
    z = torch.as_tensor(x @ w, dtype=torch.float32)
    return z / z.norm(dim=1, keepdim=True) * math.sqrt(k)  # power-normalised: energy k P, P = 1


def test_smaller_epsilon_leaks_less_to_a_linear_attacker():
    x = _sources(4000)
    z = _features(x)
    psnrs = []
    for epsilon in (0.05, 0.1, 0.9, None):
        if epsilon is None:
            y = z
        else:
            y = DPMechanism("laplace", epsilon, 16, calibration="scale").privatize(z, torch.Generator().manual_seed(0))
        y = y.numpy()
        attack = _ridge(y[:3000], x[:3000])
        psnrs.append(_psnr(x[3000:], attack(y[3000:])))
    assert psnrs == sorted(psnrs) and len(set(psnrs)) == 4, psnrs


# ---------------------------------------------------------------------------------- encryption
@pytest.mark.parametrize("mode", ["shuffle", "shuffle_sign", "rotation"])
def test_encryption_round_trips_and_keeps_power(mode):
    t = KeyedTransform(256, key=12345, mode=mode)
    z = torch.randn(64, 256)
    nonces = t.nonces(64, np.random.default_rng(0))
    y = t.encrypt(z, nonces)
    back = t.decrypt(y, nonces)
    if mode == "rotation":
        assert (back - z).abs().max() < 1e-5
    else:
        assert torch.equal(back, z)
    assert torch.allclose(y.norm(dim=1), z.norm(dim=1), rtol=1e-5)
    assert torch.allclose(t.encrypt(z[:1], nonces[:1]), y[:1], atol=1e-6)  # same (key, nonce): same transform
    assert not torch.allclose(t.encrypt(z[:1], nonces[1:2]), y[:1])  # another nonce: another one
    wrong = KeyedTransform(256, key=54321, mode=mode)
    assert not torch.allclose(wrong.decrypt(y, nonces), z, atol=1e-3)


def test_a_static_permutation_is_no_protection_against_a_linear_attacker():
    """Static key: the attacker learns the inverse. Fresh keys: a shuffle still shows the multiset of values.

    A per-message permutation hides positions but not permutation-invariant statistics
    (e.g. the sum of the features), which a linear attacker reads: measured 0.7 dB above
    the mean image here. A per-message rotation leaves nothing (within 0.2 dB).
    """
    x = _sources(4000)
    z = torch.as_tensor(_features(x, k=16).numpy())
    mean_image = _psnr(x[3000:], np.broadcast_to(x[:3000].mean(0), x[3000:].shape))

    def attacked(transform=None):
        y = z if transform is None else transform.encrypt(z, transform.nonces(4000, np.random.default_rng(1)))
        y = y.numpy()
        return _psnr(x[3000:], _ridge(y[:3000], x[:3000])(y[3000:]))

    plain = attacked()
    broken = attacked(KeyedTransform(32, key=7, mode="shuffle", keys="static"))
    shuffled = attacked(KeyedTransform(32, key=7, mode="shuffle"))
    rotated = attacked(KeyedTransform(32, key=7, mode="rotation"))
    assert broken == pytest.approx(plain, abs=1e-3)  # a permutation is linear: the attacker learns its inverse
    assert plain > mean_image + 3
    assert mean_image - 0.2 < shuffled < mean_image + 1.0
    assert abs(rotated - mean_image) < 0.2


def test_rotation_ciphertexts_look_the_same_whatever_the_image():
    t = KeyedTransform(32, key=99, mode="rotation")
    z = _features(_sources(2, seed=4), k=16)
    for row in z:  # one fixed image, many fresh nonces
        y = t.encrypt(row.repeat(3000, 1), t.nonces(3000, np.random.default_rng(5))).numpy()
        assert np.abs(y.mean(0)).max() < 5 * math.sqrt(0.5 / 3000)
        cov = np.cov(y.T)
        assert np.abs(np.diag(cov) - 0.5).max() < 0.08 and np.abs(cov - np.diag(np.diag(cov))).max() < 0.08


# ---------------------------------------------------------------------------------- MI leakage
def _images(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = rng.random((count, 8, 8, 3))
    return (np.kron(smooth, np.ones((1, 4, 4, 1))) * 255).astype(np.uint8)  # 32x32x3, 3072 pairs


def test_mi_of_an_image_with_itself_is_its_entropy():
    x = _images(4)
    joint = pixel_joint_histograms(x, x)
    assert np.allclose(mi_per_image(x, x), entropy_bits(joint.sum(-1)))
    assert np.all(mi_per_image(x, x) <= 4.0 + 0.05)


def test_mi_properties():
    x, other = _images(6, seed=1), _images(6, seed=2)
    assert np.allclose(mi_per_image(x, np.full_like(x, 77)), 0.0)
    assert np.allclose(mi_per_image(x, 255 - x), mi_per_image(x, x))  # a bijection of the bins leaks fully
    assert np.allclose(mi_per_image(x, other), mi_per_image(other, x))  # symmetric
    noise = np.random.default_rng(3).integers(0, 256, size=x.shape, dtype=np.uint8)
    assert np.abs(mi_per_image(x, noise)).max() < 0.02  # independent, after the correction
    assert mi_per_image(x, noise, correction=False).mean() > 0.04  # the bias it removes
    levels = []
    for sigma in (0.01, 0.05, 0.2):
        noisy = np.clip(x / 255 + np.random.default_rng(4).normal(0, sigma, x.shape), 0, 1)
        levels.append(mi_per_image(x, (noisy * 255).round().astype(np.uint8)).mean())
    assert levels[0] > levels[1] > levels[2]


def test_pooled_histograms_add_exactly():
    x, y = _images(8, seed=5), _images(8, seed=6)
    whole = pixel_joint_histograms(x, y).sum(0)
    halves = pixel_joint_histograms(x[:3], y[:3]).sum(0) + pixel_joint_histograms(x[3:], y[3:]).sum(0)
    assert np.array_equal(whole, halves)
    assert mi_from_joint(whole) == pytest.approx(mi_from_joint(halves))


# ---------------------------------------------------------------------------------- index errors
def test_16qam_index_error_rate_matches_theory():
    """Codebook indices of 4 bits as Gray 16-QAM over AWGN: the index error rate is the QAM SER."""
    from linksim.phy.channels import build_channel
    from linksim.phy.base import snr_db_to_no
    from linksim.systems.mvqvae.index_link import IndexLink

    torch.manual_seed(0)
    link = IndexLink(16, build_channel({"type": "awgn"}), order=16)
    for snr_db in (4.0, 8.0, 12.0):
        indices = torch.randint(0, 16, (200, 128))
        received = link.transmit(indices, snr_db_to_no(snr_db)).indices
        errors = int((received != indices).sum())
        low, high = wilson_interval(errors, indices.numel(), 0.999)
        assert low <= float(ser_qam_awgn(snr_db, 16)) <= high, (snr_db, errors / indices.numel())

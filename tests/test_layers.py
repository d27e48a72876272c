"""Tests for the Keras 3 (torch backend) layers: PowerNormalization and ChannelLayer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sionna.phy import config

from linksim.layers import ChannelLayer, PowerNormalization
from linksim.phy.channels import RayleighChannel

import keras  # noqa: E402  (after linksim.layers, which selects the torch backend)

Z = 5.0


@pytest.fixture(autouse=True)
def _seed():
    config.seed = 1234
    keras.utils.set_random_seed(1234)


def noise_power_per_example(
    layer: ChannelLayer, length: int = 4000, batch: int = 8, **kwargs
) -> torch.Tensor:
    """Per-example mean |x_hat - x|^2 of an AWGN layer fed with all-zero symbols."""
    out = layer(torch.zeros(batch, length, 2), **kwargs)
    return out.square().sum(-1).mean(-1)


# --------------------------------------------------------------------- PowerNormalization


@pytest.mark.parametrize("shape", [(4, 10, 2), (3, 5, 7, 2)])
def test_power_normalization_gives_unit_energy_per_example(shape):
    z = torch.randn(*shape) * torch.arange(1, shape[0] + 1).reshape(-1, *([1] * (len(shape) - 1)))
    x = PowerNormalization()(z)
    symbols = math.prod(shape[1:]) // 2
    energy = x.square().reshape(shape[0], -1).sum(-1) / symbols
    torch.testing.assert_close(energy, torch.ones(shape[0]))
    torch.testing.assert_close(PowerNormalization()(3.0 * z), x)  # scale invariant
    x2 = PowerNormalization(power=2.0)(z)
    energy2 = x2.square().reshape(shape[0], -1).sum(-1) / symbols
    torch.testing.assert_close(energy2, torch.full((shape[0],), 2.0))


def test_power_normalization_edge_cases():
    assert torch.equal(PowerNormalization()(torch.zeros(2, 3, 2)), torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match="size 2"):
        PowerNormalization()(torch.ones(2, 3, 3))
    with pytest.raises(ValueError, match="power"):
        PowerNormalization(power=0.0)


# ---------------------------------------------------------------------------- ChannelLayer


def test_channel_layer_high_snr_passes_symbols_through():
    x = PowerNormalization()(torch.randn(4, 16, 2))
    mimo = {"type": "mimo", "nt": 2, "nr": 4, "equalizer": "zf"}
    for spec in [{"type": "awgn"}, {"type": "rayleigh"}, mimo]:
        out = ChannelLayer(spec, snr_db=80.0)(x)
        assert out.shape == x.shape and out.dtype == x.dtype
        torch.testing.assert_close(out, x, atol=1e-2, rtol=0)


def test_fixed_snr_sets_the_noise_variance():
    power = noise_power_per_example(ChannelLayer({"type": "awgn"}, snr_db=3.0))
    expected = 10 ** (-0.3)
    se = expected / math.sqrt(4000)  # |n|^2 is exponential: std = mean
    assert torch.all((power - expected).abs() < Z * se)


def test_snr_range_is_sampled_per_example_in_training():
    lo, hi = 0.0, 20.0
    layer = ChannelLayer({"type": "awgn"}, snr_db=(lo, hi))
    snr = -10 * torch.log10(noise_power_per_example(layer, batch=64, training=True))
    margin = 10 * math.log10(1 + Z / math.sqrt(4000))  # 5 standard errors, in dB
    assert torch.all(snr > lo - margin) and torch.all(snr < hi + margin)
    assert snr.std() > 0.5 * (hi - lo) / math.sqrt(12)  # spread like U(lo, hi), not constant
    first_half = (snr < (lo + hi) / 2).float().mean()
    assert 0.25 < first_half < 0.75


def test_eval_snr_and_call_overrides():
    layer = ChannelLayer({"type": "awgn"}, snr_db=(0.0, 20.0), eval_snr_db=10.0)
    inference = noise_power_per_example(layer, training=False)
    assert torch.all((inference - 0.1).abs() < Z * 0.1 / math.sqrt(4000))
    override = noise_power_per_example(layer, batch=2, snr_db=torch.tensor([0.0, 20.0]), training=True)
    for value, expected in zip(override, [1.0, 0.01]):
        assert abs(value - expected) < Z * expected / math.sqrt(4000)
    scalar = noise_power_per_example(layer, batch=2, snr_db=-3.0)
    assert torch.all((scalar - 10 ** 0.3).abs() < Z * 10 ** 0.3 / math.sqrt(4000))


def test_channel_layer_accepts_a_channel_object_and_round_trips_config():
    layer = ChannelLayer(RayleighChannel(RayleighChannel.Params(coherence="block")), snr_db=[5, 15])
    config_ = layer.get_config()
    assert config_["channel"]["type"] == "rayleigh" and config_["snr_db"] == [5.0, 15.0]
    again = ChannelLayer.from_config(config_)
    assert again.channel.params == layer.channel.params and again.snr_db == (5.0, 15.0)


@pytest.mark.parametrize("bad", [(10.0, 0.0), (1.0, 2.0, 3.0), "high", None])
def test_invalid_snr_spec(bad):
    with pytest.raises(ValueError, match="snr_db"):
        ChannelLayer({"type": "awgn"}, snr_db=bad)


def test_input_must_have_re_im_axis():
    with pytest.raises(ValueError, match="size 2"):
        ChannelLayer({"type": "awgn"}, snr_db=10.0)(torch.zeros(2, 4, 3))


@pytest.mark.parametrize("spec", [{"type": "rician", "k_factor": 2.0}, {"type": "mimo", "nt": 2, "nr": 2}])
def test_gradients_flow_through_the_layer(spec):
    z = torch.randn(4, 8, 2, requires_grad=True)
    out = ChannelLayer(spec, snr_db=(0.0, 10.0))(PowerNormalization()(z), training=True)
    out.square().sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def _autoencoder(channel: dict, k: int = 8, symbols: int = 8) -> keras.Model:
    inputs = keras.Input((k,))
    h = keras.layers.Dense(2 * symbols, name="encoder")(inputs)
    h = keras.layers.Reshape((symbols, 2))(h)
    h = PowerNormalization()(h)
    h = ChannelLayer(channel, snr_db=(5.0, 15.0), eval_snr_db=10.0)(h)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(k, name="decoder")(h)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("channel", [{"type": "awgn"}, {"type": "rayleigh", "coherence": "block"}])
def test_keras_model_trains_through_the_channel(channel):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((128, 8)).astype("float32")
    model = _autoencoder(channel)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    before = model.evaluate(data, data, verbose=0)
    encoder_before = model.get_layer("encoder").get_weights()[0].copy()
    history = model.fit(data, data, epochs=8, batch_size=32, verbose=0)
    after = model.evaluate(data, data, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.allclose(model.get_layer("encoder").get_weights()[0], encoder_before)
    if channel["type"] == "awgn":  # a noisy fading link may need more than 8 epochs
        assert after < before
    assert model.predict(data[:4], verbose=0).shape == (4, 8)

"""image_digital (BPG/JPEG + WiMAX LDPC + QAM, BPG+Capacity) and image_codec systems."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sionna.phy

from linksim.errors import UserError
from linksim.source.image_codec import fit_budget
from linksim.systems.base import SystemContext
from linksim.systems import image_digital as digital
from linksim.systems import image_system
from linksim.vision import quality as common
from linksim.systems.image_digital import FALLBACK_VALUE, ImageCodecSystem, ImageDigitalSystem

from test_image_codec import smooth_image


class _Split:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)


class FakeImages:
    """A stand-in for the image dataset: a few 32x32 RGB test pictures, 2 classes."""

    image_shape = (32, 32, 3)
    num_classes = 2

    def __init__(self, n=6):
        self.images = np.stack([smooth_image(100 + i) for i in range(n)])
        self.labels = (self.images.mean(axis=(1, 2, 3)) > 110).astype(np.int64)

    def split(self, name):
        return _Split(self.images, self.labels)

    def provenance(self):
        return {"source": "fake"}


class BrightnessClassifier:
    info = {"model": "brightness threshold"}

    def predict(self, images):
        return (images.mean(axis=(1, 2, 3)) > 110).astype(np.int64)


@pytest.fixture
def data(monkeypatch):
    ds = FakeImages()
    monkeypatch.setattr(image_system, "image_dataset", lambda context: ds)
    monkeypatch.setattr(digital, "_downstream_classifier", lambda context, dataset, params: BrightnessClassifier())
    return ds


def make(params=None, channel=None, points=(), cls=ImageDigitalSystem, validate=True):
    context = SystemContext(label="digital", channel=channel or {"type": "awgn"}, points=list(points), seed=3)
    p = cls.Params(**(params or {}))
    if validate:
        cls.validate_context(p, context)
    system = cls(p, context)
    system.setup()
    return system


FIXED = {"select": "fixed", "code_rates": ["3/4"], "orders": [16]}


def _draw(seed, n, batch):
    sionna.phy.config.seed = seed
    return sionna.phy.config.np_rng.integers(0, n, size=batch)


def test_high_snr_is_lossless_and_matches_the_codec_alone(data):
    point = {"snr_db": 40.0, "bandwidth_ratio": 1 / 6}
    system = make(FIXED, points=[point])
    idx = _draw(5, len(data.images), 6)
    sionna.phy.config.seed = 5
    stats = system.simulate(6, point)
    assert stats["images_lost"] == 0 and stats["images"] == 6
    k = 512
    assert stats["symbols_per_message_sum"] == 6 * k
    budget = system.budget_bits(k, 40.0, ("3/4", 16))
    assert budget == (k * 4 * 1728) // 2304
    encoded = [fit_budget(system.codec, data.images[i], budget // 8) for i in idx]
    recon = np.stack([system.codec.decode(e) for e in encoded])
    expected = common.psnr_per_image(data.images[idx], recon).sum()
    assert stats["psnr_sum"] == pytest.approx(expected, rel=1e-12)
    assert stats["bpp_sum"] == pytest.approx(sum(e.num_bits for e in encoded) / 1024)
    assert stats["trials"] == 6 and stats["correct"] >= 5


def test_low_snr_loses_images_and_outputs_mid_grey(data, monkeypatch):
    point = {"snr_db": -5.0, "bandwidth_ratio": 1 / 6}
    system = make(FIXED, points=[point])
    seen = {}
    original = common.image_statistics

    def spy(original_images, reconstructed, **kw):
        seen["recon"] = reconstructed
        return original(original_images, reconstructed, **kw)

    monkeypatch.setattr(common, "image_statistics", spy)
    sionna.phy.config.seed = 1
    stats = system.simulate(4, point)
    assert stats["images_lost"] == 4
    assert np.all(seen["recon"] == FALLBACK_VALUE)
    assert stats["bpp_sum"] > 0  # the payloads were sent, then lost
    grey = np.full_like(data.images[:1], FALLBACK_VALUE)
    assert stats["psnr_sum"] / 4 < common.psnr_per_image(data.images[:1], grey)[0] + 10


def test_capacity_bound_budget():
    assert digital.capacity_bits(128, 20.0, {"type": "awgn"}) == math.floor(128 * math.log2(101))
    from linksim.phy.theory import capacity_rayleigh

    assert digital.capacity_bits(128, 20.0, {"type": "rayleigh"}) == math.floor(128 * capacity_rayleigh(20.0))


def test_capacity_bound_system_is_error_free(data):
    point = {"snr_db": 20.0, "bandwidth_ratio": 1 / 24}
    system = make({"bound": "capacity"}, points=[point])
    assert system.budget_bits(128, 20.0, None) == math.floor(128 * math.log2(101))
    sionna.phy.config.seed = 2
    stats = system.simulate(4, point)
    budget = math.floor(128 * math.log2(101))
    assert stats["bpp_sum"] / 4 <= budget / 1024
    # nothing is lost on the channel (and every test picture fits 106 bytes)
    assert all(fit_budget(system.codec, img, budget // 8) is not None for img in data.images)
    assert stats["images_lost"] == 0
    # a budget below the smallest BPG file: every image is a fallback
    tiny = {"snr_db": -10.0, "bandwidth_ratio": 1 / 24}
    sionna.phy.config.seed = 2
    assert system.simulate(3, tiny)["images_lost"] == 3


def test_codewords_are_shared_between_images(data, monkeypatch):
    # k = 200 symbols x 6 bits x 3/4 = 900 bits per image, a codeword carries 1728
    ratio = 200 / 3072
    point = {"snr_db": 40.0, "bandwidth_ratio": ratio}
    system = make({"select": "fixed", "code_rates": ["3/4"], "orders": [64]}, points=[point])
    link = system._links[("3/4", 64)]
    shapes = []
    original = link.transmit

    def spy(u, snr_db):
        shapes.append(tuple(u.shape))
        return original(u, snr_db)

    monkeypatch.setattr(link, "transmit", spy)
    budget = system.budget_bits(200, 40.0, ("3/4", 64))
    assert budget == 900 < link.code.k
    sionna.phy.config.seed = 4
    stats = system.simulate(6, point)
    assert shapes == [(math.ceil(6 * 900 / 1728), 1728)]
    assert stats["images_lost"] == 0


def test_best_selection_is_recorded_and_keeps_batches_reproducible(data):
    point = {"snr_db": 12.0, "bandwidth_ratio": 1 / 6}
    system = make({"code_rates": ["1/2", "3/4"], "orders": [4, 64], "pilot_images": 3}, points=[point])
    choices = system.provenance()["choices"]
    (entry,) = choices.values()
    assert (entry["code_rate"], entry["modulation"]) == system.choose(point)
    assert set(entry["pilot_psnr"]) == {"1/2 4-QAM", "1/2 64-QAM", "3/4 4-QAM", "3/4 64-QAM"}
    best = max(entry["pilot_psnr"].values())
    assert entry["pilot_psnr"][f"{entry['code_rate']} {entry['modulation']}-QAM"] == best
    # a point unknown at setup is chosen inside simulate without disturbing the batch's draws
    other = {"snr_db": 30.0, "bandwidth_ratio": 1 / 6}
    sionna.phy.config.seed = 9
    first = system.simulate(3, other)
    sionna.phy.config.seed = 9
    assert system.simulate(3, other) == first


def test_validation_rejects_bad_channel_ratio_and_fixed_lists(data):
    with pytest.raises(UserError, match="channel.type"):  # MIMO is accepted, but has no capacity formula
        make({"bound": "capacity"}, channel={"type": "mimo", "nt": 2, "nr": 2},
             points=[{"snr_db": 10.0, "bandwidth_ratio": 0.1}])
    with pytest.raises(UserError, match="k = round"):
        make(FIXED, points=[{"snr_db": 10.0, "bandwidth_ratio": 0.1}, {"snr_db": 10.0, "bandwidth_ratio": 1e-5}])
    with pytest.raises(UserError, match="params.select"):
        make({"select": "fixed"}, points=[{"snr_db": 10.0, "bandwidth_ratio": 0.1}])
    with pytest.raises(UserError, match="bandwidth_ratio"):
        make(FIXED, points=[{"snr_db": 10.0}])
    with pytest.raises(UserError, match="code"):
        make({"select": "fixed", "code_rates": ["7/8"], "orders": [4]}, points=[{"snr_db": 10.0, "bandwidth_ratio": 0.1}])


def test_rayleigh_block_fading_runs(data):
    point = {"snr_db": 30.0, "bandwidth_ratio": 1 / 12}
    system = make({"select": "fixed", "code_rates": ["1/2"], "orders": [4]},
                  channel={"type": "rayleigh", "coherence": 1152}, points=[point])
    sionna.phy.config.seed = 0
    stats = system.simulate(4, point)
    assert stats["images"] == 4 and stats["symbols_per_message_sum"] == 4 * 256


def test_codec_system_rate_quality(data):
    system = make({"codec": "bpg"}, cls=ImageCodecSystem, points=[{"bpp": 0.25}, {"bpp": 4.0}])
    sionna.phy.config.seed = 0
    low = system.simulate(4, {"bpp": 0.25})  # 32 bytes: nothing fits
    assert low["images_lost"] == 4 and low["bpp_sum"] == 0
    sionna.phy.config.seed = 0
    high = system.simulate(4, {"bpp": 4.0})
    assert high["images_lost"] == 0
    assert 0 < high["bpp_sum"] / 4 <= 4.0
    assert high["psnr_sum"] > low["psnr_sum"]
    with pytest.raises(UserError, match="bpp"):
        make({}, cls=ImageCodecSystem, points=[{"bpp": 0.0}])


class _Recording:
    """Wraps a channel; keeps the input shape and true gains of every call."""

    def __init__(self, channel):
        self.channel, self.calls = channel, []

    def __call__(self, x, no):
        out = self.channel(x, no)
        self.calls.append((tuple(x.shape), out.h.detach().clone()))
        return out


def test_block_fading_is_one_fade_per_image_allocation_along_the_stream(data):
    # coherence: block means one fade per image for the learned link; the digital link
    # sends its shared code blocks serially and fades once per k channel uses.
    k = 768
    point = {"snr_db": 30.0, "bandwidth_ratio": k / 3072}
    system = make({"select": "fixed", "code_rates": ["3/4"], "orders": [16]},
                  channel={"type": "rayleigh", "coherence": "block"}, points=[point])
    assert system.stream_channel(k).params.coherence == k
    recorder = _Recording(system.stream_channel(k))
    system._stream_channels[k] = recorder
    sionna.phy.config.seed = 0
    system.simulate(6, point)
    ((shape, h),) = recorder.calls
    link = system._links[("3/4", 16)]
    blocks = math.ceil(6 * system.budget_bits(k, 30.0, ("3/4", 16)) / link.code.k)
    assert shape == (1, blocks * link.symbols_per_block)  # one serial stream
    h = h.reshape(-1)
    runs = h[: (h.numel() // k) * k].reshape(-1, k)
    assert bool((runs == runs[:, :1]).all())  # constant over each run of k channel uses
    assert len(set(runs[:, 0].tolist())) == runs.shape[0]  # and independent between runs
    # AWGN and symbol-wise fading keep one row per code block
    assert make(FIXED, points=[point]).stream_channel(k) is None
    assert make(FIXED, channel={"type": "rayleigh"}, points=[point]).stream_channel(k) is None

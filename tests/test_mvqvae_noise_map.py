"""The masked VQ-VAE's noise-map masking and its MIMO-mapping sensitivity (issue 12).

* ``masking: noise_map`` keeps the ``round((1 - M_r) N)`` patch positions whose encoder tokens
  move least under PGD (a data-set-level map, computed once per model), the same for every
  image, or draws them per image by Gumbel-top-k; deterministic; bad settings name the field.
* ``params.train_channel`` evaluates a model trained over one MIMO mapping (SVD, 1 stream: the
  shipped models) over another (2 or 4 streams, precoding none) without retraining, and a
  model can be trained through any of them.
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
from linksim.systems.mvqvae.masking import kept_positions, least_noisy_positions, noise_map_scores
from linksim.systems.mvqvae.symbols import kept_patches

SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}
SVD4 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 4}
LMMSE8 = {"type": "mimo", "nt": 8, "nr": 4, "equalizer": "lmmse"}
MNIST = {"type": "images", "source": "mnist_10k", "layout": "rgb32"}
#: The shipped MVQ+FIM+AT of mvqvae_snr.yaml (trained with random masking at 3 dB on SVD 1 stream).
SHIPPED = {"fim": True, "adversarial": {}}


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: these small models run many times slower on two threads of shared cores."""
    from linksim.systems.training import torch_threads

    with torch_threads(1):
        yield


def _scenario(systems: List[Dict[str, Any]], sweep: Dict[str, Any] = None, **over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {"name": "mvq_noise_map", "seed": 1, "data": MNIST, "channel": SVD1,
                            "sweep": sweep or {"parameter": "snr_db", "values": [3]}, "systems": systems,
                            "metrics": ["accuracy", "index_error_rate"],
                            "monte_carlo": {"batch_size": 16, "max_batches": 1, "target_errors": None}}
    base.update(over)
    return base


def _system(scenario: Dict[str, Any], index: int, tmp_path, quick: bool = True, setup: bool = True) -> Any:
    from linksim.assembly import Runtime, build_system
    from linksim.runner import set_up_system
    from linksim.scenario import parse_scenario

    runtime = Runtime(cache_dir=tmp_path / "cache", quick=quick)
    parsed = parse_scenario(scenario)
    return set_up_system(parsed, index, runtime) if setup else build_system(parsed, index, runtime)


# ---------------------------------------------------------------- masking functions
@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 0.75, 0.875, 0.9])
def test_least_noisy_positions_keep_exactly_the_count_of_lowest_scores(ratio: float) -> None:
    g = torch.Generator().manual_seed(7)
    scores = torch.rand(64, generator=g, dtype=torch.float64)
    kept = least_noisy_positions(5, scores, ratio)
    keep = kept_patches(64, ratio)
    assert kept.shape == (5, keep) and kept.dtype == torch.int64
    assert all(torch.equal(row, kept[0]) for row in kept)  # the same positions for every image
    assert torch.all(kept[0][1:] > kept[0][:-1])  # ascending, distinct
    masked = torch.ones(64, dtype=torch.bool)
    masked[kept[0]] = False
    if masked.any():
        assert scores[kept[0]].max() < scores[masked].min()  # every kept score below every masked one
    assert torch.equal(kept[0], torch.argsort(scores)[:keep].sort().values)


def test_least_noisy_positions_break_ties_by_position_and_check_their_input() -> None:
    scores = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.5, 1.0])
    assert least_noisy_positions(1, scores, 0.5)[0].tolist() == [0, 1, 3, 6]  # 0, 0, 0.5, then position 0
    assert least_noisy_positions(1, torch.zeros(8), 0.5)[0].tolist() == [0, 1, 2, 3]
    for bad in (torch.tensor([1.0, -0.1]), torch.tensor([1.0, float("nan")])):
        with pytest.raises(ValueError, match="non-negative"):
            least_noisy_positions(1, bad, 0.5)
    with pytest.raises(ValueError, match="masking ratio"):
        least_noisy_positions(1, torch.ones(4), 1.0)


def test_noise_map_scores_are_the_mean_displacement_relative_displacement_and_index_change() -> None:
    clean = torch.tensor([[[3.0, 4.0], [1.0, 0.0]], [[0.0, 2.0], [1.0, 1.0]]])  # [B=2, N=2, D=2]
    noisy = clean + torch.tensor([[[0.0, 1.0], [0.0, 0.0]], [[0.0, 3.0], [0.0, 0.0]]])
    assert torch.allclose(noise_map_scores(clean, noisy), torch.tensor([2.0, 0.0], dtype=torch.float64))
    relative = noise_map_scores(clean, noisy, "relative_displacement")
    assert torch.allclose(relative, torch.tensor([(1 / 5 + 3 / 2) / 2, 0.0], dtype=torch.float64))
    sign = lambda z: (z[..., 1] > 2.5).long()  # noqa: E731  (a two-code "quantiser")
    assert torch.allclose(noise_map_scores(clean, noisy, "index_change", sign),
                          torch.tensor([0.5, 0.0], dtype=torch.float64))  # image 1: 2 -> 5 crosses, image 0 stays
    with pytest.raises(ValueError, match="quantizer"):
        noise_map_scores(clean, noisy, "index_change")
    with pytest.raises(ValueError, match="B, N, D"):
        noise_map_scores(clean, noisy[:, :1])


def test_gumbel_noise_map_masking_is_reproducible_from_the_seed() -> None:
    scores = torch.linspace(0.0, 3.0, 64)
    a = kept_positions(50, 64, 0.5, torch.Generator().manual_seed(9), scores=scores, temperature=1.0)
    b = kept_positions(50, 64, 0.5, torch.Generator().manual_seed(9), scores=scores, temperature=1.0)
    c = kept_positions(50, 64, 0.5, torch.Generator().manual_seed(10), scores=scores, temperature=1.0)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({tuple(row.tolist()) for row in a}) > 40  # drawn per image


# ---------------------------------------------------------------- the system
def test_noise_map_masking_of_the_shipped_model_keeps_the_lowest_displacement_patches(tmp_path) -> None:
    """The shipped MVQ+FIM+AT (random masking in training), evaluated with ``masking: noise_map``:
    its weights are the random-masking model's, every image sends the 32 positions of lowest
    displacement, and the map is reproducible (a second system computes the same one)."""
    from linksim.runner import seed_everything

    doc = _scenario([{"label": "random", "type": "masked_vqvae", "params": SHIPPED},
                     {"label": "map", "type": "masked_vqvae", "params": {**SHIPPED, "masking": "noise_map",
                                                                          "noise_map": {"samples": 64}}}])
    plain, mapped = _system(doc, 0, tmp_path, quick=False), _system(doc, 1, tmp_path, quick=False)
    assert mapped.key == plain.key and mapped.served[mapped.default_point()].record["source"] == "shipped"
    mp = mapped.default_point()
    scores = mapped._noise_map(mp)
    assert scores.shape == (64,) and torch.all(scores > 0)
    positions = mapped._positions(mp, 6, torch.Generator().manual_seed(1))
    assert positions.shape == (6, 32) and all(torch.equal(row, positions[0]) for row in positions)
    masked = torch.ones(64, dtype=torch.bool)
    masked[positions[0]] = False
    assert scores[positions[0]].max() <= scores[masked].min()
    assert torch.equal(_system(doc, 1, tmp_path, quick=False)._noise_map(mp), scores)  # deterministic
    # PGD moves the tokens of the digit (the centre of the image) most: the border is kept
    centre = {r * 8 + c for r in range(2, 6) for c in range(2, 6)}
    assert len(centre & set(positions[0].tolist())) <= 4
    for system in (plain, mapped):
        seed_everything(3)
        first = system.simulate(16, {"snr_db": 3.0, "epsilon": 0.012})
        seed_everything(3)
        assert system.simulate(16, {"snr_db": 3.0, "epsilon": 0.012}) == first
        assert first["indices"] == 16 * 32


def test_noise_map_scores_decide_the_accuracy_of_the_shipped_model(tmp_path) -> None:
    """Clean, 40 dB, 250 test digits (measured here: 0.82 random, 0.34 displacement, 0.90 index
    change; mvqvae_noise_map.yaml at 3 dB: 0.78, 0.30, 0.89). Keeping the least-displaced patches
    keeps the blank border and loses the digit; the index-change map keeps the centre."""
    from linksim.runner import seed_everything

    variants = [{}, {"masking": "noise_map"}, {"masking": "noise_map", "noise_map": {"score": "index_change"}}]
    doc = _scenario([{"label": f"S{i}", "type": "masked_vqvae", "params": {**SHIPPED, **v}}
                     for i, v in enumerate(variants)])
    accuracy = []
    for index in range(3):
        system = _system(doc, index, tmp_path, quick=False)
        seed_everything(11)
        stats = system.simulate(250, {"snr_db": 40.0, "epsilon": 0.0})
        accuracy.append(stats["correct"] / stats["trials"])
    random_, displacement, index_change = accuracy
    assert displacement < random_ - 0.25
    assert index_change > random_ + 0.03


def test_gumbel_noise_map_system_and_the_noise_map_heatmap(tmp_path) -> None:
    doc = _scenario([{"label": "G", "type": "masked_vqvae",
                      "params": {"masking": "noise_map", "noise_map": {"temperature": 1.0, "samples": 16}}},
                     {"label": "R", "type": "masked_vqvae"}])
    system = _system(doc, 0, tmp_path)
    mp = system.default_point()
    a = system._positions(mp, 20, torch.Generator().manual_seed(4))
    assert torch.equal(a, system._positions(mp, 20, torch.Generator().manual_seed(4)))
    assert a.shape == (20, 32) and len({tuple(row.tolist()) for row in a}) > 1
    matrix = system.matrix("noise_map", {"snr_db": 3.0})
    assert matrix.values.shape == (8, 8)
    assert np.allclose(matrix.values.reshape(-1), system._noise_map(mp).numpy())
    assert "noise_map" in system.provided_matrices(system.params)
    random_ = _system(doc, 1, tmp_path)
    assert "noise_map" not in random_.provided_matrices(random_.params)


def test_a_noise_map_heatmap_of_a_random_masking_system_is_refused() -> None:
    from linksim.scenario import parse_scenario

    doc = _scenario([{"label": "R", "type": "masked_vqvae"}],
                    figures=[{"file": "h.pdf", "kind": "heatmap", "matrix": "noise_map", "system": "R"}])
    with pytest.raises(UserError, match="figures\\[0\\].matrix"):
        parse_scenario(doc)


@pytest.mark.parametrize("params, channel, message", [
    ({"masking": "saliency"}, SVD1, "params.masking"),
    ({"noise_map": {"samples": 8}}, SVD1, "noise_map: these settings need masking: noise_map"),
    ({"masking": "noise_map", "scheme": "jscc"}, SVD1, "masking: noise_map"),
    ({"masking": "noise_map", "noise_map": {"temperature": -1.0}}, SVD1, "params.noise_map.temperature"),
    ({"masking": "noise_map", "noise_map": {"samples": 0}}, SVD1, "params.noise_map.samples"),
    ({"masking": "noise_map", "noise_map": {"epsilon": 0}}, SVD1, "params.noise_map.epsilon"),
    ({"masking": "noise_map", "noise_map": {"score": "gradient"}}, SVD1, "params.noise_map.score"),
    ({"scheme": "digital", "train_channel": SVD1}, SVD1, "train_channel"),
    ({"train_channel": dict(SVD1, streams=6)}, SVD1, "params.train_channel.streams"),
    ({"train_channel": {"type": "mimo", "nt": 8, "nr": 4, "streams": 4}}, SVD1, "params.train_channel.streams"),
    ({}, dict(SVD1, streams=5), "channel.streams"),
    ({"scheme": "jscc", "patch": 16, "train_channel": LMMSE8}, SVD1, "params.train_channel"),
    ({"scheme": "jscc", "patch": 16}, LMMSE8, "channel"),
])
def test_bad_noise_map_and_channel_settings_name_the_field(params, channel, message) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario([{"label": "S", "type": "masked_vqvae", "params": params}], channel=channel))


@pytest.mark.parametrize("params, field", [
    ({"masking": "noise_map", "noise_map": {"temperature": -1.0}}, "params.noise_map.temperature"),
    ({"train_channel": dict(SVD1, streams=5)}, "params.train_channel.streams"),
])
def test_bad_settings_exit_2_naming_the_field(params, field, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_scenario([{"label": "S", "type": "masked_vqvae", "params": params}])))
    done = subprocess.run([sys.executable, "-m", "linksim", "validate", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert field in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- MIMO mappings
def test_a_model_trained_on_one_stream_is_evaluated_over_other_mappings(tmp_path) -> None:
    """``train_channel`` keeps the shipped 1-stream weights (the same key) while the link uses the
    system's channel: 4 SVD streams lose far more indices at 3 dB (measured 0.77 against 0.05) and
    8 LMMSE streams to 4 antennas nearly all (0.98); JSCC-ViT's channel layer is swapped too."""
    from linksim.runner import seed_everything

    systems = [{"label": "1", "type": "masked_vqvae", "params": SHIPPED},
               {"label": "4", "type": "masked_vqvae", "channel": SVD4, "params": {**SHIPPED, "train_channel": SVD1}},
               {"label": "8", "type": "masked_vqvae", "channel": LMMSE8, "params": {**SHIPPED, "train_channel": SVD1}},
               {"label": "J4", "type": "masked_vqvae", "channel": SVD4,
                "params": {"scheme": "jscc", "adversarial": {}, "train_channel": SVD1}}]
    doc = _scenario(systems)
    rates = []
    for index in range(3):
        system = _system(doc, index, tmp_path, quick=False)
        assert system.served[system.default_point()].record["source"] == "shipped"
        seed_everything(2)
        stats = system.simulate(100, {"snr_db": 3.0, "epsilon": 0.0})
        rates.append(stats["index_errors"] / stats["indices"])
        assert system.symbols_per_image() == 64
    keys = {_system(doc, i, tmp_path, quick=False).key for i in range(3)}
    assert len(keys) == 1
    assert rates[0] < 0.1 and rates[1] > 0.6 and rates[2] > 0.9
    jscc = _system(doc, 3, tmp_path, quick=False)
    assert jscc.served[jscc.default_point()].record["source"] == "shipped"
    assert jscc.model.channel.channel.streams == 4  # evaluated over the system's channel
    untrained = _scenario([dict(systems[1], params=SHIPPED)])  # no train_channel: another model
    assert _system(untrained, 0, tmp_path, quick=False, setup=False).model_key() not in keys


@pytest.mark.parametrize("channel", [SVD4, LMMSE8])
def test_the_masked_vqvae_and_jscc_train_through_other_mappings(channel, tmp_path) -> None:
    """Quick models (tiny, a few seconds) train through 4 SVD streams and through 8 LMMSE streams."""
    from linksim.runner import seed_everything

    doc = _scenario([{"label": "M", "type": "masked_vqvae"}, {"label": "J", "type": "masked_vqvae",
                                                               "params": {"scheme": "jscc"}},
                     {"label": "T", "type": "masked_vqvae", "channel": SVD1, "params": {"train_channel": channel}}],
                    channel=channel)
    mvq, jscc, trained_elsewhere = (_system(doc, i, tmp_path) for i in range(3))
    for system in (mvq, jscc):
        assert system.served[system.default_point()].record["source"] == "trained"
        seed_everything(1)
        assert system.simulate(8, {"snr_db": 20.0, "epsilon": 0.0})["trials"] == 8
    assert trained_elsewhere.key == mvq.key  # trained through `channel`, evaluated over SVD 1 stream
    assert trained_elsewhere._training_link(256).channel.symbols_multiple == mvq.index_link().channel.symbols_multiple
    assert trained_elsewhere.index_link().channel.symbols_multiple == 1

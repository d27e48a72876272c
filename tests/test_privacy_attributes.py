"""Table II's parts: means over training seeds, balanced accuracy, attribute tasks and the attribute attacker."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats as st

from linksim.assembly import Runtime, build_system
from linksim.cli import main
from linksim.data.image_generator import generate_attributes
from linksim.data.images import ImageDataset
from linksim.metrics import binary_task_stats, get_metric
from linksim.scenario import load_scenario
from linksim.stats import mean_of_runs

BASE = {
    "name": "privacy_attr_tiny", "seed": 1,
    "data": {"type": "images", "source": "embedded"},
    "channel": {"type": "awgn"},
    "sweep": {"parameter": "attribute", "values": [0, 2], "fixed": {"snr_db": 12}},
    "metrics": ["accuracy_seeds", "balanced_accuracy", "attribute_leakage"],
    "monte_carlo": {"batch_size": 16, "max_batches": 1, "target_errors": None},
}
SYSTEM = {"label": "S", "type": "privacy_tosc", "params": {"scheme": "deepjscc", "eavesdropper": {"attribute": "class"}},
          "training": {"seeds": 2}}


def _write(tmp_path: Path, systems=None, **extra) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**BASE, "systems": systems or [SYSTEM], **extra}))
    return path


# ------------------------------------------------------------------ statistics


def test_mean_of_runs_is_the_t_interval_over_runs():
    est = mean_of_runs([0.80, 0.84, 0.82])
    assert est.value == pytest.approx(0.82) and est.std == pytest.approx(0.02)
    half = st.t.ppf(0.975, 2) * 0.02 / math.sqrt(3)
    assert (est.ci_low, est.ci_high) == pytest.approx((0.82 - half, 0.82 + half))
    one = mean_of_runs([0.7])
    assert one.value == 0.7 and math.isnan(one.std) and math.isnan(one.ci_low)


def test_accuracy_seeds_reads_every_replica():
    metric = get_metric("accuracy_seeds")
    totals = {"trials_per_seed": 50.0, "correct_seed0": 40.0, "correct_seed1": 45.0}
    est = metric.estimate(totals)
    assert est.value == pytest.approx(0.85) and est.std == pytest.approx(math.sqrt(0.5) * 0.1)
    assert metric.trials(totals) == 100.0
    assert metric.check_totals({**totals, "correct_seed1": 51.0}) is not None
    assert metric.check_totals(totals) is None


def test_balanced_accuracy_does_not_reward_the_majority_class():
    labels = np.array([1] * 10 + [0] * 90)
    majority = binary_task_stats(np.zeros(100, dtype=int), labels)
    metric = get_metric("balanced_accuracy")
    assert metric.estimate(majority).value == 0.5  # while its plain accuracy is 0.9
    perfect = metric.estimate(binary_task_stats(labels, labels))
    assert perfect.value == 1.0 and perfect.ci_high == 1.0
    half = binary_task_stats(np.array([1] * 5 + [0] * 95), labels)  # TP 5/10, TN 90/90
    est = metric.estimate(half)
    assert est.value == pytest.approx(0.75)
    assert (est.ci_high - est.ci_low) / 2 == pytest.approx(1.959964 * 0.5 * math.sqrt(0.25 / 10), rel=1e-5)


# ------------------------------------------------------------------ data


def test_embedded_attributes_match_the_generator_and_the_data_attribute_labels(tmp_path):
    dataset = ImageDataset(ImageDataset.Params(num_test=300), cache_dir=tmp_path)
    names, values = dataset.attributes("test")
    assert names == ["occluded", "noisy", "two_blobs"] == dataset.table_attributes
    assert np.array_equal(values, generate_attributes(300, 0, "test"))
    relabelled = ImageDataset(ImageDataset.Params(num_test=300, attribute="noisy"), cache_dir=tmp_path)
    assert np.array_equal(dataset.attribute_labels("test", "noisy"), relabelled.split("test").labels)
    with pytest.raises(Exception, match="'smiling' is not an attribute"):
        dataset.attribute_labels("test", "smiling")


# ------------------------------------------------------------------ the system


def test_each_attribute_and_seed_is_its_own_model_and_seed_0_is_the_plain_one(tmp_path):
    scenario = load_scenario(_write(tmp_path))
    system = build_system(scenario, 0, Runtime(cache_dir=tmp_path / "cache", quick=True))
    occluded, blobs, plain = (0.0, 0.0, "occluded"), (0.0, 0.0, "two_blobs"), (0.0, 0.0, "")
    keys = {system.transceiver_key(mp, r) for mp in (occluded, blobs, plain) for r in (0, 1)}
    assert len(keys) == 6
    assert system.num_classes(occluded) == 2 and system.num_classes(plain) == 10
    assert system.seeds() == 2
    labels = system.task_labels("train", blobs)
    assert np.array_equal(labels, generate_attributes(len(labels), 0, "train")[:, 2])
    # a model of the class task with seeds: 1 keeps the key it had before seeds existed
    lone = load_scenario(_write(tmp_path, systems=[{**SYSTEM, "training": {}}],
                                sweep={"parameter": "snr_db", "values": [12]}, metrics=["accuracy"]))
    lone_system = build_system(lone, 0, Runtime(cache_dir=tmp_path / "cache", quick=True))
    assert lone_system.transceiver_key(plain) == system.transceiver_key(plain, 0)


def test_a_quick_attribute_run_reports_seeds_balance_and_the_attribute_attack(tmp_path):
    scenario = load_scenario(_write(tmp_path))
    system = build_system(scenario, 0, Runtime(cache_dir=tmp_path / "cache", quick=True))
    system.setup()
    assert not system._inverters, "no inversion metric asked for: no inversion network"
    assert len(system._links[(0.0, 0.0, "occluded")]) == 2 and system._attribute_nets
    stats = system.simulate(16, {"attribute": 0.0, "snr_db": 12.0})
    assert stats["trials_per_seed"] == 16 and stats["trials"] == 32
    assert stats["correct"] == stats["correct_seed0"] + stats["correct_seed1"]
    assert stats["positives"] + stats["negatives"] == 32
    assert stats["attribute_trials"] == 16 and 0 <= stats["attribute_correct"] <= 16
    assert "attacker_psnr_sum" not in stats
    kinds = {kind for kind, _ in system.trained_weights()}
    assert kinds == {"privacy"}, "no judge is listed when no inversion metric is asked for"


@pytest.mark.parametrize("change, field", [
    ({"sweep": {"parameter": "attribute", "values": [0, 3], "fixed": {"snr_db": 12}}}, "sweep: attribute values"),
    ({"sweep": {"parameter": "attribute", "values": [0.5], "fixed": {"snr_db": 12}}}, "sweep: attribute values"),
    ({"data": {"type": "images", "source": "embedded", "attribute": "noisy"}}, "data.attribute"),
    ({"data": {"type": "images", "source": "mnist_10k"}, "systems": [{**SYSTEM, "training": {"num_train": 1000}}]},
     "sweep: an attribute sweep needs images with attributes"),
    ({"systems": [{**SYSTEM, "params": {"scheme": "deepjscc"}}]}, "params.eavesdropper.attribute"),
    ({"systems": [{**SYSTEM, "params": {"scheme": "deepjscc", "eavesdropper": {"attribute": "beard"}}}]},
     "params.eavesdropper.attribute: 'beard'"),
    ({"systems": [{**SYSTEM, "params": {"scheme": "deepjscc", "attributes": ["noisy", "hat"],
                                        "eavesdropper": {"attribute": "class"}}}],
      "sweep": {"parameter": "attribute", "values": [1], "fixed": {"snr_db": 12}}}, "params.attributes: 'hat'"),
    ({"sweep": {"parameter": "snr_db", "values": [12]}}, "metrics: balanced_accuracy needs a binary task"),
    ({"systems": [{**SYSTEM, "training": {"seeds": 0}}]}, "training.seeds"),
])
def test_bad_attribute_input_exits_2_naming_the_field(tmp_path, capsys, change, field):
    extra = dict(change)
    systems = extra.pop("systems", None)
    path = _write(tmp_path, systems=systems, **extra)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err and err.count("\n") == 1, err

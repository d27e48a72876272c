"""Datasets and shared models come from the run (linksim.resources), not from module caches."""

from __future__ import annotations

from linksim.assembly import Runtime, build_system
from linksim.resources import Resources
from linksim.scenario import parse_scenario

IMAGES = {
    "name": "shared", "data": {"type": "images", "source": "embedded", "num_train": 32, "num_test": 8},
    "sweep": {"parameter": "bandwidth_ratio", "values": [1 / 12], "fixed": {"snr_db": 10}},
    "systems": [{"label": "a", "type": "image_jscc", "params": {"method": "deepjscc"}},
                {"label": "b", "type": "image_jscc", "params": {"method": "deepsc"}}],
    "metrics": ["psnr"],
}


def test_the_systems_of_a_run_share_one_dataset_and_runs_share_nothing():
    scenario = parse_scenario(IMAGES)
    run = Runtime()
    a, b = build_system(scenario, 0, run), build_system(scenario, 1, run)
    assert a.dataset is b.dataset
    other = build_system(scenario, 0, Runtime())
    assert other.dataset is not a.dataset


def test_shared_builds_once_per_key():
    resources, calls = Resources(), []
    first = resources.shared(("judge", "k1"), lambda: calls.append(1) or object())
    assert resources.shared(("judge", "k1"), lambda: calls.append(1) or object()) is first
    assert resources.shared(("judge", "k2"), object) is not first
    assert len(calls) == 1 and len(resources) == 2

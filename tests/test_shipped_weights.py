"""Shipped weights stay valid: every shipped scenario trains nothing, and its numbers stay put.

For every learned system of every shipped scenario this test sets the system up from an
empty cache with training forbidden (a missing weight key fails at once instead of
training for minutes), and checks

* the weight keys it uses, against ``tests/fixtures/shipped_weight_keys.json``;
* the statistics of one small batch at the first sweep point, run under the runner's
  seed for that batch, against the same file (relative tolerance 1e-6).

A change of a key or of a model's numbers is then a visible decision: retrain and ship
(``linksim train SCENARIO --ship``), then rewrite the file with
``LINKSIM_WRITE_PINS=1 python -m pytest tests/test_shipped_weights.py``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict

import pytest
import torch

from linksim.assembly import Runtime, build_system
from linksim.runner import batch_seed, seed_everything, set_up_system
from linksim.scenario import load_scenario
from linksim.weights import WeightStore

REPO = Path(__file__).resolve().parents[1]
PINS = Path(__file__).parent / "fixtures" / "shipped_weight_keys.json"
LEARNED_SCENARIOS = sorted(p.name for p in (REPO / "scenarios").glob("*.yaml")
                           if p.name.startswith(("memdeepsc_", "semcc_", "scu_", "mvqvae_", "privacy_")))
BATCH = 8


def _forbid_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: WeightStore, key: str) -> Any:
        raise AssertionError(f"{self.kind} weights {key} are not shipped: the first run would train them")

    monkeypatch.setattr(WeightStore, "training_lock", refuse)


def _pins_of(scenario_file: str, cache: Path) -> Dict[str, Any]:
    scenario = load_scenario(REPO / "scenarios" / scenario_file)
    runtime = Runtime(cache_dir=cache)
    out: Dict[str, Any] = {}
    point = scenario.sweep.points()[0]
    for index, spec in enumerate(scenario.systems):
        if not type(build_system(scenario, index, runtime)).accepts_training:
            continue
        system = set_up_system(scenario, index, runtime)
        seed_everything(batch_seed(scenario.seed, spec.label, 0, 0))
        with torch.inference_mode(not system.simulate_needs_gradients):
            stats = system.simulate(BATCH, dict(point))
        out[spec.label] = {"weights": sorted(f"{kind}/{key}" for kind, key in system.trained_weights()),
                           "first_batch": {k: float(v) for k, v in sorted(stats.items())}}
    return out


@pytest.mark.slow
@pytest.mark.parametrize("scenario_file", LEARNED_SCENARIOS)
def test_shipped_scenario_trains_nothing_and_keeps_its_numbers(scenario_file, tmp_path, monkeypatch, fetched_data):
    fetched_data(REPO / "scenarios" / scenario_file)
    torch.set_num_threads(1)
    _forbid_training(monkeypatch)
    got = _pins_of(scenario_file, tmp_path / "empty-cache")
    assert not list((tmp_path / "empty-cache").rglob("*.weights.h5"))
    pins = json.loads(PINS.read_text()) if PINS.exists() else {}
    if os.environ.get("LINKSIM_WRITE_PINS") == "1":
        pins[scenario_file] = got
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
        return
    assert scenario_file in pins, f"no pins for {scenario_file}: see this module's docstring"
    expected = pins[scenario_file]
    assert sorted(got) == sorted(expected)
    for label, pin in expected.items():
        assert got[label]["weights"] == pin["weights"], label
        assert sorted(got[label]["first_batch"]) == sorted(pin["first_batch"]), label
        for name, value in pin["first_batch"].items():
            assert math.isclose(got[label]["first_batch"][name], value, rel_tol=1e-6, abs_tol=1e-9), (label, name)

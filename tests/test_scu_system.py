"""The ``image_unlearning`` system (issue 11): scenarios, bad input, and a quick run of every method."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Dict

import pytest

from linksim.errors import UserError

METHODS = ["origin", "retrain", "vbu", "vbu_sparse", "ju", "scu", "hbu"]


def _scenario(**over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {
        "name": "scu_test", "seed": 1,
        "data": {"type": "images", "source": "mnist_10k"},
        "channel": {"type": "awgn"},
        "sweep": {"parameter": "erased_ratio", "values": [0.04], "fixed": {"snr_db": 10}},
        "systems": [{"label": m, "type": "image_unlearning", "params": {"method": m, "hessian_batches": 2}}
                    for m in METHODS],
        "metrics": ["accuracy", "backdoor_accuracy", "mse", "mse_erased", "psnr_erased", "running_time_s",
                    "gradient_samples"],
        "monte_carlo": {"batch_size": 8, "max_batches": 1, "target_errors": None},
    }
    base.update(over)
    return base


@pytest.mark.parametrize("change, message", [
    ({"sweep": {"parameter": "erased_ratio", "values": [1.5], "fixed": {"snr_db": 5}}}, "sweep: the erased-data ratio"),
    ({"systems": [{"label": "S", "type": "image_unlearning", "params": {"method": "forget"}}]}, "params.method"),
    ({"systems": [{"label": "S", "type": "image_unlearning",
                   "params": {"method": "scu", "trigger": {"size": 30}}}]}, "params.trigger"),
    ({"systems": [{"label": "S", "type": "image_unlearning",
                   "params": {"method": "scu", "erased_ratio": 0}}]}, "erased_ratio"),
    ({"systems": [{"label": "S", "type": "image_unlearning",
                   "params": {"method": "scu", "target_label": 12}}]}, "params.target_label"),
    ({"channel": {"type": "mimo", "nt": 2, "nr": 2}}, "channel.type"),
    ({"sweep": {"parameter": "erased_ratio", "values": [0.5], "fixed": {"snr_db": 5}}}, "sweep: EDR 0.5"),
    ({"systems": [{"label": "S", "type": "image_jscc", "params": {"method": "deepjscc"}}]}, "erased_ratio"),
])
def test_bad_unlearning_scenarios_name_the_field(change: Dict[str, Any], message: str) -> None:
    from linksim.scenario import parse_scenario

    with pytest.raises(UserError, match=message):
        parse_scenario(_scenario(**change))


def test_quick_run_of_every_method_reports_every_metric(tmp_path: Path) -> None:
    from linksim.runner import run_scenario
    from linksim.scenario import parse_scenario

    result = run_scenario(parse_scenario(_scenario()), out=tmp_path / "run", plots_dir=tmp_path / "plots",
                          quick=True, cache_dir=tmp_path / "cache", progress=False)
    rows = list(csv.DictReader(result.csv_path.read_text().splitlines()))
    got = {(r["system"], r["metric"]) for r in rows}
    for method in METHODS:
        for metric in ("accuracy", "backdoor_accuracy", "mse_erased", "running_time_s", "gradient_samples"):
            assert (method, metric) in got, (method, metric)
    samples = {(r["system"], float(r["erased_ratio"])): float(r["value"]) for r in rows
               if r["metric"] == "gradient_samples"}
    # quick: 256 training images, EDR 0.04 -> 10 erased; unlearning batches of 8 and 2 over one epoch, SCU
    # pairing each with a remaining batch of the same size
    assert samples[("vbu", 0.04)] == 10 and samples[("scu", 0.04)] == 2 * 10
    assert samples[("origin", 0.04)] == 256  # one epoch over the poisoned set
    # a second run loads every model (nothing is trained again) and reports the same recorded costs
    again = run_scenario(parse_scenario(_scenario()), out=tmp_path / "run2", plots_dir=tmp_path / "plots2",
                         quick=True, cache_dir=tmp_path / "cache", progress=False)
    rows2 = list(csv.DictReader(again.csv_path.read_text().splitlines()))
    times = {(r["system"], r["erased_ratio"]): r["value"] for r in rows if r["metric"] == "running_time_s"}
    times2 = {(r["system"], r["erased_ratio"]): r["value"] for r in rows2 if r["metric"] == "running_time_s"}
    assert times == times2
    records = [json.loads(p.read_text()) for p in (tmp_path / "cache").rglob("*.json")]
    assert any(r.get("method") == "SCU" and r.get("gradient_samples") == 20 for r in records)

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
                    "gradient_samples", "trigger_level", "membership_rate"],
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
        for metric in ("accuracy", "backdoor_accuracy", "mse_erased", "running_time_s", "gradient_samples",
                       "trigger_level", "membership_rate"):
            assert (method, metric) in got, (method, metric)
    samples = {(r["system"], float(r["erased_ratio"])): float(r["value"]) for r in rows
               if r["metric"] == "gradient_samples"}
    # quick: 512 training images, EDR 0.04 -> 20 erased; unlearning batches of 8, 8 and 4 over one epoch, SCU
    # pairing each with a remaining batch of the same size
    assert samples[("vbu", 0.04)] == 20 and samples[("scu", 0.04)] == 2 * 20
    assert samples[("origin", 0.04)] == 512  # one epoch over the poisoned set
    # a second run loads every model (nothing is trained again) and reports the same recorded costs
    again = run_scenario(parse_scenario(_scenario()), out=tmp_path / "run2", plots_dir=tmp_path / "plots2",
                         quick=True, cache_dir=tmp_path / "cache", progress=False)
    rows2 = list(csv.DictReader(again.csv_path.read_text().splitlines()))
    times = {(r["system"], r["erased_ratio"]): r["value"] for r in rows if r["metric"] == "running_time_s"}
    times2 = {(r["system"], r["erased_ratio"]): r["value"] for r in rows2 if r["metric"] == "running_time_s"}
    assert times == times2
    records = [json.loads(p.read_text()) for p in (tmp_path / "cache").rglob("*.json")]
    assert any(r.get("method") == "SCU" and r.get("gradient_samples") == 40 for r in records)


def test_unlearning_history_is_recorded_and_read_per_step(tmp_path: Path) -> None:
    """Fig. 5: the probe record at step 0 is Origin's; a later step reads the unlearned codec's; bad steps exit 2."""
    from linksim.runner import run_scenario
    from linksim.scenario import parse_scenario

    methods = ["origin", "vbu", "scu"]
    spec = _scenario(sweep={"parameter": "unlearn_step", "values": [0, 5],
                            "fixed": {"snr_db": 10, "erased_ratio": 0.04}},
                     systems=[{"label": m, "type": "image_unlearning", "params": {"method": m}} for m in methods],
                     metrics=["probe_mse", "probe_mse_erased", "probe_accuracy", "probe_backdoor_accuracy"],
                     monte_carlo={"batch_size": 8, "max_batches": 2, "target_errors": None})
    spec["systems"][0]["params"]["erased_ratio"] = 0.04
    with pytest.raises(UserError, match="params.method: origin has no unlearning history"):
        parse_scenario(spec)
    spec["systems"] = spec["systems"][1:]
    result = run_scenario(parse_scenario(spec), out=tmp_path / "run", plots_dir=tmp_path / "plots", quick=True,
                          cache_dir=tmp_path / "cache", progress=False)
    rows = list(csv.DictReader(result.csv_path.read_text().splitlines()))
    value = {(r["system"], r["metric"], float(r["unlearn_step"])): float(r["value"]) for r in rows}
    trials = {(r["system"], r["metric"], float(r["unlearn_step"])): r for r in rows}
    # step 0 is Origin for every method: the same weights and the same seeded probe draws
    for metric in ("probe_mse", "probe_mse_erased", "probe_accuracy", "probe_backdoor_accuracy"):
        assert value[("vbu", metric, 0)] == value[("scu", metric, 0)], metric
    records = [json.loads(p.read_text()) for p in (tmp_path / "cache").rglob("*.json")]
    vbu = next(r for r in records if r.get("method") == "VBU")
    assert [h["step"] for h in vbu["history"]] == [0, vbu["steps"]]  # quick: 3 steps, recorded at 0 and the end
    first, last = vbu["history"]
    # step 5 lies past the end: it reads the final record, which is not Origin's
    assert value[("vbu", "probe_mse_erased", 5)] == pytest.approx(last["probe_mse_erased_sum"] / 8)
    assert last["probe_mse_erased_sum"] != first["probe_mse_erased_sum"]
    # recorded values are reported once per point, not once per batch (max_batches 2)
    assert float(trials[("vbu", "probe_accuracy", 5)]["trials"]) == 8
    bad = dict(spec, sweep={"parameter": "unlearn_step", "values": [3], "fixed": {"snr_db": 10}})
    with pytest.raises(UserError, match="sweep: unlearn_step 3 is not a recorded step"):
        parse_scenario(bad)


def test_planted_judge_is_one_for_every_edr_and_the_learned_judge_one_per_edr(tmp_path: Path) -> None:
    """The default judge is trained on the clean images (one key for every EDR) and fires by rule;
    ``judge_backdoor: learned`` trains one judge per EDR on its poisoned set."""
    from linksim.runner import run_scenario
    from linksim.scenario import parse_scenario

    def judges(backdoor: str) -> Dict[str, Any]:
        spec = _scenario(sweep={"parameter": "erased_ratio", "values": [0.04, 0.08], "fixed": {"snr_db": 10}},
                         systems=[{"label": "O", "type": "image_unlearning",
                                   "params": {"method": "origin", "judge_backdoor": backdoor}}],
                         metrics=["accuracy", "backdoor_accuracy", "trigger_level"])
        result = run_scenario(parse_scenario(spec), out=tmp_path / backdoor, plots_dir=tmp_path / f"p{backdoor}",
                              quick=True, cache_dir=tmp_path / "cache", progress=False)
        rows = list(csv.DictReader(result.csv_path.read_text().splitlines()))
        levels = [float(r["value"]) for r in rows if r["metric"] == "trigger_level"]
        assert len(levels) == 2 and all(0.0 <= v <= 1.0 for v in levels)
        provenance = json.loads((tmp_path / backdoor / "results.json").read_text())
        found = [v for k, v in _walk(provenance) if k == "judges"]
        assert found, "the run's provenance names its judges"
        return found[0]

    planted, learned = judges("planted"), judges("learned")
    assert len({j["key"] for j in planted.values()}) == 1
    assert all(j["backdoor"]["threshold"] == 0.7 for j in planted.values())
    assert len({j["key"] for j in learned.values()}) == 2 and all("backdoor" not in j for j in learned.values())


def _walk(node: Any):
    """Every (key, value) pair of a nested JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)

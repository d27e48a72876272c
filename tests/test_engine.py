"""The engine: scenario validation, runner stopping rules, seeding, resume, CLI, plugins."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

import toy_plugin  # noqa: F401  (registers "toy_coin")
from linksim.cli import main
from linksim.errors import UserError
from linksim.results import load_results
from linksim.runner import batch_seed, run_scenario
from linksim.scenario import load_scenario, parse_scenario
from linksim.stats import clopper_pearson_interval, mean_t, wilson_interval

TOY = {
    "name": "toy",
    "seed": 7,
    "sweep": {"parameter": "snr_db", "values": [0, 5, 10, 40]},
    "systems": [{"label": "coin", "type": "toy_coin", "params": {"scale": 10}}],
    "metrics": ["ber", "accuracy"],
    "monte_carlo": {"batch_size": 200, "max_batches": 30, "target_errors": 150, "chunk_batches": 2},
    "figures": [{"file": "toy.pdf", "y": "ber"}],
}


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_toy(tmp_path: Path, data=TOY, **kw):
    scenario = parse_scenario(data)
    return run_scenario(scenario, out=tmp_path / "run", plots_dir=tmp_path / "plots", progress=False, **kw)


# ------------------------------------------------------------------ statistics


def test_wilson_and_clopper_pearson_cover_known_values():
    low, high = wilson_interval(10, 100)
    assert low < 0.1 < high and 0.05 < low and high < 0.18
    low, high = clopper_pearson_interval(0, 1000)
    assert low == 0.0 and math.isclose(high, 1 - 0.025 ** (1 / 1000), rel_tol=1e-9)
    est = mean_t(total=10.0, total_sq=10.0 + 9 * 0.0, count=10)
    assert est.value == 1.0


@pytest.mark.parametrize("trials", [1, 3, 7, 10, 49, 1000])
def test_wilson_interval_is_exact_at_the_boundaries_and_contains_the_estimate(trials):
    assert wilson_interval(0, trials)[0] == 0.0 and wilson_interval(trials, trials)[1] == 1.0
    for k in range(0, trials + 1, max(1, trials // 7)):
        low, high = wilson_interval(k, trials)
        assert low <= k / trials <= high


def test_proportion_interval_coverage_is_about_95_percent():
    import numpy as np

    rng = np.random.default_rng(0)
    p, n, hits = 0.03, 500, 0
    for _ in range(2000):
        k = rng.binomial(n, p)
        lo, hi = wilson_interval(k, n)
        hits += lo <= p <= hi
    assert 0.93 <= hits / 2000 <= 0.97


# ------------------------------------------------------------------ runner


def test_estimates_match_truth_within_ci(tmp_path):
    result = run_toy(tmp_path)
    rows = list(csv.DictReader(open(result.csv_path)))
    ber_rows = [r for r in rows if r["metric"] == "ber"]
    assert {r["snr_db"] for r in ber_rows} == {"0.0", "5.0", "10.0"} or len(ber_rows) >= 3
    for r in ber_rows:
        p = 0.5 * 10 ** (-float(r["snr_db"]) / 10)
        assert float(r["ci_low"]) <= p <= float(r["ci_high"]), r
    # the accuracy rows are the complement, with the same trials
    acc = {r["snr_db"]: float(r["value"]) for r in rows if r["metric"] == "accuracy"}
    for r in ber_rows:
        assert math.isclose(acc[r["snr_db"]], 1 - float(r["value"]))
    assert result.figures and result.figures[0].read_bytes()[:4] == b"%PDF"


def test_stopping_rules_are_recorded(tmp_path):
    store = run_toy(tmp_path).store
    recs = {r.point["snr_db"]: r for r in store}
    assert recs[0.0].stop_reason == "target_errors"
    assert recs[10.0].stop_reason in {"target_errors", "max_batches"}
    assert recs[40.0].batches <= 30


def test_error_free_point_skips_the_rest(tmp_path):
    data = dict(TOY, sweep={"parameter": "snr_db", "values": [200, 210, 220]})
    store = run_toy(tmp_path, data).store
    recs = sorted(store, key=lambda r: r.point_index)
    assert recs[0].stop_reason == "max_batches" and recs[0].totals["bit_errors"] == 0
    assert all(r.stop_reason.startswith("skipped") and r.batches == 0 for r in recs[1:])


def test_batch_seeds_are_independent_of_history():
    assert batch_seed(1, "a", 0, 3) == batch_seed(1, "a", 0, 3)
    assert len({batch_seed(1, "a", p, b) for p in range(5) for b in range(5)}) == 25
    assert batch_seed(1, "a", 0, 0) != batch_seed(2, "a", 0, 0)


def test_resume_after_kill_equals_uninterrupted_run(tmp_path, monkeypatch):
    full = run_toy(tmp_path / "full").store

    import toy_plugin as tp

    calls = {"n": 0}
    original = tp.ToyCoin.simulate

    def dying(self, batch_size, point):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return original(self, batch_size, point)

    monkeypatch.setattr(tp.ToyCoin, "simulate", dying)
    with pytest.raises(KeyboardInterrupt):
        run_toy(tmp_path / "killed")
    partial = load_results(tmp_path / "killed" / "run")
    assert 0 < sum(r.batches for r in partial) < sum(r.batches for r in full)
    monkeypatch.setattr(tp.ToyCoin, "simulate", original)
    resumed = run_toy(tmp_path / "killed").store
    strip = lambda s: {(r.system, r.point_index): (r.totals, r.batches, r.stop_reason) for r in s}  # noqa: E731
    assert strip(resumed) == strip(full)


def test_fresh_discards_and_other_scenario_is_refused(tmp_path):
    run_toy(tmp_path)
    other = dict(TOY, seed=8)
    with pytest.raises(UserError, match="different scenario"):
        run_toy(tmp_path, other)
    before = (tmp_path / "run" / "results.json").read_text()
    assert json.loads(before)["scenario"]["seed"] == 7  # nothing overwritten
    store = run_toy(tmp_path, other, fresh=True).store
    assert store.scenario["seed"] == 8


def test_plot_redraws_from_results_only(tmp_path):
    run_toy(tmp_path)
    out = tmp_path / "replot"
    assert main(["plot", str(tmp_path / "run"), "--plots", str(out)]) == 0
    assert (out / "toy.pdf").read_bytes()[:4] == b"%PDF"


# ------------------------------------------------------------------ validation and CLI


BAD_CASES = [
    ({"monte_carlo": {"batch_size": 0}}, "monte_carlo.batch_size"),
    ({"bogus": 1}, "bogus: unknown key"),
    ({"systems": [{"label": "x", "type": "no_such_system"}]}, "systems[0].type: unknown system 'no_such_system'"),
    ({"systems": [{"label": "x", "type": "toy_coin", "params": {"scale": -1}}]}, "systems[0].params.scale"),
    ({"systems": [{"label": "x", "type": "toy_coin", "params": {"nope": 1}}]}, "systems[0].params.nope: unknown key"),
    ({"metrics": ["psnr"]}, "metrics[0]: no system of this scenario reports 'psnr'"),
    ({"metrics": ["nonsense"]}, "metrics[0]: unknown metric"),
    ({"sweep": {"parameter": "k_over_n", "values": [1]}}, "sweep.parameter: system 'coin'"),
    ({"figures": [{"file": "a.pdf", "y": "bler"}]}, "figures[0].y"),
    ({"sweep": {"start": 5, "stop": 1, "step": 1}}, "sweep.stop: must be >= start"),
    ({"channel": {"type": "rician", "k_factor": -1}}, "channel.k_factor"),
]


@pytest.mark.parametrize("patch,expected", BAD_CASES)
def test_bad_scenarios_exit_2_naming_the_field(tmp_path, capsys, patch, expected):
    data = {**TOY, **patch}
    path = write_yaml(tmp_path / "bad.yaml", data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("linksim: error: ") and expected in err, err
    assert "Traceback" not in err and err.count("\n") == 1


def test_error_names_the_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\nsystems:\n  - label: a\n    type: toy_coin\n    params: {scale: 0}\nmetrics: [ber]\n")
    assert main(["validate", str(path)]) == 2
    assert "bad.yaml:5: systems[0].params.scale" in capsys.readouterr().err


def test_yaml_syntax_error_has_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("name: t\nsystems: [\n  {label: a\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml:" in err and "YAML syntax error" in err


def test_missing_file_and_cuda_request(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "no such scenario file" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        path = write_yaml(tmp_path / "s.yaml", dict(TOY, device="cuda"))
        assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
        assert "device" in capsys.readouterr().err
        assert not (tmp_path / "o").exists()


def test_user_plugin_by_import_path_runs_from_yaml(tmp_path, capsys):
    data = dict(TOY, plugins=["toy_plugin"], systems=[{"label": "coin", "type": "toy_plugin:ToyCoin"}])
    path = write_yaml(tmp_path / "plugin.yaml", data)
    args = ["run", str(path), "--out", str(tmp_path / "o"), "--plots", str(tmp_path / "p"), "--no-progress"]
    assert main(args) == 2  # the scenario declares a plugin the user has not listed
    assert "plugins[0]" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    code = main([*args, "--plugin", "toy_plugin"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "p" / "toy.pdf").exists()


def test_threads_option(tmp_path, capsys):
    import torch

    path = write_yaml(tmp_path / "s.yaml", TOY)
    assert main(["run", str(path), "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err
    before = torch.get_num_threads()
    try:
        args = ["run", str(path), "--threads", "1", "--out", str(tmp_path / "o"), "--plots", str(tmp_path / "p")]
        assert main(args) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_list_and_schema(capsys):
    assert main(["list", "systems"]) == 0
    out = capsys.readouterr().out
    assert "bit_link" in out and "toy_coin" in out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "systems" in schema["properties"]
    assert main(["list", "nonsense"]) == 2


def test_provenance_is_recorded(tmp_path):
    store = run_toy(tmp_path).store
    prov = store.provenance
    for key in ("versions", "device", "git_revision", "scenario_hash", "seed", "elapsed_s"):
        assert key in prov
    assert prov["versions"]["torch"].startswith("2.")
    assert store.scenario["name"] == "toy"


def test_shipped_scenarios_validate(repo):
    for path in sorted((repo / "scenarios").glob("*.yaml")):
        load_scenario(path)

"""Parallel sweeps (``linksim run --jobs N``, ``--executor ray``): the serial runner's results, bit for bit."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

import flaky_plugin  # noqa: F401  (registers "toy_flaky")
import toy_plugin  # noqa: F401  (registers "toy_coin")
from linksim.cli import main
from linksim.executors import LocalExecutor, WorkerFailed, make_executor
from linksim.errors import UserError
from linksim.results import load_results
from linksim.runner import run_scenario
from linksim.scenario import parse_scenario

#: Four points: target_errors stops the noisy ones early, the error-free 40 dB point makes
#: the serial runner skip the 60 dB one, and 20 dB runs to max_batches.
TOY = {
    "name": "toy_parallel",
    "seed": 11,
    "sweep": {"parameter": "snr_db", "values": [0, 5, 20, 40, 60]},
    "systems": [{"label": "coin", "type": "toy_coin", "params": {"scale": 10}},
                {"label": "coarse", "type": "toy_coin", "params": {"scale": 30}}],
    "metrics": ["ber"],
    "monte_carlo": {"batch_size": 100, "max_batches": 6, "target_errors": 300, "chunk_batches": 1},
    "figures": [],
}


#: The test plugins, imported by every worker (as ``--plugin`` does on the command line).
PLUGINS = ("toy_plugin", "flaky_plugin")


def _run(tmp_path: Path, name: str, data=TOY, executor=None):
    run = run_scenario(parse_scenario(data), out=tmp_path / name, plots_dir=tmp_path / name, progress=False,
                       executor=executor)
    return run, {(r.system, r.point_index): (r.totals, r.batches, r.done, r.stop_reason) for r in run.store}


@pytest.fixture(scope="module")
def local2():
    with LocalExecutor(2, plugins=PLUGINS) as executor:
        yield executor


def test_two_local_workers_equal_the_serial_run(tmp_path, local2):
    serial, want = _run(tmp_path, "serial")
    parallel, got = _run(tmp_path, "parallel", executor=local2)
    assert got == want
    assert parallel.csv_path.read_text() == serial.csv_path.read_text()
    reasons = {r.stop_reason for r in serial.store}
    assert {"target_errors", "max_batches"} <= reasons and any(r.startswith("skipped") for r in reasons)
    assert "local, 2 worker(s)" in load_results(parallel.results_path).provenance["executor"]


def test_parallel_run_resumes_an_interrupted_serial_run(tmp_path, local2, monkeypatch):
    _, want = _run(tmp_path, "full")
    original, calls = toy_plugin.ToyCoin.simulate, {"n": 0}

    def dying(self, batch_size, point):
        calls["n"] += 1
        if calls["n"] == 8:  # inside point 2 of "coin"
            raise KeyboardInterrupt
        return original(self, batch_size, point)

    monkeypatch.setattr(toy_plugin.ToyCoin, "simulate", dying)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "resumed")
    partial = load_results(tmp_path / "resumed")
    assert any(r.batches and not r.done for r in partial)
    monkeypatch.setattr(toy_plugin.ToyCoin, "simulate", original)
    _, got = _run(tmp_path, "resumed", executor=local2)  # the workers never saw the patch
    assert got == want


def test_a_raising_worker_is_reported_naming_system_and_point(tmp_path, local2):
    data = {**TOY, "systems": [{"label": "flaky", "type": "toy_flaky", "params": {"fail_at": 5}}]}
    with pytest.raises(WorkerFailed, match=r"flaky snr_db=5 batch \d+ failed on a worker: RuntimeError: flaky"):
        _run(tmp_path, "raise", data, executor=local2)
    partial = load_results(tmp_path / "raise")
    assert all(r.point_index == 0 for r in partial if r.done)  # what was committed is kept, nothing else


def test_a_dead_worker_is_retried_once(tmp_path, local2):
    marker = tmp_path / "died"
    data = {**TOY, "systems": [{"label": "coin", "type": "toy_flaky",
                                "params": {"scale": 10, "fail_at": 20, "mode": "die", "marker": str(marker)}}]}
    _, want = _run(tmp_path, "serial", {**TOY, "systems": [{"label": "coin", "type": "toy_coin",
                                                            "params": {"scale": 10}}]})
    _, got = _run(tmp_path, "parallel", data, executor=local2)
    assert marker.exists() and got == want
    marker.unlink()
    data["systems"][0]["params"]["marker"] = ""  # dies every time: reported after the retry
    with pytest.raises(WorkerFailed, match="coin snr_db=20 batch .* after a retry"):
        _run(tmp_path, "dies", data, executor=local2)


def test_executor_options_are_checked(tmp_path, capsys):
    scenario = Path(__file__).parents[1] / "scenarios" / "ber_qam_awgn.yaml"
    assert main(["run", str(scenario), "--address", "auto", "--out", str(tmp_path)]) == 2
    assert "--address: only with --executor ray" in capsys.readouterr().err
    assert main(["run", str(scenario), "--jobs", "0", "--out", str(tmp_path)]) == 2
    assert "--jobs: must be >= 1" in capsys.readouterr().err
    with pytest.raises(UserError, match="--executor"):
        make_executor("dask", 2)


RAY_SCENARIO = {
    "name": "ray_tiny",
    "seed": 3,
    "sweep": {"parameter": "ebno_db", "values": [0, 2, 4]},
    "systems": [{"label": "QPSK LDPC", "type": "bit_link",
                 "params": {"code": {"type": "ldpc5g", "k": 64, "n": 128, "num_iter": 5}, "modulation": 4}}],
    "channel": {"type": "awgn"},
    "metrics": ["ber", "bler"],
    "monte_carlo": {"batch_size": 100, "max_batches": 3, "target_errors": None},
    "figures": [],
}


def test_ray_with_two_workers_equals_the_serial_run(tmp_path):
    pytest.importorskip("ray")
    serial, want = _run(tmp_path, "serial", RAY_SCENARIO)
    out = io.StringIO()
    with make_executor("ray", 2) as executor:
        ray_run, got = _run(tmp_path, "ray", RAY_SCENARIO, executor=executor)
        failed = executor.run_commands([("ok", [sys.executable, "-c", "print('hello')"]),
                                        ("bad", [sys.executable, "-c", "import sys; print('oops'); sys.exit(3)"])], out)
    assert got == want
    assert ray_run.csv_path.read_text() == serial.csv_path.read_text()
    # training units as Ray tasks: lines prefixed with the unit's name, failures named
    assert failed == ["bad"]
    text = out.getvalue()
    assert "[ok] hello" in text and "[bad] oops" in text and "[bad] exited with code 3" in text

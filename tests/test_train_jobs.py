"""``linksim train --jobs N``: training units, the weight-store training lock, parallel runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest
import yaml

from linksim.assembly import Runtime, build_system
from linksim.cli import main
from linksim.scenario import parse_scenario
from linksim.train_jobs import TrainingUnit, run_parallel, training_units, unit_command
from linksim.weights import WeightStore
from test_image_jscc import _scenario  # the tiny image scenario (tests/ is on sys.path)


def _write(tmp_path: Path, spec: Dict[str, Any]) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


# ----------------------------------------------------------------------------- units
def test_one_unit_per_distinct_model(tmp_path: Path) -> None:
    spec = _scenario(sweep={"parameter": "bandwidth_ratio", "values": ["1/24", "1/12", "1/6"], "fixed": {"snr_db": 5}})
    units = training_units(parse_scenario(spec), Runtime(cache_dir=tmp_path))
    assert units == [TrainingUnit("J", (0,)), TrainingUnit("J", (1,)), TrainingUnit("J", (2,))]
    assert units[1].name == "J @1"


def test_systems_without_weights_get_no_unit(tmp_path: Path) -> None:
    from linksim.scenario import load_scenario

    scenario = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ber_qam_awgn.yaml")
    assert training_units(scenario, Runtime(cache_dir=tmp_path)) == []


def test_points_served_by_one_model_form_one_group(tmp_path: Path) -> None:
    spec = _scenario(sweep={"parameter": "snr_db", "values": [0, 5, 10], "fixed": {"bandwidth_ratio": "1/12"}},
                     systems=[{"label": "J", "type": "image_jscc", "params": {"method": "deepjscc"},
                               "training": {"train_snr_db": 5}}])
    system = build_system(parse_scenario(spec), 0, Runtime(cache_dir=tmp_path))
    assert system.training_groups() == [[0, 1, 2]]
    assert training_units(parse_scenario(spec), Runtime(cache_dir=tmp_path)) == [TrainingUnit("J")]


def test_a_system_built_for_some_points_sees_only_those(tmp_path: Path) -> None:
    scenario = parse_scenario(_scenario())
    system = build_system(scenario, 0, Runtime(cache_dir=tmp_path), points=[1])
    assert [p["bandwidth_ratio"] for p in system.context.points] == [1 / 12]


def test_unit_command_names_label_points_and_options(tmp_path: Path) -> None:
    cmd = unit_command(Path("s.yaml"), TrainingUnit("A b", (2, 3)), threads=1, quick=True, cache_dir=tmp_path,
                       device="cpu")
    assert cmd[:3] == [sys.executable, "-m", "linksim"]
    assert cmd[3:] == ["train", "s.yaml", "--only", "A b", "--threads", "1", "--point", "2", "--point", "3",
                       "--quick", "--cache", str(tmp_path), "--device", "cpu"]


# ----------------------------------------------------------------------------- the lock
def test_training_lock_makes_a_second_process_wait(tmp_path: Path) -> None:
    """A process holding the lock of a key blocks another until it releases it."""
    marks = tmp_path / "marks.txt"
    child = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from linksim.weights import WeightStore
        marks = Path({str(marks)!r})
        with WeightStore(Path({str(tmp_path)!r}), "k").training_lock("key"):
            marks.write_text("held\\n")
            time.sleep(1.0)
            with marks.open("a") as f:
                f.write("released\\n")
    """)
    proc = subprocess.Popen([sys.executable, "-c", child])
    try:
        deadline = time.time() + 60
        while not marks.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert marks.exists(), "the child never took the lock"
        with WeightStore(tmp_path, "k").training_lock("key"):
            seen = marks.read_text().split()
    finally:
        proc.wait(timeout=60)
    assert seen == ["held", "released"]  # we got the lock only after the child let go


def _put_weights(store: WeightStore, key: str, data: bytes, **meta) -> None:
    """A cached weights file and its record (the SHA-256 linksim checks before using it)."""
    import hashlib
    import json

    store.cache_dir.mkdir(parents=True, exist_ok=True)
    (store.cache_dir / f"{key}.weights.h5").write_bytes(data)
    (store.cache_dir / f"{key}.json").write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest(), **meta}))


def test_claim_yields_present_weights_without_locking(tmp_path: Path) -> None:
    store = WeightStore(tmp_path / "cache", "k")
    _put_weights(store, "key", b"x")
    with store.claim("key") as path:
        assert path == store.cache_dir / "key.weights.h5"
    assert not list(store.cache_dir.glob(".*.lock"))  # a read-only cache would do
    with store.claim("other") as path:
        assert path is None  # missing: we hold the lock and must train


def test_training_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    store = WeightStore(tmp_path, "k")
    with store.training_lock("a"):
        with store.training_lock("a"):  # SemCC w/o fine-tuning: stage-1 key == final key
            pass
        with store.training_lock("b"):
            pass


# ----------------------------------------------------------------------------- processes
def test_run_parallel_prefixes_lines_and_reports_failures() -> None:
    import io

    out = io.StringIO()
    failed = run_parallel([("ok", [sys.executable, "-c", "print('hello')"]),
                           ("bad", [sys.executable, "-c", "import sys; print('oops'); sys.exit(3)"]),
                           ("ok2", [sys.executable, "-c", "print('again')"])], jobs=2, out=out)
    text = out.getvalue()
    assert failed == ["bad"]
    assert "[ok] hello" in text and "[ok2] again" in text and "[bad] oops" in text
    assert "[bad] exited with code 3" in text


def _weights(path: Path) -> Dict[str, np.ndarray]:
    import h5py

    arrays: Dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def test_parallel_training_gives_the_serial_weights(tmp_path: Path, capsys: Any) -> None:
    path = _write(tmp_path, _scenario())
    assert main(["train", str(path), "--quick", "--jobs", "2", "--cache", str(tmp_path / "par")]) == 0
    out = capsys.readouterr().out
    assert "training 2 unit(s) in 2 process(es)" in out and "[J @0]" in out and "[J @1]" in out
    assert main(["train", str(path), "--quick", "--threads", "1", "--cache", str(tmp_path / "ser")]) == 0
    parallel = sorted((tmp_path / "par" / "weights" / "images").glob("*.weights.h5"))
    serial = sorted((tmp_path / "ser" / "weights" / "images").glob("*.weights.h5"))
    assert [p.name for p in parallel] == [p.name for p in serial] and len(serial) == 3  # 2 transceivers + ResNet
    for a, b in zip(parallel, serial):
        wa, wb = _weights(a), _weights(b)
        assert wa.keys() == wb.keys()
        for name in wa:
            np.testing.assert_array_equal(wa[name], wb[name], err_msg=f"{a.name}: {name}")


@pytest.mark.parametrize("args,message", [
    (["--point", "7"], "--point: 7 is not a sweep point index (the sweep has 2 points, 0-1)"),
    (["--jobs", "0"], "--jobs: must be >= 1"),
    (["--jobs", "2", "--point", "0"], "--point: give either --point or --jobs"),
    (["--jobs", "2", "--only", "nope"], "--only: no system labelled 'nope'"),
    (["--jobs", "2", "--threads", "0"], "--threads: must be >= 1"),
])
def test_bad_train_options_name_the_option(args: list, message: str, tmp_path: Path, capsys: Any) -> None:
    path = _write(tmp_path, _scenario())
    assert main(["train", str(path), "--quick", "--cache", str(tmp_path / "c"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_semcc_stage1_checkpoint_does_not_depend_on_who_trains_it(tmp_path: Path) -> None:
    """"w/o. FT" trained alone equals the stage-1 checkpoint its fine-tuned sibling saves."""
    sweep = {"parameter": "bandwidth_ratio", "values": ["1/24"], "fixed": {"snr_db": 5}}
    both = _write(tmp_path, _scenario(sweep=sweep, systems=[
        {"label": "Baseline", "type": "image_jscc", "params": {"method": "semcc"}}]))
    assert main(["train", str(both), "--quick", "--threads", "1", "--cache", str(tmp_path / "a")]) == 0
    alone_dir = tmp_path / "alone"
    alone_dir.mkdir()
    alone = _write(alone_dir, _scenario(sweep=sweep, systems=[
        {"label": "w/o. FT", "type": "image_jscc", "params": {"method": "semcc", "finetune": False}}]))
    assert main(["train", str(alone), "--quick", "--threads", "1", "--cache", str(tmp_path / "b")]) == 0
    from linksim.systems.semcc.jscc import ImageJsccSystem

    system = build_system(parse_scenario(yaml.safe_load(alone.read_text())), 0,
                          Runtime(cache_dir=tmp_path / "b", quick=True))
    assert isinstance(system, ImageJsccSystem)
    key = system.model_key(system._model_point(system.context.points[0]))
    checkpoint = tmp_path / "a" / "weights" / "images" / f"{key}.weights.h5"
    trained_alone = tmp_path / "b" / "weights" / "images" / f"{key}.weights.h5"
    assert checkpoint.exists() and trained_alone.exists()
    wa, wb = _weights(checkpoint), _weights(trained_alone)
    assert wa.keys() == wb.keys()
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)


def test_shipping_again_keeps_the_first_command(tmp_path: Path) -> None:
    import json

    store = WeightStore(tmp_path / "cache", "k")
    store.shipped_dir = tmp_path / "shipped"
    _put_weights(store, "key", b"weights", command="trained")
    first = store.ship("key", "linksim train a.yaml")
    store.ship("key", "linksim train b.yaml")  # same weights, shipped by another scenario
    assert json.loads(first.with_suffix("").with_suffix(".json").read_text())["command"] == "linksim train a.yaml"
    _put_weights(store, "key", b"retrained", command="trained")
    store.ship("key", "linksim train c.yaml")  # new content: copied, with its command
    assert first.read_bytes() == b"retrained"
    assert json.loads(first.with_suffix("").with_suffix(".json").read_text())["command"] == "linksim train c.yaml"

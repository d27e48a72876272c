"""The trust model and the guarantees around bad input (issue: a scenario must never run code).

* a scenario runs no code the user did not list: plugins are named by the user, and a
  ``module:name`` reference resolves only to a component class of such a module;
* YAML input is bounded (size, depth, aliases) and exact (duplicate keys, control bytes);
* output folders are checked and locked before work, stale temporary files removed;
* weights are used only when their SHA-256 matches the record;
* figures follow their results; results files are read defensively;
* the Python API raises :class:`linksim.UserError` with the CLI's message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

import linksim
from linksim import plugins
from linksim.cli import main
from linksim.errors import UserError
from linksim.files import LOCK_FILE, FolderLock, check_writable_folder, clean_stale_temp_files
from linksim.runner import SHIPPED_PLOTS_DIR, figures_dir
from linksim.scenario import check_number_format, parse_scenario
from linksim.yaml_input import MAX_DEPTH, MAX_FILE_BYTES, read_yaml

PLUGINS = Path(__file__).parent / "plugins"

BASE = {
    "name": "trust",
    "sweep": {"values": [0, 4]},
    "systems": [{"label": "qpsk", "type": "bit_link", "params": {"modulation": 4, "code": {"type": "uncoded"}}}],
    "metrics": ["ber"],
    "monte_carlo": {"batch_size": 20, "max_batches": 1, "quick": {"batch_size": 10, "max_batches": 1}},
    "figures": [{"file": "trust.pdf", "y": "ber"}],
}


def write(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def with_(**changes):
    return {**BASE, **changes}


def error_of(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("linksim: error: "), err
    return lines[0]


# ------------------------------------------------------------------ code from scenarios


@pytest.mark.parametrize("where, spec", [
    ("systems[0].type", {"systems": [{"label": "x", "type": "os:system", "params": {"command": "echo hi"}}]}),
    ("systems[0].type", {"systems": [{"label": "x", "type": "builtins:print"}]}),
    ("channel.type", {"channel": {"type": "subprocess:run"}}),
    ("metrics[0]", {"metrics": ["sys:exit"]}),
    ("data.type", {"data": {"type": "os:system"}}),
    ("figures[0].theory[0].type", {"figures": [{"file": "t.pdf", "y": "ber",
                                                 "theory": [{"type": "pickle:loads", "params": {"data": "x"}}]}]}),
    ("systems[0].params.code.type", {"systems": [{"label": "x", "type": "bit_link",
                                                   "params": {"modulation": 4, "code": {"type": "os:abort"}}}]}),
])
def test_a_scenario_cannot_name_code(tmp_path, capsys, where, spec):
    path = write(tmp_path / "s.yaml", with_(**spec))
    assert main(["validate", str(path)]) == 2
    assert where in error_of(capsys)


def test_validate_imports_no_module_a_scenario_names(tmp_path, capsys):
    assert "this" not in sys.modules  # importing `this` prints the Zen of Python: a visible side effect
    path = write(tmp_path / "s.yaml", with_(systems=[{"label": "x", "type": "this:s"}], plugins=[]))
    assert main(["validate", str(path)]) == 2
    assert "systems[0].type" in error_of(capsys)
    path = write(tmp_path / "p.yaml", with_(plugins=["this"]))
    assert main(["validate", str(path)]) == 2
    assert "plugins[0]" in error_of(capsys)
    assert "this" not in sys.modules


def test_import_path_reaches_only_component_classes_of_listed_plugins(tmp_path, capsys):
    import not_a_plugin_target

    path = write(tmp_path / "s.yaml", with_(systems=[{"label": "x", "type": "not_a_plugin_target:record"}]))
    assert main(["validate", str(path)]) == 2  # not listed
    assert "not a plugin module you listed" in error_of(capsys)
    assert main(["validate", str(path), "--plugin", "not_a_plugin_target"]) == 2  # listed, but a function
    assert "is not a system class" in error_of(capsys)
    assert not_a_plugin_target.CALLS == []
    toy = write(tmp_path / "toy.yaml", with_(plugins=["toy_plugin"], systems=[{"label": "c", "type": "toy_plugin:ToyCoin"}]))
    assert main(["validate", str(toy), "--plugin", "toy_plugin"]) == 0


def test_plugin_module_that_does_not_exist_is_named(tmp_path, capsys):
    path = write(tmp_path / "s.yaml", BASE)
    assert main(["validate", str(path), "--plugin", "no_such_module_xyz"]) == 2
    assert "--plugin" in error_of(capsys)
    assert main(["validate", str(path), "--plugin", "os;rm -rf"]) == 2
    assert "not a Python module name" in error_of(capsys)


def test_plugin_metric_is_known_only_once_its_plugin_is_listed(tmp_path, capsys, monkeypatch):
    """Plugins load before names are checked: a plugin's metric can be named in the YAML."""
    assert "leak_plugin" not in sys.modules
    data = with_(plugins=["leak_plugin"], systems=[{"label": "leaky", "type": "toy_leaky_link"}],
                 metrics=["leak_rate"], figures=[{"file": "leak.pdf", "y": "leak_rate", "scale": "linear"}])
    path = write(tmp_path / "leak.yaml", data)
    assert main(["validate", str(path)]) == 2
    assert "plugins[0]" in error_of(capsys) and "leak_plugin" not in sys.modules
    undeclared = write(tmp_path / "undeclared.yaml", {k: v for k, v in data.items() if k != "plugins"})
    assert main(["validate", str(undeclared)]) == 2
    assert "metrics[0]: unknown metric 'leak_rate'" in error_of(capsys)
    out = tmp_path / "out"
    assert main(["run", str(path), "--plugin", "leak_plugin", "--out", str(out), "--no-progress"]) == 0
    rows = [r for r in (out / "results.csv").read_text().splitlines()[1:] if ",leak_rate," in r]
    assert rows and all(float(r.split(",")[3]) == 0.25 for r in rows)
    monkeypatch.setenv("LINKSIM_PLUGINS", "leak_plugin")
    assert main(["plot", str(out), "--plots", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "leak.pdf").exists()


def test_a_subprocess_gets_plugins_only_from_its_user():
    """The same in a fresh process: validate of a scenario declaring a plugin imports nothing."""
    import_check = "import sys; from linksim.cli import main; rc = main(sys.argv[1:]); " \
                   "print('imported' if 'toy_plugin' in sys.modules else 'clean'); sys.exit(rc)"
    scenario = Path(__file__).parent / "plugins" / "toy.yaml"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", import_check, "validate", str(scenario)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2 and done.stdout.strip() == "clean"
    assert "plugins[0]" in done.stderr and "Traceback" not in done.stderr


def test_installed_entry_point_plugins_load(tmp_path, monkeypatch, capsys):
    dist = tmp_path / "site" / "toyplug-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[linksim.plugins]\ntoy = entry_point_plugin\n")
    (tmp_path / "site" / "entry_point_plugin.py").write_text(textwrap.dedent('''
        from linksim.registry import channels
        from linksim.phy.channels import AWGNChannel

        @channels.register("entry_point_awgn")
        class EntryPointAwgn(AWGNChannel):
            """AWGN registered by an installed package's entry point."""
    '''))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    path = write(tmp_path / "s.yaml", with_(channel={"type": "entry_point_awgn"}))
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert plugins.is_plugin("entry_point_plugin")


# ------------------------------------------------------------------ YAML bounds


def test_yaml_bounds(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: x\ndescription: '" + "a" * MAX_FILE_BYTES + "'\n")
    with pytest.raises(UserError, match="larger than"):
        read_yaml(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n")
    with pytest.raises(UserError, match="deep.yaml:1: nested more than"):
        read_yaml(deep)
    ok = tmp_path / "ok.yaml"
    ok.write_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n")  # the mapping is level 1
    assert read_yaml(ok)[0] is not None
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="aliases are expanded"):
        read_yaml(bomb)
    assert time.perf_counter() - t0 < 5
    shared = tmp_path / "shared.yaml"  # an anchor inside one list item reused by later items (a shared block)
    shared.write_text("systems:\n  - {label: a, training: &t {seeds: 5, transceiver: {epochs: 4}}}\n"
                      "  - {label: b, training: *t}\n  - {label: c, training: *t}\n")
    assert read_yaml(shared)[0]["systems"][2]["training"] == {"seeds": 5, "transceiver": {"epochs": 4}}
    loop = tmp_path / "loop.yaml"
    loop.write_text("a: &r [1, *r]\n")
    with pytest.raises(UserError, match="loop.yaml:1: a value that contains itself"):
        read_yaml(loop)
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nseed: 1\nname: b\n")
    with pytest.raises(UserError, match=r"dup.yaml:3: duplicate key 'name' \(first given on line 1\)"):
        read_yaml(dup)
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"name: a\nseed: 1\x00\n")
    with pytest.raises(UserError, match=r"nul.yaml:2:8: control character 0x00"):
        read_yaml(nul)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: a\ndescription: caf\xe9\n")
    with pytest.raises(UserError, match=r"latin.yaml:2: not UTF-8"):
        read_yaml(latin)
    merged = tmp_path / "merge.yaml"
    merged.write_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert read_yaml(merged)[0]["other"] == {"x": 1, "y": 2}


@pytest.mark.parametrize("fmt, ok", [
    ("{:.2f}", True), ("{:>8.3g}", True), ("{}", True), ("{0:.1%}", True), ("x={:.1e} dB", True),
    ("{:>2000000000}", False), ("{0[0]}", False), ("{0.__class__}", False), ("{!r}", False),
    ("{:.2f}{:.2f}", False), ("plain", False), ("{:{}}", False), ("{", False),
])
def test_table_format_is_one_plain_number_field(fmt, ok):
    if ok:
        check_number_format(fmt)
    else:
        with pytest.raises(ValueError):
            check_number_format(fmt)


def test_booleans_and_non_finite_numbers_are_refused_everywhere():
    cases = [
        (with_(seed=True), "seed"),
        (with_(monte_carlo={"batch_size": True}), "monte_carlo.batch_size"),
        (with_(sweep={"values": [0, True]}), "sweep.values[1]"),
        (with_(systems=[{"label": "q", "type": "bit_link", "params": {"modulation": True}}]),
         "systems[0].params.modulation"),
        (with_(channel={"type": "rician", "k_factor": float("inf")}), "channel.k_factor"),
        (with_(figures=[{"file": "a.pdf", "y": "ber", "ylim": [float("nan"), 1]}]), "figures[0].ylim"),
    ]
    for data, field in cases:
        with pytest.raises(UserError, match=field.replace("[", r"\[").replace("]", r"\]")):
            parse_scenario(data)


# ------------------------------------------------------------------ folders, locks, temp files


def test_bad_folders_fail_before_any_work(tmp_path, capsys):
    path = write(tmp_path / "s.yaml", BASE)
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    for option, value in [("--out", a_file), ("--out", a_file / "sub"), ("--plots", a_file), ("--cache", a_file),
                          ("--out", Path("/dev/null"))]:
        extra = [] if option == "--out" else ["--out", str(tmp_path / "o")]
        assert main(["run", str(path), "--quick", "--no-progress", option, str(value), *extra]) == 2
        assert option in error_of(capsys)
        assert not (tmp_path / "o" / "results.json").exists()
    assert a_file.read_text() == "keep me"


def test_a_locked_run_folder_is_refused_naming_its_holder(tmp_path, capsys):
    path = write(tmp_path / "s.yaml", BASE)
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from linksim.files import FolderLock
        with FolderLock({str(out)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 2
        message = error_of(capsys)
        assert "in use by another linksim run" in message and f"pid {holder.pid}" in message
        assert not (out / "results.json").exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 0  # the OS released the lock
    assert not (out / LOCK_FILE).exists()


def test_two_scenarios_into_one_folder_never_replace_each_other(tmp_path, capsys):
    out = tmp_path / "out"
    first = write(tmp_path / "a.yaml", BASE)
    second = write(tmp_path / "b.yaml", with_(name="other", sweep={"values": [1]}))
    assert main(["run", str(first), "--out", str(out), "--no-progress"]) == 0
    kept = (out / "results.json").read_text()
    assert main(["run", str(second), "--out", str(out), "--no-progress"]) == 2
    assert "different scenario" in error_of(capsys)
    assert (out / "results.json").read_text() == kept


def test_stale_temporary_files_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".results.json.k2j3h4", out / ".results.csv.abc.tmp", out / ".trust.pdf.x1y2.tmp"]
    for path in stale:
        path.write_text("half a file")
    keep = out / ".hidden-user-file"
    keep.write_text("mine")
    path = write(tmp_path / "s.yaml", BASE)
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    assert not any(p.exists() for p in stale) and keep.exists()
    recent = tmp_path / "shared" / ".x.pdf.a.tmp"
    recent.parent.mkdir()
    recent.write_text("being written by someone")
    assert clean_stale_temp_files(recent.parent, older_than_s=3600) == 0 and recent.exists()


def test_lock_and_folder_helpers(tmp_path):
    folder = check_writable_folder(tmp_path / "a" / "b", "--out")
    with FolderLock(folder) as lock:
        assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
        with pytest.raises(UserError, match="in use"):
            FolderLock(folder).acquire()
        lock.release()
        FolderLock(folder).acquire()


def test_results_files_are_readable_by_others(tmp_path):
    path = write(tmp_path / "s.yaml", BASE)
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    mask = os.umask(0)
    os.umask(mask)
    for name in ("results.json", "results.csv", "trust.pdf"):
        assert (tmp_path / "o" / name).stat().st_mode & 0o777 == 0o666 & ~mask


# ------------------------------------------------------------------ figures follow results


def test_figures_follow_their_results(tmp_path, repo, capsys):
    out = tmp_path / "o"
    shipped = repo / "scenarios" / "ber_qam_awgn.yaml"
    assert figures_dir(out, plots_dir=None, out_given=False, quick=False, scenario_path=shipped) == SHIPPED_PLOTS_DIR
    assert figures_dir(out, plots_dir=None, out_given=True, quick=False, scenario_path=shipped) == out
    assert figures_dir(out, plots_dir=None, out_given=False, quick=True, scenario_path=shipped) == out
    assert figures_dir(out, plots_dir=tmp_path / "p", out_given=True, quick=True, scenario_path=shipped) == tmp_path / "p"
    mine = tmp_path / "ber_qam_awgn.yaml"
    mine.write_text(shipped.read_text())
    assert figures_dir(out, plots_dir=None, out_given=False, quick=False, scenario_path=mine) == out
    committed = repo / "plots" / "ber_qam_awgn.pdf"
    before = committed.stat().st_mtime_ns
    assert main(["run", str(shipped), "--quick", "--out", str(out), "--no-progress"]) == 0
    assert (out / "ber_qam_awgn.pdf").exists()
    assert committed.stat().st_mtime_ns == before


# ------------------------------------------------------------------ results read defensively


def test_results_of_the_wrong_shape_name_file_and_field(tmp_path, capsys):
    path = write(tmp_path / "s.yaml", BASE)
    out = tmp_path / "o"
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    good = json.loads((out / "results.json").read_text())
    cases = [
        (lambda d: d.update(records={}), "records"),
        (lambda d: d["records"][0].pop("system"), "records[0].system"),
        (lambda d: d["records"][0].update(totals="x"), "records[0].totals"),
        (lambda d: d["records"][0].update(batches=-1), "records[0].batches"),
        (lambda d: d["records"][1].update(point_index=7), "records[1].point_index"),
        (lambda d: d["records"][0].update(system="ghost"), "records[0].system"),
        (lambda d: d["scenario"].pop("metrics"), "scenario.metrics"),
        (lambda d: d["scenario"]["figures"][0].update(theory=[{"type": "os:system"}]), "scenario.figures[0].theory[0].type"),
        (lambda d: d.update(linksim_results=2), "linksim_results"),
    ]
    for mutate, field in cases:
        data = json.loads(json.dumps(good))
        mutate(data)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(data))
        assert main(["plot", str(bad), "--plots", str(tmp_path / "p")]) == 2
        message = error_of(capsys)
        assert "bad.json" in message and field in message, (field, message)
    (out / "results.json").write_text(json.dumps(dict(good, records="x")))
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 2  # resume reads it too
    assert "records" in error_of(capsys)


# ------------------------------------------------------------------ Python API


def test_python_api_raises_user_error_with_the_cli_message(tmp_path, capsys):
    path = write(tmp_path / "s.yaml", BASE)
    with pytest.raises(linksim.UserError) as api:
        linksim.run(path, device="tpu", out=tmp_path / "o", progress=False)
    assert str(api.value) == "device: 'tpu' is not one of auto, cpu, cuda"
    assert not (tmp_path / "o").exists()
    bad = write(tmp_path / "bad.yaml", with_(seed=True))
    with pytest.raises(linksim.UserError) as api:
        linksim.run(bad, quick=True, out=tmp_path / "o2")
    assert main(["validate", str(bad)]) == 2
    assert error_of(capsys) == f"linksim: error: {api.value}"
    with pytest.raises(linksim.UserError, match="scenario: a file path"):
        linksim.run(42)


# ------------------------------------------------------------------ weights verified


def _tiny_model(units: int = 3):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
    return model


def test_weights_are_used_only_when_their_sha256_matches(tmp_path, capsys):
    from linksim.weights import WeightStore

    store = WeightStore(tmp_path / "cache", "toy")
    store.shipped_dir = tmp_path / "shipped"
    path = store.save(_tiny_model(), "k1", {})
    assert store.find("k1") == path
    loaded = _tiny_model()
    store.load_into(loaded, path)

    data = bytearray(path.read_bytes())  # replace one byte: a damaged or substituted file
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with store.claim("k1") as found:
        assert found is None  # refused: the caller trains again (and save() replaces it)
    warning = capsys.readouterr().err
    assert "warning" in warning and str(path) in warning and "SHA-256" in warning
    store.save(_tiny_model(), "k1", {})
    assert store.find("k1") == path

    store.ship("k1", "linksim train x.yaml")  # a shipped copy that someone then replaces
    shipped = store.shipped_dir / path.name
    path.unlink()
    shipped.write_bytes(shipped.read_bytes()[:-10])
    assert store.find("k1") is None
    assert str(shipped) in capsys.readouterr().err


def test_weights_that_do_not_fit_the_model_name_the_file(tmp_path):
    from linksim.weights import WeightStore

    store = WeightStore(tmp_path / "cache", "toy")
    path = store.save(_tiny_model(3), "k2", {})
    with pytest.raises(UserError, match=str(path).replace(".", r"\.")):
        store.load_into(_tiny_model(5), path)


def test_an_unwritable_cache_stops_before_training(tmp_path):
    from linksim.weights import WeightStore

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "weights").write_text("a file where the weight folder should be")  # unwritable, even for root
    with pytest.raises(UserError, match="--cache: toy weights missing must be trained"):
        with WeightStore(cache, "toy").claim("missing"):
            pytest.fail("training would start")


def test_a_batch_larger_than_the_machine_is_refused_by_validate():
    from linksim.machine import memory_bytes

    huge = with_(monte_carlo={"batch_size": 10**7, "max_batches": 1})  # 10**7 blocks of 1200 bits: terabytes
    with pytest.raises(UserError, match=r"monte_carlo\.batch_size: a batch of 10000000 examples .* GiB"):
        parse_scenario(huge)
    quick = with_(monte_carlo={"batch_size": 10, "quick": {"batch_size": 10**7}})
    with pytest.raises(UserError, match=r"monte_carlo\.quick\.batch_size"):
        parse_scenario(quick)
    fits = 10**4 * 1200 * 176  # the estimate of a batch of 10**4 such blocks
    assert memory_bytes() is None or memory_bytes() > fits
    parse_scenario(with_(monte_carlo={"batch_size": 10**4}))

"""Issue 16: fuzzing. Mutated scenarios (and results files) are accepted or rejected
cleanly: exit code 0 or 2, never an escaped exception or a traceback, one
``linksim: error:`` line naming the file when rejected, within a time bound.

The scenarios start from the tiny valid bases of ``bad_inputs/make_corpus.py``; each
example changes one to three places: a leaf or a whole block replaced by a value from a
nasty set (huge, negative, zero, NaN/inf, 1e308, 5e-324, booleans, null, long strings,
nested containers, ``module:function`` names, format strings), a key deleted, renamed or
added. Derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, List, Tuple

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).resolve().parent / "bad_inputs"


import harness  # noqa: E402  (tests/bad_inputs, on sys.path via conftest)
import make_corpus as corpus  # noqa: E402

#: Seconds one fuzzed command may take (the corpus allows 20; these are all tiny).
FUZZ_TIME_LIMIT_S = 10.0
FUZZ_BASES = ["bits", "bits_range", "rician", "mimo", "coded", "codec", "text", "images"]
#: The corpus's bases, plus one with a start/stop/step sweep and a figure limit.
BASES = dict(corpus.BASES)
BASES["bits_range"] = {**copy.deepcopy(corpus.BITS), "name": "tiny_range",
                       "sweep": {"parameter": "snr_db", "start": 0, "stop": 4, "step": 2},
                       "figures": [{"file": "r.pdf", "y": "ber", "scale": "log", "ylim": [1.0e-4, 1]}]}

NAN, INF = float("nan"), float("inf")
NASTY: List[Any] = [
    0, -1, 1, 3, 2**31, 2**63, -(2**63) - 1, 10**12, -(10**12), 10**100,
    0.0, -0.0, 0.5, 1.5, 1e-300, 5e-324, 1e308, -1e308, NAN, INF, -INF,
    True, False, None, "", " ", "x" * 10000, "auto", "none", "snr_db", "bandwidth_ratio", "ber", "psnr",
    "os:system", "builtins:print", "pickle:loads", "subprocess:run", "os:abort", "sys:exit",
    "corpus_sentinel:SentinelSystem", "toy_plugin:ToyCoin", "linksim.systems.bitlink:BitLink",
    "{0[0]}", "{:>2000000000}", "{:.2000000000f}", "{0.__class__}", "{}{}", "{:d}", "1/0", "1/3", "-1/0.0",
    "../x", "../../x.pdf", "/tmp/x.csv", "a/b.pdf", "x.pdf", "x.csv", "a\x00b", "\u202e", "log", "imperfect",
    [], {}, [[[]]], [NAN, 1], [1, 0], [0, 0], list(range(1500)), [1e308, -1e308],
    {"type": "os:system"}, {"type": "imperfect"}, {"type": "rician", "k_factor": NAN}, {"a": {"b": {"c": {}}}},
]
NASTY_KEYS: List[Any] = ["", "type", "quick", "training", "params", "__class__", "x" * 300, "0", 0, 1.5, True, None]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    harness.warm_up()


def _values() -> st.SearchStrategy:
    nasty = st.sampled_from(NASTY)
    return st.one_of(  # the nasty set three times: it is drawn about half the time
        nasty, nasty, nasty,
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        st.lists(st.one_of(st.integers(-5, 5), st.floats()), max_size=4),
        st.dictionaries(st.sampled_from(["type", "k", "a", "nt", "batch_size"]), st.integers(-3, 10**6), max_size=3),
    )


def _paths(tree: Any, prefix: Tuple = ()) -> List[Tuple]:
    out = []
    if isinstance(tree, dict):
        items = list(tree.items())
    elif isinstance(tree, list):
        items = list(enumerate(tree))
    else:
        return out
    for key, value in items:
        out.append(prefix + (key,))
        out.extend(_paths(value, prefix + (key,)))
    return out


def _get(tree: Any, path: Tuple) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def mutated(draw, base: Any, *, json_keys: bool = False) -> Any:  # noqa: ANN001
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "rename"]))
        if action == "replace":
            parent[key] = draw(_values())
        elif action == "delete":
            del parent[key]
        elif action == "add":
            if isinstance(parent, list):
                parent.append(draw(_values()))
            else:
                new = draw(st.sampled_from([k for k in NASTY_KEYS if isinstance(k, str)] if json_keys else NASTY_KEYS))
                parent[new] = draw(_values())
        elif isinstance(parent, dict):
            keys = [k for k in NASTY_KEYS if isinstance(k, str)] if json_keys else NASTY_KEYS
            new = draw(st.sampled_from(keys))
            parent[new] = parent.pop(key)
        else:
            parent[key] = draw(_values())
    return data


def _check(outcome: "harness.Outcome", name: str) -> None:
    problems = []
    if outcome.escaped is not None:
        problems.append(f"an exception escaped main(): {outcome.escaped}")
    if outcome.rc not in (0, 2):
        problems.append(f"exit code {outcome.rc}")
    if "Traceback" in outcome.err or "Traceback" in outcome.out:
        problems.append("a traceback was printed")
    if outcome.rc == 2:
        problems += harness.judge(outcome, [name], limit_s=FUZZ_TIME_LIMIT_S)
    elif outcome.elapsed_s > FUZZ_TIME_LIMIT_S:
        problems.append(f"took {outcome.elapsed_s:.1f} s")
    assert not problems, "; ".join(problems) + f"\n  {outcome.describe()}"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("LINKSIM_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(harness.SENTINEL_DIR))
    return tmp_path


_SCENARIO_SETTINGS = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])


@_SCENARIO_SETTINGS
@given(data=st.sampled_from(FUZZ_BASES).flatmap(lambda name: mutated(BASES[name])))
def test_fuzzed_scenario_is_accepted_or_rejected_cleanly(data: Any, workdir: Path) -> None:
    path = workdir / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    os.environ.pop(harness.SENTINEL_ENV, None)
    _check(harness.invoke(["validate", str(path)], limit_s=FUZZ_TIME_LIMIT_S), path.name)
    assert not list((workdir / "cwd").iterdir()), "validate wrote into the working directory"
    assert not os.environ.get(harness.SENTINEL_ENV), "validate imported corpus_sentinel, a module no one allowed"


@pytest.fixture(scope="module")
def valid_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real results.json of the tiny ``ok.yaml`` scenario (quick run)."""
    root = tmp_path_factory.mktemp("fuzz_results_base")
    outcome = harness.invoke(["run", str(CORPUS / "ok.yaml"), "--quick", "--out", str(root / "out"),
                              "--plots", str(root / "plots"), "--cache", str(root / "cache"), "--no-progress"],
                             limit_s=120)
    assert outcome.rc == 0, outcome.describe()
    return json.loads((root / "out" / "results.json").read_text())


def _json_safe(tree: Any) -> Any:
    """JSON has no non-string keys: make them strings (as json.dumps would)."""
    if isinstance(tree, dict):
        return {str(k) if not isinstance(k, str) else k: _json_safe(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_json_safe(v) for v in tree]
    return tree


_RESULTS_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])


@_RESULTS_SETTINGS
@given(data=st.data())
def test_fuzzed_results_file_is_plotted_or_rejected_cleanly(data: st.DataObject, valid_results: dict,
                                                            workdir: Path) -> None:
    payload = _json_safe(data.draw(mutated(valid_results, json_keys=True)))
    runs = workdir / "runs"
    runs.mkdir(exist_ok=True)
    path = runs / "results.json"
    path.write_text(json.dumps(payload))
    plots = workdir / "plots"
    if plots.exists():
        for p in plots.iterdir():
            p.unlink()
    before = sorted(p.name for p in workdir.iterdir())
    _check(harness.invoke(["plot", str(path), "--plots", str(plots)], limit_s=FUZZ_TIME_LIMIT_S), path.name)
    after = sorted(p.name for p in workdir.iterdir())
    assert set(after) <= set(before) | {"plots"}, f"plot wrote outside --plots: {sorted(set(after) - set(before))}"
    assert sorted(p.name for p in runs.iterdir()) == ["results.json"], "plot wrote beside the results file"
    assert not list((workdir / "cwd").iterdir()), "plot wrote into the working directory"


def test_nasty_values_are_yaml() -> None:
    """Every nasty value survives a YAML round trip (so the fuzz exercises linksim, not the dumper)."""
    for value in NASTY:
        text = yaml.safe_dump({"v": value})
        assert yaml.safe_dump(yaml.safe_load(text)) == text, value

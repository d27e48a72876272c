"""Issue 16: the bad-input corpus of tests/bad_inputs/.

Every bad input must give exit code 2 and exactly one stderr line,
``linksim: error: <message>``, without a traceback, naming the field at fault (and, for
a scenario file, the file and a line number), before any training or simulation, and
without writing anything outside the ``--out``/``--plots``/``--cache`` folders given.

* ``bad_inputs/scenarios/*.yaml``: one bad scenario each, first line
  ``# field: <text the message must contain>`` (see ``bad_inputs/make_corpus.py``, which
  writes them). Each goes through ``linksim validate`` and ``linksim run --quick``.
* ``bad_inputs/results/``: bad results files for ``linksim plot`` (``manifest.yaml``).
* ``bad_inputs/cli.yaml``: bad command lines.
* Files too big to commit (over 1 MiB, 50 MB) are written at test time.

A scenario that ``validate`` accepts is not run: the failure already says it was
accepted, and running it could hang or exhaust memory. Each command is bounded in time
and address space (``bad_inputs/harness.py``), so a missing check fails its case instead
of the whole session.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import yaml

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
REPO = CORPUS.parents[1]

import harness  # noqa: E402  (tests/bad_inputs, on sys.path via conftest)

SCENARIO_FILES = sorted((CORPUS / "scenarios").glob("*.yaml"))
RESULT_CASES: List[Dict[str, str]] = yaml.safe_load((CORPUS / "results" / "manifest.yaml").read_text())
CLI_CASES: List[Dict] = yaml.safe_load((CORPUS / "cli.yaml").read_text())
MIN_SCENARIO_CASES = 220


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    harness.warm_up()


read_header = harness.read_header


def write_foreign_results(path: Path) -> None:
    """The results of a scenario other than ok.yaml (resuming into its folder must be refused)."""
    payload = json.loads((CORPUS / "results" / "valid_base.json").read_text())
    payload["scenario"]["name"] = "another_scenario"
    payload["scenario"]["seed"] = 99
    payload["scenario_hash"] = payload["provenance"]["scenario_hash"] = "0123456789abcdef-quick"
    path.write_text(json.dumps(payload, indent=1))


class Sandbox:
    """Temporary cwd, output folders and placeholder files; checks nothing leaks."""

    NAMES = ("cwd", "out", "plots", "cache", "tmp", "foreign", "file.txt")

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        for name in ("cwd", "out", "plots", "cache", "tmp", "foreign"):
            (root / name).mkdir()
        (root / "file.txt").write_text("not a scenario, not a folder\n")
        os.symlink("loop", root / "tmp" / "loop")  # a link to itself
        write_foreign_results(root / "foreign" / "results.json")
        monkeypatch.chdir(root / "cwd")
        monkeypatch.delenv("LINKSIM_PLUGINS", raising=False)
        monkeypatch.delenv(harness.SENTINEL_ENV, raising=False)
        monkeypatch.syspath_prepend(str(harness.SENTINEL_DIR))
        sys.modules.pop("corpus_sentinel", None)
        self.watched = [REPO / "plots", REPO / "runs", REPO / ".linksim-cache", Path.home() / ".cache" / "linksim"]
        if os.environ.get("LINKSIM_CACHE"):
            self.watched.append(Path(os.environ["LINKSIM_CACHE"]))
        self.before = {p: harness.snapshot(p) for p in self.watched}
        self.corpus_dirs = harness.dir_snapshot(CORPUS)  # nothing may appear beside the inputs
        self.fixed = {n: harness.snapshot(root / n) for n in ("foreign", "file.txt")}

    def expand(self, text: str) -> str:
        return (text.replace("{ok}", str(CORPUS / "ok.yaml")).replace("{file}", str(self.root / "file.txt"))
                .replace("{tmp}", str(self.root / "tmp")).replace("{foreign}", str(self.root / "foreign")))

    def problems(self) -> List[str]:
        out = []
        extra = sorted(p.name for p in self.root.iterdir() if p.name not in self.NAMES)
        if extra:
            out.append(f"wrote outside the given folders: {extra} beside them")
        cwd = sorted(p.name for p in (self.root / "cwd").iterdir())
        if cwd:
            out.append(f"wrote into the working directory: {cwd}")
        for name, snap in self.fixed.items():
            if harness.snapshot(self.root / name) != snap:
                out.append(f"changed {name} (an input, not an output folder)")
        for folder in (self.root / "out", self.root / "tmp" / "out"):
            made = [p.name for p in folder.glob("results.*")] if folder.is_dir() else []
            if made:
                out.append(f"simulated before rejecting: {folder.name}/ has {made}")
        for folder in (self.root / "plots", self.root / "tmp" / "plots"):
            made = sorted(p.name for p in folder.iterdir() if p.suffix in (".pdf", ".csv", ".md")) if folder.is_dir() else []
            if made:
                out.append(f"drew outputs for a bad input: {made}")
        for path, snap in self.before.items():
            now = harness.snapshot(path)
            if now != snap:
                changed = sorted(set(now.items()) ^ set(snap.items()))[:5]
                out.append(f"changed {path}: {changed}")
        if harness.dir_snapshot(CORPUS) != self.corpus_dirs:
            out.append(f"created or removed files under {CORPUS} (beside the inputs)")
        if os.environ.get(harness.SENTINEL_ENV):
            out.append("imported corpus_sentinel, a module no one allowed")
        return out


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return Sandbox(tmp_path, monkeypatch)


def _report(label: str, outcome: "harness.Outcome", problems: List[str]) -> str:
    return f"{label}: " + "; ".join(problems) + f"\n    {outcome.describe()}"


def _scenario_case(path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                   head: Optional[Dict[str, str]] = None) -> None:
    head = head if head is not None else read_header(path)
    assert head.get("field"), f"{path.name}: first line must be '# field: ...'"
    if head.get("env"):
        name, _, value = head["env"].partition("=")
        monkeypatch.setenv(name.strip(), value.strip())
    needles = [head["field"], path.name]
    line_of = None if head.get("line") == "none" else path.name
    failures = []
    validate = harness.invoke(["validate", str(path)])
    problems = harness.judge(validate, needles, line_of=line_of)
    if problems:
        failures.append(_report("validate", validate, problems))
    if validate.rc == 2 and validate.escaped is None:
        r = sandbox.root
        run = harness.invoke(["run", str(path), "--quick", "--out", str(r / "out"), "--plots", str(r / "plots"),
                              "--cache", str(r / "cache"), "--no-progress"])
        problems = harness.judge(run, needles, line_of=line_of)
        if problems:
            failures.append(_report("run --quick", run, problems))
    else:
        failures.append("run --quick: not tried (validate did not reject the input)")
    leaks = sandbox.problems()
    if leaks:
        failures.append("files: " + "; ".join(leaks))
    assert not failures, f"{path.name} ({head.get('why', '')}):\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_bad_scenario(path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _scenario_case(path, sandbox, monkeypatch)


def _big_scenario(path: Path, size: int) -> None:
    """The valid tiny scenario plus a description that makes the file ``size`` bytes."""
    body = (CORPUS / "ok.yaml").read_text()
    head = "# field: .yaml\n# why: a scenario file over the size limit\n# line: none\n"
    pad = size - len(head) - len(body) - len('description: ""\n')
    path.write_text(head + body + 'description: "' + "x" * max(pad, 0) + '"\n')


@pytest.mark.parametrize("size", [1024**2 + 4096, 50 * 1000**2], ids=["1MiB", "50MB"])
def test_oversized_scenario(size: int, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("big") / f"big_{size}.yaml"
    _big_scenario(path, size)
    _scenario_case(path, sandbox, monkeypatch)


@pytest.mark.parametrize("entry", RESULT_CASES, ids=[Path(e["file"]).stem for e in RESULT_CASES])
def test_bad_results_file(entry: Dict[str, str], sandbox: Sandbox) -> None:
    path = CORPUS / "results" / entry["file"]
    outcome = harness.invoke(["plot", str(path), "--plots", str(sandbox.root / "plots")])
    failures = []
    problems = harness.judge(outcome, [entry["field"], path.name])
    if problems:
        failures.append(_report("plot", outcome, problems))
    leaks = sandbox.problems()
    if leaks:
        failures.append("files: " + "; ".join(leaks))
    assert not failures, f"{path.name} ({entry['why']}):\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("case", CLI_CASES, ids=[f"{i:02d}_" + re.sub(r"\W+", "_", c["why"])[:40].strip("_")
                                                 for i, c in enumerate(CLI_CASES)])
def test_bad_command_line(case: Dict, sandbox: Sandbox) -> None:
    args = [sandbox.expand(a) for a in case["args"]]
    if case.get("isolate"):
        outcome = harness.invoke_subprocess(args, cwd=sandbox.root / "cwd", env=dict(os.environ))
    else:
        outcome = harness.invoke(args)
    failures = []
    problems = harness.judge(outcome, [sandbox.expand(case["field"])])
    if problems:
        failures.append(_report(" ".join(case["args"]), outcome, problems))
    leaks = sandbox.problems()
    if leaks:
        failures.append("files: " + "; ".join(leaks))
    assert not failures, f"{case['why']}:\n  " + "\n  ".join(failures)


def test_corpus_is_complete() -> None:
    """The corpus is all there, every case names its field, and the files are make_corpus.py's output."""
    assert len(SCENARIO_FILES) >= MIN_SCENARIO_CASES
    for path in SCENARIO_FILES:
        assert read_header(path).get("field"), f"{path.name}: no '# field:' first line"
    listed = {e["file"] for e in RESULT_CASES}
    on_disk = {p.name for p in (CORPUS / "results").glob("*.json")} - {"valid_base.json"}
    assert listed == on_disk
    assert len(RESULT_CASES) >= 30 and len(CLI_CASES) >= 20
    import make_corpus as maker
    assert maker.main(["--check"]) == 0, "tests/bad_inputs differs from make_corpus.py's output; rerun it"

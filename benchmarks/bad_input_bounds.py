"""Worst-case time and memory of linksim on bad input: the corpus of tests/bad_inputs/.

For every case of the corpus (scenarios through ``validate`` and ``run --quick``, results
files through ``plot``, bad command lines), one child process forked from a warmed-up
parent (linksim and its components already imported) runs the command in-process
(``linksim.cli.main``) in an empty temporary folder. The parent records

* the exit code and whether the output met the contract (exit 2, one ``linksim: error:``
  line naming the field, no traceback; ``tests/bad_inputs/harness.py`` judges it);
* the wall time of the command;
* the child's peak resident memory above that of an idle child forked at the same
  moment (``ru_maxrss`` of both): what the bad input itself cost.

Each child is killed after ``--limit`` seconds (counted as a failure). Run::

    python benchmarks/bad_input_bounds.py                 # whole corpus, about 2 minutes on 2 cores
    python benchmarks/bad_input_bounds.py --json out.json # also every case
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "bad_inputs"


def _idle_child_maxrss_kib() -> int:
    """Peak resident memory of a child that does nothing (the baseline of a measurement)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return os.wait4(pid, 0)[2].ru_maxrss


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


sys.path[:0] = [str(CORPUS), str(CORPUS / "sentinel"), str(CORPUS.parent / "plugins")]
import harness  # noqa: E402  (tests/bad_inputs/harness.py: runs and judges one command)


def cases(work: Path) -> List[Dict[str, Any]]:
    """Every command of the corpus: ``{name, argv, needles, env}``."""
    import yaml

    out: List[Dict[str, Any]] = []
    big = work / "big.yaml"
    big.write_bytes(b"name: x\ndescription: '" + b"a" * (50 << 20) + b"'\n")
    files = [(p, harness.read_header(p)) for p in sorted((CORPUS / "scenarios").glob("*.yaml"))]
    files.append((big, {"field": "big.yaml"}))
    for path, head in files:
        env = dict([head["env"].split("=", 1)]) if "env" in head else {}
        for command in (["validate", str(path)],
                        ["run", str(path), "--quick", "--no-progress", "--out", "{work}/out", "--plots",
                         "{work}/plots", "--cache", "{work}/cache"]):
            out.append({"name": f"{command[0]} {path.name}", "argv": command,
                        "needles": [head["field"], path.name], "env": env})
    for entry in yaml.safe_load((CORPUS / "results" / "manifest.yaml").read_text()):
        path = CORPUS / "results" / entry["file"]
        out.append({"name": f"plot {path.name}", "argv": ["plot", str(path), "--plots", "{work}/plots"],
                    "needles": [entry["field"]], "env": {}})
    for i, entry in enumerate(yaml.safe_load((CORPUS / "cli.yaml").read_text())):
        if entry.get("isolate"):
            continue  # may kill the process that handles it: the tests run these in a subprocess
        out.append({"name": f"cli {i:02d} {entry['why']}", "argv": entry["args"], "needles": [entry["field"]],
                    "env": {}})
    return out


def _expand(argv: Sequence[str], work: Path, ok: Path, a_file: Path) -> List[str]:
    return [a.replace("{work}", str(work)).replace("{ok}", str(ok)).replace("{file}", str(a_file))
            .replace("{tmp}", str(work / "tmp")).replace("{foreign}", str(work / "foreign")) for a in argv]


def measure(case: Dict[str, Any], limit_s: float) -> Dict[str, Any]:
    """Run one case in a forked child; its outcome, time and peak memory above the parent."""
    work = Path(tempfile.mkdtemp(prefix="linksim-bad-"))
    for name in ("cwd", "tmp", "foreign"):
        (work / name).mkdir()
    a_file = work / "file.txt"
    a_file.write_text("not a folder\n")
    os.symlink("loop", work / "tmp" / "loop")  # a link to itself
    foreign = json.loads((CORPUS / "results" / "valid_base.json").read_text())  # another scenario's results
    foreign["scenario"].update(name="another_scenario", seed=99)
    foreign["scenario_hash"] = "0123456789abcdef-quick"
    (work / "foreign" / "results.json").write_text(json.dumps(foreign))
    argv = _expand(case["argv"], work, CORPUS / "ok.yaml", a_file)
    needles = _expand(case["needles"], work, CORPUS / "ok.yaml", a_file)
    baseline = _idle_child_maxrss_kib()
    read_end, write_end = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: run the command, send the verdict, exit without cleanup handlers
        os.close(read_end)
        os.chdir(work / "cwd")
        os.environ.update(case["env"])
        outcome = harness.invoke(argv, limit_s=limit_s)
        problems = harness.judge(outcome, needles, limit_s=limit_s)
        os.write(write_end, json.dumps({"rc": outcome.rc, "problems": problems,
                                        "elapsed_s": outcome.elapsed_s}).encode())
        os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], limit_s + 10)
    data = b""
    if ready:
        while chunk := os.read(read_end, 1 << 16):
            data += chunk
    else:
        os.kill(pid, 9)
    os.close(read_end)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    verdict = json.loads(data) if data else {"rc": None, "problems": [f"killed (status {status})"],
                                             "elapsed_s": wall}
    return {"name": case["name"], **verdict, "peak_above_idle_mib": max(0, usage.ru_maxrss - baseline) / 1024}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=float, default=20.0, help="seconds per command (default 20)")
    parser.add_argument("--json", type=Path, default=None, help="write every case to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    harness.warm_up()
    import torch

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="linksim-bad-corpus-"))
    rows = [measure(case, args.limit) for case in cases(work)]
    failed = [r for r in rows if r["problems"]]
    slowest = max(rows, key=lambda r: r["elapsed_s"])
    largest = max(rows, key=lambda r: r["peak_above_idle_mib"])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; parent resident memory {_rss_kib() / 1024:.0f} MiB")
    print(f"commands: {len(rows)}; met the contract: {len(rows) - len(failed)} "
          f"({100 * (len(rows) - len(failed)) / len(rows):.1f} %)")
    print(f"worst time:   {slowest['elapsed_s']:.2f} s ({slowest['name']})")
    print(f"worst memory: {largest['peak_above_idle_mib']:.1f} MiB above an idle child ({largest['name']})")
    times = sorted(r["elapsed_s"] for r in rows)
    print(f"median time:  {times[len(times) // 2]:.3f} s")
    for row in failed:
        print(f"FAILED {row['name']}: {'; '.join(row['problems'])}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

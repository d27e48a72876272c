#!/usr/bin/env python3
"""Helper of ``benchmarks/gpu_check.sh`` (GPU readiness check); see that script's header.

Subcommands (standard library only, except ``env`` and ``smoke``, which need linksim's
dependencies):

* ``wheels``: the ``NAME==VERSION`` list of the wheels to carry (``--set lean``: what the
  H200 machines' image lacks, :data:`LEAN_PACKAGES`; ``--set full``: what any machine with
  only torch lacks, :data:`WHEEL_PACKAGES`), versions from ``constraints.txt``, one per line;
* ``deps``: every package of :data:`WHEEL_PACKAGES`: version, where it is imported from,
  and whether it imports (exit 1 if one does not);
* ``env``: versions, the device, and a direct check that tensors land on it (a torch op,
  Sionna blocks, a Keras layer on the torch backend, and one in-process linksim run whose
  peak CUDA memory must be > 0);
* ``smoke``: ``linksim run --quick`` of one shipped scenario per family (plus any needed so
  that every registered system kind is run), in parallel, each under a timeout; every
  run's ``results.json`` must record the requested device;
* ``table``: a results CSV as a Markdown table (sweep value x system, one metric);
* ``report``: the Markdown report from the step records and the files the steps wrote.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"

#: What a machine with torch (and its own dependencies: filelock, fsspec, jinja2,
#: markupsafe, networkx, sympy, mpmath, setuptools, typing-extensions) lacks to run
#: linksim: sionna-no-rt and keras with their requirements, and linksim's other
#: install_requires (setup.cfg) with theirs. typing-extensions is a torch dependency but is
#: listed anyway: pydantic needs a newer one than some torch installs carry (pure Python,
#: it only shadows the machine's copy on PYTHONPATH). numpy is not a torch requirement.
WHEEL_PACKAGES: Tuple[str, ...] = (
    # sionna-no-rt: h5py, importlib-resources, matplotlib, numpy, scipy (, torch)
    "sionna-no-rt", "h5py", "importlib-resources", "numpy", "scipy",
    # keras: absl-py, h5py, ml-dtypes, namex, numpy, optree, packaging, rich
    "keras", "absl-py", "ml-dtypes", "namex", "optree", "packaging",
    "rich", "markdown-it-py", "mdurl", "pygments",
    # matplotlib and its requirements
    "matplotlib", "contourpy", "cycler", "fonttools", "kiwisolver", "pillow", "pyparsing",
    "python-dateutil", "six",
    # linksim's other install_requires
    "pyyaml", "pydantic", "pydantic-core", "annotated-types", "typing-inspection",
    "typing-extensions", "tqdm", "pillow-heif",
    "scikit-image", "imageio", "lazy-loader", "tifffile",
)

#: The part of WHEEL_PACKAGES that the H200 machines' image lacks (its package list, read
#: 2026-11-17, has torch 2.11, numpy, scipy, matplotlib, h5py, pyyaml, pillow, rich,
#: absl-py, ml-dtypes, scikit-image, tqdm, typing-extensions... but no sionna, keras or
#: pydantic): about 12 MB of wheels instead of 107 MB (the device's working-tree limit is
#: 64 MiB). typing-extensions is carried for pydantic's >= 4.14.1.
LEAN_PACKAGES: Tuple[str, ...] = (
    "sionna-no-rt", "importlib-resources", "keras", "namex", "optree",
    "pydantic", "pydantic-core", "annotated-types", "typing-inspection", "typing-extensions",
    "pillow-heif",
)

#: Import name of each package (where it differs from the distribution name).
MODULES = {
    "sionna-no-rt": "sionna", "importlib-resources": "importlib_resources", "absl-py": "absl",
    "ml-dtypes": "ml_dtypes", "markdown-it-py": "markdown_it", "fonttools": "fontTools",
    "pillow": "PIL", "python-dateutil": "dateutil", "pyyaml": "yaml", "pydantic-core": "pydantic_core",
    "annotated-types": "annotated_types", "typing-inspection": "typing_inspection",
    "typing-extensions": "typing_extensions", "pillow-heif": "pillow_heif", "scikit-image": "skimage",
    "lazy-loader": "lazy_loader",
}

#: One scenario per family (the file name up to its first "_"): cheap, and with data that
#: ships with linksim (no download). A family not listed here gets its first scenario.
PREFERRED = {
    "ber": "ber_qam_awgn", "codec": "codec_rate_quality", "ldpc": "ldpc_awgn",
    "memdeepsc": "memdeepsc_awgn", "mimo": "mimo_8x4", "mvqvae": "mvqvae_snr",
    "scu": "scu_snr_awgn", "semcc": "semcc_awgn_20db", "turbo": "turbo_rician",
}
#: Data sets that would need a download: scenarios using them are not picked.
DOWNLOADED_DATA = {"fashion_mnist", "cifar10", "cifar100", "mnist", "official"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- wheels


def cmd_wheels(args: argparse.Namespace) -> int:
    pins: Dict[str, str] = {}
    for line in Path(args.constraints).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[norm(name)] = version.strip()
    packages = LEAN_PACKAGES if args.set == "lean" else WHEEL_PACKAGES
    missing = [p for p in packages if norm(p) not in pins]
    if missing:
        print(f"gpu_check: not pinned in {args.constraints}: {' '.join(missing)}", file=sys.stderr)
        return 1
    for p in packages:
        print(f"{p}=={pins[norm(p)]}")
    return 0


def cmd_deps(args: argparse.Namespace) -> int:
    import importlib
    from importlib import metadata

    os.environ["KERAS_BACKEND"] = "torch"
    bad = []
    for dist in ("torch",) + WHEEL_PACKAGES:
        module = MODULES.get(dist, dist)
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "?"
        try:
            path = Path(importlib.import_module(module).__file__ or "?")
            where = str(path.parent.parent if path.name == "__init__.py" else path.parent)
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - report every one
            where, status = f"{type(exc).__name__}: {exc}"[:120], "MISSING"
            bad.append(dist)
        print(f"  {status:<7} {dist:<20} {version:<14} {where}")
    if bad:
        print(f"  not importable: {' '.join(bad)} (add their wheels: gpu_check.sh --download-wheels "
              f"--wheel-set full, or pip download NAME==VERSION from constraints.txt)")
    return 1 if bad else 0


# --------------------------------------------------------------------------- env


def cmd_env(args: argparse.Namespace) -> int:
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ.setdefault("MPLBACKEND", "Agg")
    info: Dict[str, Any] = {"requested_device": args.device, "python": sys.version.split()[0],
                            "checks": {}}
    ok = True

    def check(name: str, passed: bool, detail: str) -> None:
        nonlocal ok
        ok = ok and passed
        info["checks"][name] = {"passed": bool(passed), "detail": detail}
        print(f"  [{'ok' if passed else 'FAIL'}] {name}: {detail}")

    import torch

    if args.device == "cpu":
        torch.set_num_threads(1)  # dry run on a shared machine
    info["torch"] = torch.__version__
    info["torch_file"] = torch.__file__
    info["torch_cuda"] = torch.version.cuda
    info["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        info["cuda_device_count"] = torch.cuda.device_count()
        info["cuda_device_name"] = torch.cuda.get_device_name(0)
        info["cuda_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        info["cudnn"] = torch.backends.cudnn.version()
    for mod in ("sionna", "keras", "numpy", "scipy", "matplotlib", "pydantic", "yaml", "h5py"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "?")
            info[mod + "_file"] = getattr(m, "__file__", "?")
        except Exception as exc:  # noqa: BLE001 - report, keep going
            info[mod] = f"import failed: {type(exc).__name__}: {exc}"
            ok = False
    print("  " + ", ".join(f"{k} {info[k]}" for k in ("python", "torch", "sionna", "keras", "numpy")))
    print(f"  torch from {info['torch_file']}")

    want = "cuda" if args.device == "cuda" else "cpu"
    try:
        import linksim
        from linksim.runner import resolve_device, use_device

        info["linksim_file"] = linksim.__file__
        dev = resolve_device(args.device)
        use_device(dev)
        check("resolve_device", dev.startswith(want), f"{args.device} -> {dev}")

        a = torch.randn(256, 256, device=dev)
        b = (a @ a).sum()
        check("torch matmul", b.device.type == want, f"result on {b.device}")

        from sionna.phy.channel import AWGN
        from sionna.phy.mapping import BinarySource, Mapper

        bits = BinarySource()([64, 128])
        x = Mapper("qam", 4)(bits)
        y = AWGN()(x, 0.1)
        check("sionna blocks", bits.device.type == want and y.device.type == want,
              f"BinarySource -> {bits.device}, Mapper+AWGN -> {y.device} (sionna.phy.config.device = "
              f"{__import__('sionna').phy.config.device})")

        import keras

        layer = keras.layers.Dense(8)
        out = layer(keras.ops.ones((4, 16)))
        kernel = layer.kernel.value if hasattr(layer.kernel, "value") else layer.kernel
        check("keras layer", keras.backend.backend() == "torch" and out.device.type == want
              and kernel.device.type == want,
              f"backend {keras.backend.backend()}, output on {out.device}, kernel on {kernel.device}")

        # One real linksim run in this process: its tensors must go through the device.
        from linksim.runner import run_scenario
        from linksim.scenario import load_scenario

        if want == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        scen = load_scenario(SCENARIOS / "ldpc_awgn.yaml")
        result = run_scenario(scen, out=Path(args.out) / "env_run", device=args.device, fresh=True,
                              quick=True, progress=False)
        wall = time.perf_counter() - t0
        del result
        recorded = json.loads((Path(args.out) / "env_run" / "results.json").read_text())["provenance"]
        detail = f"ldpc_awgn --quick in {wall:.1f} s, results.json device {recorded.get('device')!r}"
        passed = str(recorded.get("device", "")).startswith(want)
        if want == "cuda":
            peak = torch.cuda.max_memory_allocated()
            info["linksim_run_peak_cuda_bytes"] = peak
            detail += f", peak CUDA memory {peak / 2**20:.1f} MiB"
            passed = passed and peak > 0
        check("linksim run on device", passed, detail)
    except Exception as exc:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        check("exception", False, f"{type(exc).__name__}: {exc}")
    info["passed"] = ok
    Path(args.json).write_text(json.dumps(info, indent=1, default=str) + "\n", encoding="utf-8")
    return 0 if ok else 1


# --------------------------------------------------------------------------- smoke


def registered_systems(python: str) -> List[str]:
    out = subprocess.run([python, "-m", "linksim", "list", "systems"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return [m.group(1) for m in re.finditer(r"^  (\S+)\s", out, flags=re.M)]


def scenario_info(path: Path) -> Tuple[List[str], Optional[str]]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    types = sorted({s.get("type") for s in data.get("systems", []) if isinstance(s, dict) and s.get("type")})
    source = (data.get("data") or {}).get("source") if isinstance(data.get("data"), dict) else None
    return types, source


def smoke_plan(systems: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(scenario names to run, registered systems no usable scenario covers)."""
    infos = {p.stem: scenario_info(p) for p in sorted(SCENARIOS.glob("*.yaml"))}
    usable = [n for n, (_, src) in infos.items() if src not in DOWNLOADED_DATA]
    picks: List[str] = []
    for family in sorted({n.split("_", 1)[0] for n in infos}):
        want = PREFERRED.get(family)
        members = [n for n in usable if n.split("_", 1)[0] == family]
        pick = want if want in members else (members[0] if members else None)
        if pick:
            picks.append(pick)
    covered = {t for n in picks for t in infos[n][0]}
    for system in systems:
        if system in covered:
            continue
        extra = next((n for n in usable if system in infos[n][0]), None)
        if extra:
            picks.append(extra)
            covered.update(infos[extra][0])
    return picks, [s for s in systems if s not in covered]


_LIVE: Dict[int, subprocess.Popen] = {}  # running smoke runs, by pid (each its own process group)


def _kill_live(signum: int, frame: Any) -> None:
    """On SIGTERM/SIGINT (the step's timeout), take the runs' process groups down too."""
    for pid in list(_LIVE):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(128 + signum)


def run_one(name: str, args: argparse.Namespace) -> Dict[str, Any]:
    out_dir = Path(args.out) / name
    cmd = [args.python, "-m", "linksim", "run", str(SCENARIOS / f"{name}.yaml"), "--quick", "--device",
           args.device, "--out", str(out_dir), "--fresh", "--no-progress"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    log_path = Path(args.out) / f"{name}.log"
    rec: Dict[str, Any] = {"scenario": name, "command": shlex.join(cmd), "log": str(log_path)}
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _LIVE[proc.pid] = proc
        try:
            rc = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = "timeout"
        finally:
            _LIVE.pop(proc.pid, None)
    rec["wall_s"] = round(time.perf_counter() - t0, 1)
    rec["rc"] = rc
    problem = "" if rc == 0 else (f"timed out after {args.timeout} s" if rc == "timeout" else f"exit {rc}")
    try:
        prov = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))["provenance"]
        rec["device"] = prov.get("device")
        rec["device_name"] = prov.get("device_name")
        rec["elapsed_s"] = prov.get("elapsed_s")
        if not problem and not str(prov.get("device", "")).startswith(args.device):
            problem = f"results.json says device {prov.get('device')!r}, not {args.device}"
    except (OSError, ValueError, KeyError) as exc:
        rec["device"] = None
        problem = problem or f"no readable results.json ({type(exc).__name__})"
    if problem:
        try:
            tail = Path(log_path).read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            rec["log_tail"] = tail
        except OSError:
            pass
    rec["passed"] = not problem
    rec["problem"] = problem
    print(f"  [{'ok' if not problem else 'FAIL'}] {name}: {rec['wall_s']} s, device {rec.get('device')}"
          + (f" -- {problem}" if problem else ""), flush=True)
    return rec


def cmd_smoke(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _kill_live)
    signal.signal(signal.SIGINT, _kill_live)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    systems = registered_systems(args.python)
    names, uncovered = smoke_plan(systems)
    if args.only:
        names = [n for n in names if n in args.only]
    covered = sorted({t for n in names for t in scenario_info(SCENARIOS / f"{n}.yaml")[0]})
    print(f"  registered systems ({len(systems)}): {' '.join(systems)}")
    print(f"  scenarios ({len(names)}, {args.jobs} at a time, {args.timeout} s each): {' '.join(names)}",
          flush=True)
    if uncovered:
        print(f"  [FAIL] no usable shipped scenario runs: {' '.join(uncovered)}")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        records = list(pool.map(lambda n: run_one(n, args), names))
    passed = all(r["passed"] for r in records) and not uncovered
    summary = {"device": args.device, "systems": systems, "covered": covered, "uncovered": uncovered,
               "runs": records, "passed": passed}
    Path(args.json).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"  {sum(r['passed'] for r in records)}/{len(records)} runs passed; systems covered: "
          f"{len(set(covered) & set(systems))}/{len(systems)}")
    return 0 if passed else 1


# --------------------------------------------------------------------------- tables


def csv_table(path: Path, metric: str, digits: int = 3) -> str:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return "(empty results.csv)\n"
    sweep = next(iter(rows[0]))  # first column: the swept parameter
    rows = [r for r in rows if r.get("metric") == metric]
    if not rows:
        return f"(no '{metric}' rows in {path})\n"
    systems: List[str] = []
    for r in rows:
        if r["system"] not in systems:
            systems.append(r["system"])
    values: Dict[str, Dict[str, str]] = {}
    for r in rows:
        try:
            v = f"{float(r['value']):.{digits}f}"
        except ValueError:
            v = r["value"] or "-"
        values.setdefault(r[sweep], {})[r["system"]] = v
    lines = [f"| {sweep} | " + " | ".join(systems) + " |", "|---:|" + "---:|" * len(systems)]
    for x in sorted(values, key=lambda s: float(s) if re.fullmatch(r"-?[\d.e+-]+", s) else 0.0):
        lines.append(f"| {x} | " + " | ".join(values[x].get(s, "-") for s in systems) + " |")
    return "\n".join(lines) + "\n"


def cmd_table(args: argparse.Namespace) -> int:
    print(csv_table(Path(args.csv), args.metric), end="")
    return 0


# --------------------------------------------------------------------------- report


def read_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    steps = []
    for line in Path(args.steps).read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            steps.append((parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
    work = Path(args.work)
    env = read_json(out / "env.json") or {}
    smoke = read_json(out / "smoke.json") or {}
    L: List[str] = []
    verdict = "PASS" if steps and all(s[1] != "FAIL" for s in steps) else "FAIL"
    L += [f"# linksim GPU readiness check: {verdict}", ""]
    L += [f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %z')}; requested device: `{args.device}`"
          + (" (CPU dry run)" if args.device == "cpu" else ""),
          f"- host: {os.uname().nodename}, {os.cpu_count()} CPUs; total wall time {args.total} s"]
    gpu = work / "nvidia-smi.txt"
    if gpu.exists():
        L += ["- GPU (`nvidia-smi --query-gpu=name,memory.total --format=csv`):", "", "```",
              gpu.read_text(encoding="utf-8", errors="replace").strip(), "```", ""]
    if env:
        L.append(f"- python {env.get('python')}, torch {env.get('torch')} (CUDA {env.get('torch_cuda')}), "
                 f"sionna {env.get('sionna')}, keras {env.get('keras')}, numpy {env.get('numpy')}")
        if env.get("cuda_device_name"):
            L.append(f"- torch sees: {env.get('cuda_device_name')} (capability {env.get('cuda_capability')}, "
                     f"{env.get('cuda_device_count')} device(s), cuDNN {env.get('cudnn')})")
        L.append(f"- torch from `{env.get('torch_file')}`; sionna from `{env.get('sionna_file')}`; "
                 f"linksim from `{env.get('linksim_file')}`")
    L += ["", "## Steps", "", "| step | result | wall s | note |", "|---|---|---:|---|"]
    for name, status, secs, note in steps:
        L.append(f"| {name} | {status} | {secs} | {note.replace('|', '/')} |")
    if env.get("checks"):
        L += ["", "## Device checks (env step)", ""]
        for name, c in env["checks"].items():
            L.append(f"- {'ok' if c['passed'] else 'FAIL'} {name}: {c['detail']}")
    if smoke.get("runs"):
        L += ["", "## Smoke runs (`linksim run --quick`)", "",
              f"Registered systems: {', '.join(smoke.get('systems', []))}. "
              f"Not covered: {', '.join(smoke.get('uncovered', [])) or 'none'}.", "",
              "| scenario | result | wall s | recorded device | note |", "|---|---|---:|---|---|"]
        for r in smoke["runs"]:
            L.append(f"| {r['scenario']} | {'ok' if r['passed'] else 'FAIL'} | {r['wall_s']} | "
                     f"{r.get('device_name') or r.get('device')} | {r.get('problem', '')} |")
    elif any(st[0] == "smoke" for st in steps):
        L += ["", "## Smoke runs", "", "(no smoke.json: the step was cut short; see smoke.log and "
              "smoke/*.log in gpu_check_logs.tar.gz)"]
    L += ["", "## LDPC throughput (`benchmarks/ldpc_throughput.py`)", ""]
    ratio = None
    log = work / "ldpc.log"
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("ratio linksim/sim_ber:"):
                ratio = line.strip()
    L.append(f"`{ratio}`" if ratio else "(no ratio line: see ldpc.log)")
    L += ["", "## Headline: `scenarios/memdeepsc_rician.yaml`", ""]
    for name, status, secs, note in steps:
        if name.startswith("headline"):
            L.append(f"- {name}: {status}, {secs} s{(' (' + note + ')') if note else ''}")
    res = read_json(work / "headline" / "results.json")
    if res:
        prov = res.get("provenance", {})
        L.append(f"- results.json: device `{prov.get('device')}` ({prov.get('device_name')}), "
                 f"quick {prov.get('quick')}, simulation elapsed {prov.get('elapsed_s', 0):.1f} s")
    csv_path = work / "headline" / "results.csv"
    if csv_path.exists():
        L += ["", "Answer accuracy:", "", csv_table(csv_path, "accuracy").rstrip()]
    else:
        L.append("(no headline results.csv)")
    L.append("")
    Path(args.report).write_text("\n".join(L), encoding="utf-8")
    print(f"report: {args.report}")
    return 0


# --------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wheels")
    w.add_argument("--constraints", default=str(REPO / "constraints.txt"))
    w.add_argument("--set", choices=["lean", "full"], default="lean")
    sub.add_parser("deps")
    e = sub.add_parser("env")
    e.add_argument("--device", choices=["cuda", "cpu"], required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--json", required=True)
    s = sub.add_parser("smoke")
    s.add_argument("--device", choices=["cuda", "cpu"], required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--json", required=True)
    s.add_argument("--jobs", type=int, default=1)
    s.add_argument("--timeout", type=float, default=150)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--python", default=sys.executable)
    s.add_argument("--only", nargs="*", help="run only these of the planned scenarios")
    t = sub.add_parser("table")
    t.add_argument("csv")
    t.add_argument("--metric", default="accuracy")
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--steps", required=True)
    r.add_argument("--report", required=True)
    r.add_argument("--device", required=True)
    r.add_argument("--total", default="?")
    args = p.parse_args(argv)
    return {"wheels": cmd_wheels, "deps": cmd_deps, "env": cmd_env, "smoke": cmd_smoke, "table": cmd_table,
            "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())

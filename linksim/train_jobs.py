"""Train the learned systems of a scenario in parallel processes (``linksim train --jobs N``).

A scenario is split into *units*: one per system, or, for a system whose sweep
points are served by different models (one image transceiver per bandwidth ratio),
one per group of points from :meth:`~linksim.systems.base.System.training_groups`.
Each unit runs as its own ``linksim train SCENARIO --only LABEL --point I ...``
process with a few torch threads, at most ``jobs`` at a time; their output lines
are passed on prefixed with the unit's name. Units that need the same weights (the
shared downstream classifier, SemCC's stage-1 checkpoint) meet at
:meth:`~linksim.weights.WeightStore.claim`: one trains, the others wait and load.
The image systems seed every model from its weight key, never from the order of
training, so their weights equal those of a serial ``linksim train`` with the same
``--threads`` (reductions may round differently with another thread count). One
exception: SemCC systems that differ only in ``alpha2`` or fine-tuning settings share
one stage-1 checkpoint, and whichever trains it first decides it (see
:meth:`~linksim.systems.semcc.jscc.ImageJsccSystem.seed_key`). Mem-DeepSC's
shared semantic-codec checkpoint may be trained by more than one job (same seeds,
same result, saved atomically).

On a CPU, processes with one thread each use the cores far better than one process
with many threads (small convolutions do not parallelise well); on a GPU a few jobs
keep it busy while each unit spends time in Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, List, Optional, Sequence, Tuple

from .assembly import Runtime, build_system
from .scenario import Scenario
from .systems.base import System


@dataclass(frozen=True)
class TrainingUnit:
    """One process's work: system ``label``, set up for sweep points ``points`` (empty: all)."""

    label: str
    points: Tuple[int, ...] = ()

    @property
    def name(self) -> str:
        if not self.points:
            return self.label
        return f"{self.label} @{','.join(map(str, self.points))}"


def has_weights(system: System) -> bool:
    """Whether ``system`` can have trained weights (it overrides ``trained_weights``)."""
    return type(system).trained_weights is not System.trained_weights


def training_units(scenario: Scenario, runtime: Runtime, only: Optional[Sequence[str]] = None) -> List[TrainingUnit]:
    """The units of ``scenario``'s learned systems (those named in ``only``, if given)."""
    units: List[TrainingUnit] = []
    for index, spec in enumerate(scenario.systems):
        if only and spec.label not in only:
            continue
        system = build_system(scenario, index, runtime)
        if not has_weights(system):
            continue
        groups = system.training_groups()
        if len(groups) <= 1:
            units.append(TrainingUnit(spec.label))
        else:
            units += [TrainingUnit(spec.label, tuple(group)) for group in groups]
    return units


def unit_command(scenario_path: Path, unit: TrainingUnit, *, threads: int, quick: bool = False,
                 cache_dir: Optional[Path] = None, device: Optional[str] = None,
                 plugins: Sequence[str] = ()) -> List[str]:
    """The ``python -m linksim train ...`` command line of ``unit`` (with the user's ``--plugin`` modules)."""
    cmd = [sys.executable, "-m", "linksim", "train", str(scenario_path), "--only", unit.label,
           "--threads", str(threads)]
    for module in plugins:
        cmd += ["--plugin", module]
    for index in unit.points:
        cmd += ["--point", str(index)]
    if quick:
        cmd.append("--quick")
    if cache_dir is not None:
        cmd += ["--cache", str(cache_dir)]
    if device is not None:
        cmd += ["--device", device]
    return cmd


def run_parallel(commands: Sequence[Tuple[str, List[str]]], jobs: int, out: Optional[IO[str]] = None) -> List[str]:
    """Run ``(name, argv)`` commands, at most ``jobs`` at once; return the names of those that failed.

    Each output line (stdout and stderr merged) is written to ``out`` (default: standard
    output) as ``[name] line``. On an exception (e.g. Ctrl-C) the running processes are
    terminated.
    """
    out = out if out is not None else sys.stdout
    pending = list(commands)
    running: List[Tuple[str, subprocess.Popen, threading.Thread]] = []
    failed: List[str] = []
    write_lock = threading.Lock()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # keep a child's lines in order as they come

    def relay(name: str, stream: IO[str]) -> None:
        for line in stream:  # always drain the pipe, or the child blocks on a full one
            try:
                with write_lock:
                    out.write(f"[{name}] {line}")
                    out.flush()
            except (OSError, ValueError):  # e.g. our stdout closed: keep the child running
                pass

    def start(name: str, argv: List[str]) -> None:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                encoding="utf-8", errors="replace", env=env)
        reader = threading.Thread(target=relay, args=(name, proc.stdout), daemon=True)
        reader.start()
        running.append((name, proc, reader))

    try:
        while pending or running:
            while pending and len(running) < jobs:
                start(*pending.pop(0))
            finished = next((entry for entry in running if entry[1].poll() is not None), None)
            if finished is None:
                try:
                    running[0][1].wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
                continue
            name, proc, reader = finished
            reader.join(timeout=10)  # the pipe closes when the child exits (unless a grandchild holds it)
            running.remove(finished)
            if proc.returncode != 0:
                failed.append(name)
                try:
                    with write_lock:
                        out.write(f"[{name}] exited with code {proc.returncode}\n")
                        out.flush()
                except (OSError, ValueError):
                    pass
    finally:
        for _, proc, _ in running:  # interrupted: stop the children, then collect their last lines
            proc.terminate()
        for _, proc, reader in running:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            reader.join(timeout=5)
    return failed


__all__ = ["TrainingUnit", "has_weights", "run_parallel", "training_units", "unit_command"]

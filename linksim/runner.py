"""The Monte-Carlo runner: systems x sweep points x batches, with stopping rules.

For every system and sweep point the runner asks the system for batches of
statistics until a stopping rule fires (see :class:`~linksim.scenario.MonteCarloSpec`),
persisting the accumulated records every ``chunk_batches`` batches. Each batch runs
under its own seed, derived from (scenario seed, system label, point index, batch
index) by :func:`batch_seed`, so an interrupted and resumed run produces exactly the
numbers of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import torch

from .assembly import Runtime, build_system
from .errors import UserError
from .metrics import Metric, get_metric
from .paths import cache_root
from .provenance import collect_provenance
from .results import PointRecord, ResultStore, write_csv
from .scenario import MonteCarloSpec, Scenario

if TYPE_CHECKING:
    from .executors import Executor

SEED_MODULUS = 2**63


def batch_seed(scenario_seed: int, system_label: str, point_index: int, batch_index: int) -> int:
    """The seed of one batch: a hash of its coordinates (independent of run history)."""
    key = f"linksim/{scenario_seed}/{system_label}/{point_index}/{batch_index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") % SEED_MODULUS


def seed_everything(seed: int) -> None:
    """Seed Sionna's generators (torch, numpy, python) and torch's default generator."""
    import sionna.phy

    sionna.phy.config.seed = seed
    torch.default_generator.manual_seed(seed)  # torch.manual_seed minus its slow lazy-backend bookkeeping
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def set_up_system(scenario: Scenario, index: int, runtime: Runtime, points: Optional[List[int]] = None) -> Any:
    """Build ``systems[index]`` and run its ``setup()`` (train or load) under its own seed.

    :param points: Sweep-point indices to set up for (default: all).
    """
    system = build_system(scenario, index, runtime, points)
    seed_everything(batch_seed(scenario.seed, scenario.systems[index].label, -1, 0))
    system.setup()
    return system


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda:<current>`` when available, else ``cpu``; ``cuda`` without a GPU is an error.

    :raises UserError: ``requested`` is not one of :data:`DEVICES`, or ``cuda`` without a GPU.
    """
    if requested not in DEVICES:
        raise UserError(f"device: {requested!r} is not one of {', '.join(DEVICES)}")
    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        raise UserError("device: 'cuda' requested but no CUDA device is available (use auto or cpu)")
    if requested in ("auto", "cuda") and has_cuda:
        return f"cuda:{torch.cuda.current_device()}"  # Sionna's generators are keyed "cuda:<index>"
    return "cpu"


def use_device(device: str) -> None:
    """Make ``device`` the default for Sionna blocks and new torch tensors."""
    import sionna.phy

    resolved = torch.device(device)
    if resolved.type == "cuda" and resolved.index is None:  # Sionna wants "cuda:<index>"
        resolved = torch.device("cuda", torch.cuda.current_device())
    sionna.phy.config.device = str(resolved)


@dataclass
class PointOutcome:
    """How a point ended, for the skip rule of the following points."""

    error_free: bool
    below_floor: bool


class StoppingRule:
    """Decides after each batch whether a sweep point is finished (and why)."""

    def __init__(self, mc: MonteCarloSpec, metric: Metric) -> None:
        self.mc = mc
        self.metric = metric

    def reason_to_stop(self, rec: PointRecord) -> Optional[str]:
        mc, totals = self.mc, rec.totals
        if rec.batches >= mc.max_batches:
            return "max_batches"
        if rec.batches < mc.min_batches:
            return None
        errors = self.metric.errors(totals)
        if mc.target_errors is not None and errors is not None and errors >= mc.target_errors:
            return "target_errors"
        if mc.ci_rel_width is not None:
            est = self.metric.estimate(totals, confidence=mc.confidence, ci_method=mc.ci_method)
            if est.value > 0 and est.half_width <= mc.ci_rel_width * abs(est.value):
                return "ci_width"
        return None

    def outcome(self, rec: PointRecord) -> PointOutcome:
        errors = self.metric.errors(rec.totals)
        est = self.metric.estimate(rec.totals)
        below = self.mc.min_value is not None and self.metric.is_error_rate and est.value < self.mc.min_value
        return PointOutcome(error_free=(errors == 0 and self.metric.is_error_rate), below_floor=bool(below))


def skip_reason_after(mc: MonteCarloSpec, outcome: PointOutcome) -> str:
    """Why the points after one with ``outcome`` are skipped (``""``: they are not)."""
    if mc.skip_error_free and outcome.error_free:
        return "skipped: an earlier point was error-free"
    if outcome.below_floor:
        return "skipped: an earlier point was below min_value"
    return ""


ProgressFactory = Callable[..., Any]


def _progress_bar(enabled: bool) -> ProgressFactory:
    """Progress bars on a terminal; one summary line per sweep point in logs (no TTY)."""
    if not enabled:
        return lambda **kw: nullcontext(_NullBar())
    if not sys.stderr.isatty():
        return lambda **kw: _LineLog(kw.get("desc", ""), kw.get("initial", 0))
    from tqdm.auto import tqdm

    return lambda **kw: tqdm(file=sys.stderr, dynamic_ncols=True, mininterval=0.5, **kw)


class _LineLog:
    """Progress for logs: prints ``desc: N batches, <postfix>`` when the point ends."""

    def __init__(self, desc: str, initial: int) -> None:
        self.desc, self.batches, self.postfix, self.t0 = desc, initial, "", time.perf_counter()

    def __enter__(self) -> "_LineLog":
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            extra = f", {self.postfix}" if self.postfix else ""
            print(f"{self.desc}: {self.batches} batches{extra} ({time.perf_counter() - self.t0:.1f} s)",
                  file=sys.stderr, flush=True)

    def update(self, n: int = 1) -> None:
        self.batches += n

    def set_postfix_str(self, s: str) -> None:
        self.postfix = s


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass


@dataclass
class RunResult:
    """What :func:`run_scenario` produced."""

    out_dir: Path
    results_path: Path
    csv_path: Path
    figures: List[Path]
    store: ResultStore
    tables: List[Path] = field(default_factory=list)


class Runner:
    """Runs a validated scenario into a :class:`ResultStore`.

    :param scenario: The scenario (``--quick`` already applied if wanted).
    :param store: Where records are accumulated and persisted.
    :param runtime: Device, cache directory, quick flag.
    :param progress: Show progress bars on stderr.
    """

    def __init__(self, scenario: Scenario, store: ResultStore, runtime: Runtime, *, progress: bool = True) -> None:
        self.scenario = scenario
        self.store = store
        self.runtime = runtime
        self.progress = _progress_bar(progress)
        mc = scenario.monte_carlo
        self.stop_metric = get_metric(mc.stop_metric or scenario.metrics[0])

    def run(self) -> None:
        use_device(self.runtime.device)
        points = self.scenario.sweep.points()
        for index, spec in enumerate(self.scenario.systems):
            if all(self.store.record(spec.label, i, p).done for i, p in enumerate(points)):
                continue
            system = set_up_system(self.scenario, index, self.runtime)
            self.store.provenance.setdefault("systems", {})[spec.label] = system.provenance()
            self._run_system(system, spec.label, points)

    def _run_system(self, system: Any, label: str, points: List[Dict[str, float]]) -> None:
        mc = self.scenario.monte_carlo
        metric = self.stop_metric if self.stop_metric.name in type(system).metrics_provided else None
        rule = StoppingRule(mc, metric) if metric is not None else None
        skip_reason = ""
        for i, point in enumerate(points):
            rec = self.store.record(label, i, point)
            if rec.done:
                if rule is not None and rec.batches:
                    skip_reason = self._skip_reason(rule.outcome(rec)) or skip_reason
                continue
            if skip_reason:
                rec.done, rec.stop_reason = True, skip_reason
                self.store.save()
                continue
            self._run_point(system, rec, rule)
            if rule is not None:
                skip_reason = self._skip_reason(rule.outcome(rec))

    def _skip_reason(self, outcome: PointOutcome) -> str:
        return skip_reason_after(self.scenario.monte_carlo, outcome)

    def _run_point(self, system: Any, rec: PointRecord, rule: Optional[StoppingRule]) -> None:
        mc = self.scenario.monte_carlo
        param = self.scenario.sweep.parameter
        desc = f"{rec.system} {param}={rec.point[param]:g}"
        since_save = 0
        with self.progress(total=mc.max_batches, initial=rec.batches, desc=desc, unit="batch", leave=False) as bar:
            with torch.inference_mode(not getattr(system, "simulate_needs_gradients", False)):
                while True:
                    reason = rule.reason_to_stop(rec) if rule is not None else (
                        "max_batches" if rec.batches >= mc.max_batches else None)
                    if reason is not None:
                        rec.done, rec.stop_reason = True, reason
                        break
                    t0 = time.perf_counter()
                    seed_everything(batch_seed(self.scenario.seed, rec.system, rec.point_index, rec.batches))
                    stats = system.simulate(mc.batch_size, dict(rec.point))
                    rec.add({k: float(v) for k, v in stats.items()})
                    rec.elapsed_s += time.perf_counter() - t0
                    bar.update(1)
                    if rule is not None:
                        errors = rule.metric.errors(rec.totals)
                        if errors is not None:
                            bar.set_postfix_str(f"errors={errors:g}")
                    since_save += 1
                    if since_save >= mc.chunk_batches:
                        self.store.save()
                        since_save = 0
        self.store.save()


def default_out_dir(scenario: Scenario, quick: bool) -> Path:
    """``runs/<name>`` (``runs/<name>-quick`` in quick mode)."""
    return Path("runs") / (f"{scenario.name}-quick" if quick else scenario.name)


#: The scenarios shipped with linksim's source tree, and the folder of their committed figures.
SHIPPED_SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SHIPPED_PLOTS_DIR = SHIPPED_SCENARIOS_DIR.parent / "plots"


def is_shipped_scenario(path: Optional[Path]) -> bool:
    """True if ``path`` is one of the scenario files shipped in linksim's ``scenarios/`` folder."""
    if path is None:
        return False
    try:
        return Path(path).resolve().parent == SHIPPED_SCENARIOS_DIR and SHIPPED_PLOTS_DIR.is_dir()
    except OSError:
        return False


def figures_dir(out_dir: Path, *, plots_dir: Optional[Path], out_given: bool, quick: bool,
                scenario_path: Optional[Path]) -> Path:
    """Where a run writes its figures and tables.

    ``--plots`` if given. Otherwise a full run (no ``--quick``, no ``--out``) of a
    shipped scenario refreshes the committed figures in ``plots/``, and every other run
    writes them beside its results, in ``out_dir``: a smoke run never overwrites them.
    """
    if plots_dir is not None:
        return Path(plots_dir)
    if not quick and not out_given and is_shipped_scenario(scenario_path):
        return SHIPPED_PLOTS_DIR
    return out_dir


def prepare_cache(cache_dir: Path) -> Path:
    """Check that the weight/data cache is a folder or can be created (``--cache``).

    It need not be writable: shipped and cached weights load from a read-only cache, and
    a model that must be trained there stops with a message before its training starts.
    """
    from .files import ensure_folder

    return ensure_folder(cache_dir, "--cache")


def run_scenario(
    scenario: Scenario,
    *,
    out: Optional[Path] = None,
    plots_dir: Optional[Path] = None,
    device: Optional[str] = None,
    fresh: bool = False,
    quick: bool = False,
    cache_dir: Optional[Path] = None,
    progress: bool = True,
    scenario_path: Optional[Path] = None,
    executor: Optional["Executor"] = None,
) -> RunResult:
    """Run ``scenario`` end to end: simulate (resuming), write CSV and figures.

    Every folder is checked, and the run folder locked, before anything is trained or
    simulated; a second run into a locked folder stops with a :class:`UserError`.

    :param out: Run directory (default ``runs/<name>[-quick]``).
    :param plots_dir: Where figure PDFs and tables go (default: see :func:`figures_dir`).
    :param device: Overrides the scenario's ``device`` (auto/cpu/cuda).
    :param fresh: Discard earlier results in ``out`` instead of resuming.
    :param quick: Apply the scenario's quick Monte-Carlo overrides and tiny training.
    :param scenario_path: The file the scenario came from (a shipped one refreshes ``plots/``).
    :param executor: Simulate batches on these workers (:mod:`linksim.parallel_run`; same
        results as serial); ``None`` or a local executor with one worker: in this process.
    """
    from .files import FolderLock, check_writable_folder, clean_stale_temp_files
    from .plotting import draw_outputs

    if quick:
        scenario = scenario.with_quick()
    runtime = Runtime(
        device=resolve_device(device or scenario.device),
        cache_dir=prepare_cache(Path(cache_dir) if cache_dir is not None else default_cache_dir()),
        quick=quick,
    )
    out_dir = check_writable_folder(Path(out) if out is not None else default_out_dir(scenario, quick), "--out")
    figures_to = check_writable_folder(
        figures_dir(out_dir, plots_dir=plots_dir, out_given=out is not None, quick=quick,
                    scenario_path=scenario_path), "--plots")
    with FolderLock(out_dir, "--out"):
        clean_stale_temp_files(out_dir)
        if figures_to.resolve() != out_dir.resolve():
            clean_stale_temp_files(figures_to, older_than_s=3600)  # a shared folder: only old leftovers
        resolved = scenario.resolved()
        scenario_hash = scenario.content_hash() + ("-quick" if quick else "")
        store = ResultStore.open(out_dir, resolved, scenario_hash, fresh=fresh)
        started = time.time()
        previous_elapsed = float(store.provenance.get("elapsed_s", 0.0))
        store.provenance.update(collect_provenance(device=runtime.device, scenario_hash=scenario_hash,
                                                   seed=scenario.seed, quick=quick))
        if executor is None or (executor.name == "local" and executor.workers == 1):
            store.provenance.pop("executor", None)
            Runner(scenario, store, runtime, progress=progress).run()
        else:
            from .parallel_run import ParallelRunner

            store.provenance["executor"] = executor.describe()
            ParallelRunner(scenario, store, runtime, executor, progress=progress,
                           requested_device=device or scenario.device).run()
        if scenario.samples:
            from .samples import collect_samples

            collect_samples(scenario, runtime, out_dir)
        if any(spec.kind == "heatmap" for spec in scenario.figures):
            from .matrices import collect_matrices

            collect_matrices(scenario, runtime, store)
        store.provenance["elapsed_s"] = previous_elapsed + (time.time() - started)
        store.save()
        csv_path = write_csv(store)
        figures, tables = draw_outputs(store, figures_to)
    return RunResult(out_dir, store.path, csv_path, figures, store, tables)


def train_scenario(
    scenario: Scenario,
    *,
    device: Optional[str] = None,
    quick: bool = False,
    cache_dir: Optional[Path] = None,
    ship: bool = False,
    command: str = "",
    only: Optional[List[str]] = None,
    points: Optional[List[int]] = None,
) -> List[tuple]:
    """Set up (train or load) every system of ``scenario``; optionally ship the weights.

    :param only: Labels of the systems to set up (default: all).
    :param points: Indices of the sweep points whose models to set up (default: all).
    :returns: ``(label, weights path)`` for every trained-weight entry.
    :raises UserError: when ``only`` names no system of the scenario, or a point index
        is out of range.
    """
    from .weights import WeightStore

    runtime = Runtime(
        device=resolve_device(device or scenario.device),
        cache_dir=prepare_cache(Path(cache_dir) if cache_dir is not None else default_cache_dir()),
        quick=quick,
    )
    labels = [spec.label for spec in scenario.systems]
    for label in only or []:
        if label not in labels:
            raise UserError(f"--only: no system labelled {label!r}; the labels are {', '.join(map(repr, labels))}")
    count = len(scenario.sweep.points())
    for index in points or []:
        if not 0 <= index < count:
            raise UserError(f"--point: {index} is not a sweep point index (the sweep has {count} points, 0-{count - 1})")
    use_device(runtime.device)
    out = []
    for index, spec in enumerate(scenario.systems):
        if only and spec.label not in only:
            continue
        system = set_up_system(scenario, index, runtime, sorted(set(points)) if points else None)
        for kind, key in system.trained_weights():
            store = WeightStore(runtime.cache_dir, kind)
            path = store.ship(key, command) if ship else (store.find(key) or store.cache_path(key))
            out.append((spec.label, path))
    return out


def default_cache_dir() -> Path:
    """``$LINKSIM_CACHE`` or ``~/.cache/linksim``: trained weights and downloaded data (:func:`~linksim.paths.cache_root`)."""
    return cache_root()

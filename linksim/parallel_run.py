"""Sweeps on an executor: the batches of every (system, sweep point) on parallel workers.

``linksim run --jobs N`` (local processes) and ``--executor ray`` (a Ray cluster) hand
single batches to workers. A batch is fully described by its coordinates: a worker
builds the system once (loading its shipped or cached weights; see
:func:`~linksim.runner.set_up_system`), seeds the batch with
:func:`~linksim.runner.batch_seed` and simulates it. The driver (this process) owns the
:class:`~linksim.results.ResultStore` and applies the serial runner's rules in the
serial order, so the results equal those of a serial run bit for bit (with the same
torch thread count per process):

* batches of a point are added in batch order; the stopping rule is checked after each
  one, exactly as :class:`~linksim.runner.Runner` does, and batches that were simulated
  speculatively beyond the stop are discarded;
* a point is committed to the store only after every earlier point of its system: the
  skip rules (``skip_error_free``, ``min_value``) are decided on committed points, and
  points they skip are recorded as skipped, whatever their workers had computed;
* the first unfinished point of every system is persisted as it grows, so an
  interrupted run resumes where the serial runner would (completed batches of later,
  still uncommitted points are recomputed);
* when a local worker process dies, every task of its pool fails: those tasks are rerun
  one at a time, so the one that kills its worker is known; it is retried once
  (:data:`~linksim.executors.TASK_RETRIES`), then reported naming its system, point and
  batch. (Ray retries the task whose worker died by itself.)

At most ``2 x workers`` batches are in flight, earlier systems and points first, and at
most ``workers`` batches of one point beyond its last committed batch.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from .assembly import Runtime, system_class
from .errors import TrainingDiverged, UserError
from .executors import TASK_RETRIES, Executor, WorkerFailed
from .metrics import get_metric
from .results import PointRecord, ResultStore
from .scenario import Scenario


# --------------------------------------------------------------------------- worker side


@dataclass(frozen=True)
class BatchTask:
    """One batch to simulate: everything a worker needs, picklable.

    :param scenario: The scenario (``--quick`` already applied).
    :param scenario_hash: Its content hash (the worker's cache key).
    :param device: The requested device (``auto``/``cpu``/``cuda``), resolved by the worker.
    :param cache_dir: Weight/data cache as seen by the worker.
    :param quick: Tiny models (``--quick``).
    :param system_index: Index into ``scenario.systems``.
    :param point_index: Sweep point index; ``point`` its parameter values.
    :param batch_index: Batch number within the point (seeds the batch).
    """

    scenario: Scenario
    scenario_hash: str
    device: str
    cache_dir: str
    quick: bool
    system_index: int
    point_index: int
    point: Tuple[Tuple[str, float], ...]
    batch_index: int


@dataclass
class BatchResult:
    """A simulated batch: its statistics, the seconds it took, and its system's provenance."""

    stats: Dict[str, float]
    elapsed_s: float
    provenance: Dict[str, Any]


#: Systems built in this worker process, most recently used last (a few at most).
_SYSTEMS: "OrderedDict[tuple, Any]" = OrderedDict()
_RUNTIMES: Dict[tuple, Runtime] = {}
_MAX_SYSTEMS = 4


def _system_for(task: BatchTask) -> Any:
    from .runner import resolve_device, set_up_system, use_device

    key = (task.scenario_hash, task.system_index, task.device, task.cache_dir, task.quick)
    system = _SYSTEMS.get(key)
    if system is None:
        runtime_key = (task.scenario_hash, task.device, task.cache_dir, task.quick)
        runtime = _RUNTIMES.get(runtime_key)
        if runtime is None:  # one Runtime (datasets, shared models) per run, as in a serial run
            device = resolve_device(task.device)
            runtime = _RUNTIMES[runtime_key] = Runtime(device=device, cache_dir=Path(task.cache_dir),
                                                       quick=task.quick)
        use_device(runtime.device)
        system = set_up_system(task.scenario, task.system_index, runtime)
        _SYSTEMS[key] = system
        while len(_SYSTEMS) > _MAX_SYSTEMS:
            _SYSTEMS.popitem(last=False)
    _SYSTEMS.move_to_end(key)
    return system


def simulate_batch(task: BatchTask) -> BatchResult:
    """Worker side: simulate one batch under its own seed (as :class:`~linksim.runner.Runner` does)."""
    from .runner import batch_seed, seed_everything

    system = _system_for(task)
    label = task.scenario.systems[task.system_index].label
    t0 = time.perf_counter()
    seed_everything(batch_seed(task.scenario.seed, label, task.point_index, task.batch_index))
    with torch.inference_mode(not getattr(system, "simulate_needs_gradients", False)):
        stats = system.simulate(task.scenario.monte_carlo.batch_size, dict(task.point))
    stats = {k: float(v) for k, v in stats.items()}
    return BatchResult(stats, time.perf_counter() - t0, system.provenance())


# --------------------------------------------------------------------------- driver side


@dataclass
class _PointWork:
    """Driver-side state of one uncommitted (system, point)."""

    system_index: int
    rec: PointRecord  # working copy; the store's record is replaced on commit
    next_batch: int
    arrived: Dict[int, BatchResult] = field(default_factory=dict)
    in_flight: int = 0
    finished: bool = False
    committed: bool = False


class ParallelRunner:
    """Runs a scenario's batches on ``executor``; same records as :class:`~linksim.runner.Runner`.

    :param scenario: The scenario (``--quick`` already applied).
    :param store: The results, resumed or fresh; this object alone writes them.
    :param runtime: Device (as requested), cache and quick flag handed to the workers.
    :param executor: Where batches run.
    :param progress: One progress bar on a terminal; one line per finished point otherwise.
    """

    def __init__(self, scenario: Scenario, store: ResultStore, runtime: Runtime, executor: Executor, *,
                 progress: bool = True, requested_device: str = "auto") -> None:
        from .runner import StoppingRule

        self.scenario = scenario
        self.store = store
        self.runtime = runtime
        self.executor = executor
        self.progress = progress
        self.requested_device = requested_device
        self.scenario_hash = scenario.content_hash()
        mc = scenario.monte_carlo
        stop_metric = get_metric(mc.stop_metric or scenario.metrics[0])
        self.rules = []
        for index in range(len(scenario.systems)):
            provided = system_class(scenario, index).metrics_provided
            self.rules.append(StoppingRule(mc, stop_metric) if stop_metric.name in provided else None)
        self.points = scenario.sweep.points()
        self.window = max(1, executor.workers)
        self.capacity = 2 * max(1, executor.workers)
        self._works: List[List[Optional[_PointWork]]] = []
        self._futures: Dict["cf.Future[BatchResult]", Tuple[_PointWork, int, int]] = {}
        #: Tasks that were in flight when a local worker died, rerun one at a time to find the culprit.
        self._suspects: List[Tuple[_PointWork, int, int]] = []
        self._bar: Any = None
        self._last_save = 0.0

    # ------------------------------------------------------------------ main loop

    def run(self) -> None:
        mc = self.scenario.monte_carlo
        for index, spec in enumerate(self.scenario.systems):
            row: List[Optional[_PointWork]] = []
            for i, point in enumerate(self.points):
                rec = self.store.record(spec.label, i, point)
                if rec.done:
                    row.append(None)
                    continue
                work = _PointWork(index, copy.deepcopy(rec), next_batch=rec.batches)
                self._check_stop(work)
                row.append(work)
            self._works.append(row)
        total = sum(mc.max_batches - w.rec.batches for row in self._works for w in row
                    if w is not None and not w.finished)
        self._open_bar(total)
        try:
            self._commit()
            while self._uncommitted():
                self._fill()
                if not self._futures:
                    raise RuntimeError("parallel runner: points left but nothing to simulate")  # a bug
                done, _ = cf.wait(list(self._futures), return_when=cf.FIRST_COMPLETED)
                for future in done:
                    if future in self._futures:  # not already resent after a worker died
                        self._collect(future)
                self._commit()
        finally:
            for future in self._futures:
                future.cancel()
            self._close_bar()
            self.store.save()

    def _uncommitted(self) -> bool:
        return any(w is not None and not w.committed for row in self._works for w in row)

    def _fill(self) -> None:
        """Submit batches, earliest system and point first, up to the in-flight limits.

        While there are suspects of a worker death, they run alone, one after another.
        """
        if self._suspects:
            if not self._futures:
                work, batch, attempt = self._suspects.pop(0)
                self._submit(work, batch, attempt)
            return
        max_batches = self.scenario.monte_carlo.max_batches
        for row in self._works:
            for work in row:
                if work is None or work.finished:
                    continue
                while (len(self._futures) < self.capacity and work.next_batch < max_batches
                       and work.next_batch - work.rec.batches < self.window):
                    self._submit(work, work.next_batch, attempt=0)
                    work.next_batch += 1
                if len(self._futures) >= self.capacity:
                    return

    def _submit(self, work: _PointWork, batch: int, attempt: int) -> None:
        task = BatchTask(self.scenario, self.scenario_hash, self.requested_device, str(self.runtime.cache_dir),
                         self.runtime.quick, work.system_index, work.rec.point_index,
                         tuple(sorted(work.rec.point.items())), batch)
        self._futures[self.executor.submit(simulate_batch, task)] = (work, batch, attempt)
        work.in_flight += 1

    def _collect(self, future: "cf.Future[BatchResult]") -> None:
        work, batch, attempt = self._futures.pop(future)
        work.in_flight -= 1
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - classified below
            cause = getattr(exc, "cause", None) or exc  # Ray wraps the worker's exception
            if isinstance(cause, (UserError, TrainingDiverged)):
                raise type(cause)(f"{self._where(work, batch)}: {cause}") from None
            if isinstance(exc, cf.process.BrokenProcessPool):
                if not self._worker_died(work, batch, attempt):
                    return
            raise WorkerFailed(f"{self._where(work, batch)} failed on a worker"
                               f"{' after a retry' if attempt else ''}: {type(cause).__name__}: {cause}") from None
        if work.finished:
            return  # speculative batch beyond the stop
        label = self.scenario.systems[work.system_index].label
        self.store.provenance.setdefault("systems", {}).setdefault(label, result.provenance)
        work.arrived[batch] = result
        while not work.finished and work.rec.batches in work.arrived:
            got = work.arrived.pop(work.rec.batches)
            work.rec.add(got.stats)
            work.rec.elapsed_s += got.elapsed_s
            self._advance_bar(1)
            self._check_stop(work)

    def _worker_died(self, work: _PointWork, batch: int, attempt: int) -> bool:
        """A local worker process died (every task of its pool fails): restart the pool and
        rerun the tasks that were in flight one at a time. A task is charged an attempt only
        when it ran alone; True when it has used up its retries (the caller reports it).
        """
        if self._futures:  # others were running too: this one may be innocent
            lost = [(work, batch, attempt)] + list(self._futures.values())
            for future in self._futures:
                future.cancel()
            self._futures.clear()
            for lost_work, _, _ in lost[1:]:
                lost_work.in_flight -= 1
            self._suspects = lost + self._suspects
            self.executor.restart()  # type: ignore[attr-defined]
            return False
        # it ran alone: it killed its worker
        self.executor.restart()  # type: ignore[attr-defined]
        if attempt < TASK_RETRIES:
            self._suspects.insert(0, (work, batch, attempt + 1))
            return False
        return True

    def _check_stop(self, work: _PointWork) -> None:
        """The serial runner's test before each batch; marks the working record done."""
        rule = self.rules[work.system_index]
        rec = work.rec
        reason = rule.reason_to_stop(rec) if rule is not None else (
            "max_batches" if rec.batches >= self.scenario.monte_carlo.max_batches else None)
        if reason is not None:
            rec.done, rec.stop_reason, work.finished = True, reason, True
            work.arrived.clear()
            self._advance_bar(self.scenario.monte_carlo.max_batches - rec.batches)  # the batches not needed

    def _commit(self) -> None:
        """Move finished points into the store in sweep order, applying the skip rules."""
        from .runner import skip_reason_after

        changed = False
        mc = self.scenario.monte_carlo
        for index, spec in enumerate(self.scenario.systems):
            rule = self.rules[index]
            skip = ""
            for i, work in enumerate(self._works[index]):
                if work is None or work.committed:
                    rec = self.store.record(spec.label, i, self.points[i])
                    if rule is not None and rec.batches:
                        skip = skip_reason_after(mc, rule.outcome(rec)) or skip
                    continue
                if skip:
                    rec = self.store.record(spec.label, i, self.points[i])
                    rec.done, rec.stop_reason = True, skip
                    if not work.finished:
                        self._advance_bar(mc.max_batches - work.rec.batches)
                    work.committed = work.finished = True
                    self._log_point(rec)
                    changed = True
                    continue
                if work.finished:
                    self.store.records[(spec.label, i)] = copy.deepcopy(work.rec)
                    work.committed = True
                    self._log_point(work.rec)
                    changed = True
                    if rule is not None:
                        skip = skip_reason_after(mc, rule.outcome(work.rec))
                    continue
                stored = self.store.record(spec.label, i, self.points[i])
                if work.rec.batches > stored.batches:  # the frontier: persist its progress
                    self.store.records[(spec.label, i)] = copy.deepcopy(work.rec)
                    changed = time.monotonic() - self._last_save > 2.0 or changed
                break
        if changed:
            self.store.save()
            self._last_save = time.monotonic()

    # ------------------------------------------------------------------ reporting

    def _where(self, work: _PointWork, batch: int) -> str:
        label = self.scenario.systems[work.system_index].label
        param = self.scenario.sweep.parameter
        return f"{label} {param}={work.rec.point[param]:g} batch {batch}"

    def _open_bar(self, total: int) -> None:
        if self.progress and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=f"batches ({self.executor.describe()})", unit="batch",
                             file=sys.stderr, dynamic_ncols=True, mininterval=0.5, leave=False)

    def _advance_bar(self, n: int) -> None:
        if self._bar is not None and n > 0:
            self._bar.update(n)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _log_point(self, rec: PointRecord) -> None:
        if self.progress and self._bar is None:
            param = self.scenario.sweep.parameter
            print(f"{rec.system} {param}={rec.point[param]:g}: {rec.batches} batches, {rec.stop_reason} "
                  f"({rec.elapsed_s:.1f} s of worker time)", file=sys.stderr, flush=True)


__all__ = ["BatchResult", "BatchTask", "ParallelRunner", "simulate_batch"]

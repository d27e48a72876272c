"""Where linksim's parallel work runs: local worker processes or a Ray cluster.

Two kinds of work go through an :class:`Executor`:

* **simulation tasks** of ``linksim run --jobs N``: plain picklable function calls
  (:meth:`Executor.submit`, returning a :class:`concurrent.futures.Future`), used by
  :mod:`linksim.parallel_run` for batches of sweep points;
* **training units** of ``linksim train --jobs N``: command lines
  (:meth:`Executor.run_commands`), one ``linksim train --only LABEL --point I`` process
  per unit, so that every unit trains in a fresh interpreter exactly as a serial
  ``linksim train --only ... --point ...`` would.

:class:`LocalExecutor` runs both on this machine (a process pool with the ``spawn``
start method; the unit commands as child processes). :class:`RayExecutor` runs them as
Ray tasks on a local Ray instance started for the run (``--executor ray``) or on an
existing cluster (``--address``). Ray is an optional dependency
(``pip install linksim[ray]``); linksim must be installed on every node, at the same
version, and the weight/data cache should be on a shared file system (or the weights
shipped), since every node loads the models itself.

A worker process sets its torch thread count once (``threads``, default 1): on a CPU,
several single-threaded processes use the cores far better than one many-threaded one.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import subprocess
import sys
from typing import IO, Any, Callable, List, Optional, Sequence, Tuple

from .errors import UserError

EXECUTORS = ("local", "ray")

#: How often a task that failed because its worker died (not because it raised) is retried.
TASK_RETRIES = 1


class WorkerFailed(Exception):
    """A task failed on a worker after its retries; the message names the task.

    The CLI prints it as one line and exits with code 1 (the input was valid).
    """

    exit_code = 1


def init_worker(threads: int, plugins: Sequence[str]) -> None:
    """Set up a fresh worker process: torch threads, linksim's backend, the user's plugins."""
    import torch

    torch.set_num_threads(threads)
    from . import plugins as plugin_loader

    plugin_loader.activate(plugins)


class Executor:
    """Runs linksim's tasks somewhere; use as a context manager (``with make_executor(...) as ex``).

    :param workers: How many tasks run at once.
    :param threads: Torch threads per worker process.
    :param plugins: Plugin modules every worker imports before its first task.
    """

    name = "executor"

    def __init__(self, workers: int, threads: int = 1, plugins: Sequence[str] = ()) -> None:
        self.workers = workers
        self.threads = threads
        self.plugins = tuple(plugins)

    def submit(self, fn: Callable[..., Any], *args: Any) -> "cf.Future[Any]":
        """Run ``fn(*args)`` (a module-level function, picklable arguments) on a worker."""
        raise NotImplementedError

    def run_commands(self, commands: Sequence[Tuple[str, List[str]]], out: Optional[IO[str]] = None) -> List[str]:
        """Run ``(name, argv)`` commands, at most :attr:`workers` at once; the names of those that failed.

        Every output line is written to ``out`` (default: standard output) as ``[name] line``.
        """
        raise NotImplementedError

    def describe(self) -> str:
        """One line for logs and provenance, e.g. ``local, 2 workers x 1 thread``."""
        return f"{self.name}, {self.workers} worker(s) x {self.threads} thread(s)"

    def shutdown(self) -> None:
        """Release the workers (pending tasks are cancelled)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


class LocalExecutor(Executor):
    """Worker processes on this machine (``spawn``), started on first use and reused."""

    name = "local"

    def __init__(self, workers: int, threads: int = 1, plugins: Sequence[str] = ()) -> None:
        super().__init__(workers, threads, plugins)
        self._pool: Optional[cf.ProcessPoolExecutor] = None

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker, initargs=(self.threads, self.plugins))
        return self._pool

    def submit(self, fn: Callable[..., Any], *args: Any) -> "cf.Future[Any]":
        try:
            return self._ensure_pool().submit(fn, *args)
        except cf.process.BrokenProcessPool:  # a worker died earlier: start a new pool
            self.restart()
            return self._ensure_pool().submit(fn, *args)

    def restart(self) -> None:
        """Replace a broken pool (a worker was killed) by a fresh one."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def run_commands(self, commands: Sequence[Tuple[str, List[str]]], out: Optional[IO[str]] = None) -> List[str]:
        from .train_jobs import run_parallel

        return run_parallel(commands, self.workers, out)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray: Ray is not installed (pip install 'linksim[ray]', "
                        "or pip install -c constraints.txt ray)") from None
    return ray


class RayExecutor(Executor):
    """Ray tasks of one CPU each, on a local Ray instance or on the cluster at ``address``.

    :param address: ``None``: start a local Ray instance with ``workers`` CPUs for this
        run (stopped at the end); otherwise an existing cluster's address (``auto``,
        ``HOST:6379`` or ``ray://HOST:10001``), left running.
    :param workers: Tasks in flight at once (default for a cluster: its CPU count).
    """

    name = "ray"

    def __init__(self, workers: Optional[int], threads: int = 1, plugins: Sequence[str] = (),
                 address: Optional[str] = None) -> None:
        ray = _import_ray()
        self._ray = ray
        self._started_here = not ray.is_initialized()
        if self._started_here:
            try:
                if address is None:
                    ray.init(num_cpus=workers or 1, include_dashboard=False, logging_level="WARNING")
                else:
                    ray.init(address=address, logging_level="WARNING")
            except ConnectionError as exc:
                raise UserError(f"--address: cannot connect to a Ray cluster at {address!r}: {exc}") from None
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        super().__init__(workers, threads, plugins)
        self.address = address
        self._remote_call = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_ray_call)
        self._remote_command = ray.remote(num_cpus=1, max_retries=0)(_run_command)

    def submit(self, fn: Callable[..., Any], *args: Any) -> "cf.Future[Any]":
        return self._remote_call.remote(self.threads, self.plugins, fn, *args).future()

    def run_commands(self, commands: Sequence[Tuple[str, List[str]]], out: Optional[IO[str]] = None) -> List[str]:
        out = out if out is not None else sys.stdout
        refs = {self._remote_command.remote(name, argv): name for name, argv in commands}
        failed: List[str] = []
        pending = list(refs)
        while pending:
            ready, pending = self._ray.wait(pending, num_returns=1)
            name = refs[ready[0]]
            try:
                code, lines = self._ray.get(ready[0])
            except Exception as exc:  # the task's worker died
                code, lines = -1, [f"worker failed: {exc}\n"]
            for line in lines:
                out.write(f"[{name}] {line}")
            if code != 0:
                failed.append(name)
                out.write(f"[{name}] exited with code {code}\n")
            out.flush()
        return failed

    def describe(self) -> str:
        where = "local instance" if self.address is None else f"cluster at {self.address}"
        return f"ray ({where}), {self.workers} task(s) at once x {self.threads} thread(s)"

    def shutdown(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


_RAY_WORKER_READY = False


def _ray_call(threads: int, plugins: Sequence[str], fn: Callable[..., Any], *args: Any) -> Any:
    """Body of a Ray task: set up the worker process once, then ``fn(*args)``."""
    global _RAY_WORKER_READY
    if not _RAY_WORKER_READY:
        init_worker(threads, plugins)
        _RAY_WORKER_READY = True
    return fn(*args)


def _run_command(name: str, argv: List[str]) -> Tuple[int, List[str]]:
    """Body of a Ray training task: run ``argv`` on the worker's node; exit code and output lines."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                          errors="replace", env=env)
    return proc.returncode, proc.stdout.splitlines(keepends=True)


def make_executor(kind: str, jobs: Optional[int], *, threads: Optional[int] = None, plugins: Sequence[str] = (),
                  address: Optional[str] = None) -> Executor:
    """The executor named by ``--executor`` (``local`` or ``ray``) with ``--jobs`` workers.

    :raises UserError: unknown kind, ``--address`` without ``ray``, ``--jobs`` < 1.
    """
    if kind not in EXECUTORS:
        raise UserError(f"--executor: {kind!r} is not one of {', '.join(EXECUTORS)}")
    if address is not None and kind != "ray":
        raise UserError("--address: only with --executor ray")
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs: must be >= 1 (got {jobs})")
    threads = 1 if threads is None else threads
    if kind == "ray":
        return RayExecutor(jobs if jobs is not None or address is not None else os.cpu_count(),
                           threads, plugins, address)
    return LocalExecutor(jobs or 1, threads, plugins)


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "RayExecutor", "WorkerFailed", "init_worker", "make_executor"]

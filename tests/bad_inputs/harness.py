"""Shared by tests/test_bad_inputs.py and tests/test_fuzz_scenarios.py.

``invoke(argv)`` calls ``linksim.cli.main`` in-process and returns what happened,
bounded in time (SIGALRM) and memory (RLIMIT_AS a little above what the process already
maps) so that an input linksim does not reject yet fails the test instead of hanging or
exhausting the machine. A handful of functions the corpus names in ``type:`` fields
(``os.abort``, ``os.system``, ``pickle.loads``) raise :class:`ForbiddenCall` while a case
runs: the corpus must never get them called, and a call must not kill the test process.
``judge`` lists every way an outcome breaks the contract of issue 16.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

#: Wall-clock bound of one command (validate, run or plot) on a bad input.
CASE_TIME_LIMIT_S = 20.0
#: Address space a command may map beyond what the test process maps already.
MEMORY_HEADROOM_BYTES = 2 * 1024**3
#: Environment variable set by tests/bad_inputs/sentinel/corpus_sentinel.py when imported.
SENTINEL_ENV = "LINKSIM_CORPUS_SENTINEL"
SENTINEL_DIR = Path(__file__).resolve().parent / "sentinel"
PREFIX = "linksim: error: "


class CaseTimeout(BaseException):
    """Raised by SIGALRM when a command runs past its time limit (a BaseException so that
    no ``except Exception`` inside linksim swallows it)."""


class ForbiddenCall(BaseException):
    """A function a scenario named was called (os.abort, os.system, pickle.loads)."""


@dataclass
class Outcome:
    argv: List[str]
    rc: Optional[int]
    out: str
    err: str
    escaped: Optional[str]  # an exception that escaped main(), with its traceback
    elapsed_s: float

    def describe(self) -> str:
        err = self.err if len(self.err) < 2000 else self.err[:1000] + "\n[...]\n" + self.err[-1000:]
        esc = "" if self.escaped is None else f"\n  escaped: {self.escaped[-1500:]}"
        return f"rc={self.rc} in {self.elapsed_s:.1f} s, stderr={err!r}{esc}"


def _mapped_bytes() -> Optional[int]:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def bounded(limit_s: float = CASE_TIME_LIMIT_S) -> Iterator[None]:
    """Time limit (SIGALRM, main thread only) and address-space limit around a block."""
    def on_alarm(signum, frame):  # noqa: ANN001
        raise CaseTimeout(f"over {limit_s:g} s")

    use_alarm = hasattr(signal, "SIGALRM") and _is_main_thread()
    old_handler = signal.signal(signal.SIGALRM, on_alarm) if use_alarm else None
    if use_alarm:
        signal.setitimer(signal.ITIMER_REAL, limit_s)
    old_limit = None
    mapped = _mapped_bytes()
    if mapped is not None:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = mapped + MEMORY_HEADROOM_BYTES
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft == resource.RLIM_INFINITY or cap < soft:
            old_limit = (soft, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        if old_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, old_limit)
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def forbidden_calls() -> Iterator[List[str]]:
    """While active, os.abort/os.system/pickle.loads raise ForbiddenCall (names listed)."""
    called: List[str] = []
    saved = [(os, "abort", os.abort), (os, "system", os.system), (pickle, "loads", pickle.loads)]

    def trap(name: str):  # noqa: ANN202
        def fn(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            called.append(name)
            raise ForbiddenCall(f"{name} was called")
        return fn

    for mod, attr, _ in saved:
        setattr(mod, attr, trap(f"{mod.__name__}.{attr}"))
    try:
        yield called
    finally:
        for mod, attr, orig in saved:
            setattr(mod, attr, orig)


def invoke(argv: Sequence[str], *, limit_s: float = CASE_TIME_LIMIT_S) -> Outcome:
    """``linksim.cli.main(argv)`` in-process, stdout/stderr captured, bounded."""
    from linksim.cli import main

    out, err = io.StringIO(), io.StringIO()
    rc: Optional[int] = None
    escaped: Optional[str] = None
    t0 = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), forbidden_calls():
            with bounded(limit_s):
                rc = main(list(argv))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any escape is a finding (SystemExit, MemoryError, ...)
        escaped = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc))[-3000:]
    return Outcome(list(argv), rc, out.getvalue(), err.getvalue(), escaped, time.monotonic() - t0)


def invoke_subprocess(argv: Sequence[str], *, cwd: Path, env: Optional[Dict[str, str]] = None,
                      limit_s: float = CASE_TIME_LIMIT_S + 30) -> Outcome:
    """``python -m linksim argv`` in a child process with a 4 GB address-space cap (for
    inputs that can kill the process that handles them)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 * 1024**3, resource.RLIM_INFINITY))

    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "linksim", *argv], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=limit_s, preexec_fn=limit)
    except subprocess.TimeoutExpired as exc:
        return Outcome(list(argv), None, "", str(exc.stderr or ""), f"CaseTimeout: over {limit_s:g} s",
                       time.monotonic() - t0)
    escaped = None
    if proc.returncode < 0:
        escaped = f"killed by signal {-proc.returncode}"
    return Outcome(list(argv), proc.returncode, proc.stdout, proc.stderr, escaped, time.monotonic() - t0)


def judge(outcome: Outcome, needles: Sequence[str] = (), *, line_of: Optional[str] = None,
          limit_s: float = CASE_TIME_LIMIT_S) -> List[str]:
    """Every way ``outcome`` breaks the contract for a bad input.

    :param needles: Texts the one error line must contain (field path, file name).
    :param line_of: A file name that must be followed by ``:<line>`` in the message.
    """
    problems = []
    if outcome.escaped is not None:
        problems.append(f"an exception escaped main(): {outcome.escaped.splitlines()[0]}")
    if outcome.rc != 2:
        problems.append(f"exit code {outcome.rc}, not 2")
    if "Traceback" in outcome.err or "Traceback" in outcome.out:
        problems.append("a traceback was printed")
    lines = outcome.err.splitlines()
    if len(lines) != 1:
        problems.append(f"stderr has {len(lines)} lines, not 1")
    first = lines[0] if lines else ""
    if lines and not first.startswith(PREFIX):
        problems.append(f"stderr does not start with {PREFIX!r}")
    for needle in needles:
        if needle not in first:
            problems.append(f"the message does not contain {needle!r}")
    if line_of is not None and not re.search(re.escape(line_of) + r":\d+", first):
        problems.append(f"the message does not give a line number after {line_of!r}")
    if outcome.elapsed_s > limit_s:
        problems.append(f"took {outcome.elapsed_s:.1f} s (limit {limit_s:g} s)")
    return problems


def dir_snapshot(path: Path) -> Dict[str, int]:
    """``relative folder -> mtime_ns`` of ``path`` and every folder under it: a file created
    or removed anywhere below changes one of them (cheap; contents are not compared)."""
    out: Dict[str, int] = {}
    for folder, _, _ in os.walk(path):
        try:
            out[os.path.relpath(folder, path)] = os.stat(folder).st_mtime_ns
        except OSError:
            pass
    return out


def snapshot(path: Path) -> Dict[str, tuple]:
    """``relative path -> (size, mtime_ns)`` of every file under ``path`` (empty if missing)."""
    out: Dict[str, tuple] = {}
    if not path.exists():
        return out
    if path.is_file():
        st = path.stat()
        return {".": (st.st_size, st.st_mtime_ns)}
    for p in path.rglob("*"):
        try:
            st = p.lstat()
        except OSError:
            continue
        out[str(p.relative_to(path))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns if p.is_file() else 0)
    return out


def warm_up() -> None:
    """Import linksim's components once (seconds), outside any case's time limit."""
    from linksim.registry import load_builtins

    load_builtins()
    invoke(["validate", str(Path(__file__).resolve().parent / "ok.yaml")], limit_s=600)


def read_header(path: Path) -> Dict[str, str]:
    """The ``# key: value`` lines at the top of a corpus file (``field``, ``why``, ``line``, ``env``)."""
    head: Dict[str, str] = {}
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("ascii", "replace").rstrip("\r\n")
            if not line.startswith("# ") or ": " not in line:
                break
            key, value = line[2:].split(": ", 1)
            head[key.strip()] = value
    return head

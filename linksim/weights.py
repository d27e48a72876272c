"""Trained-weight cache keyed by a hash of (model config, training config, data identity).

A learned system asks :class:`WeightStore` for the weights that match its
configuration. The lookup order is

1. the user's cache (``$LINKSIM_CACHE`` or ``~/.cache/linksim``, ``--cache``);
2. the shipped weights, produced by ``linksim train SCENARIO --ship`` and recorded in a
   ``.json`` beside each file (command, data seed, date, versions): the source tree's
   ``linksim/weights/`` (a checkout or editable install), then the companion
   distribution ``linksim-weights`` (import name ``linksim_weights``) when installed;

and only when neither has them does the system train, then saves into the cache.
Any change of model, training settings or data changes the hash, so stale weights
are never used.

A weights file is used only if its SHA-256 is the one recorded in its ``.json`` when it
was saved: a file that was replaced or damaged is refused with a warning naming it, and
the model is trained again into the cache (a shipped file is never overwritten).

Weights that are missing are trained under :meth:`WeightStore.claim` (a file lock
per key), so that the processes of ``linksim train --jobs N`` (or two users of one
cache) train each model once: a process that finds a model being trained waits for it
and then loads it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .errors import UserError
from .provenance import file_sha256, package_versions
from .files import atomic_write_text
from .weights_manifest import add_to_manifest

SHIPPED_DIR = Path(__file__).resolve().parent / "weights"  # the source tree of linksim-weights
COMPANION_PACKAGE = "linksim_weights"
WEIGHTS_SUFFIX = ".weights.h5"

_HELD_LOCKS: Dict[Path, int] = {}  # lock files this process holds, with their nesting depth


def config_hash(*parts: Dict[str, Any]) -> str:
    """Stable 16-hex-digit hash of JSON-able configuration dicts."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


_VERIFIED: Dict[Tuple[str, int, int], bool] = {}  # (path, size, mtime_ns) -> verdict, per process


def shipped_roots() -> List[Path]:
    """The folders that hold shipped weights, in lookup order.

    The source tree's ``linksim/weights/`` (present in a checkout and an editable
    install), then the installed companion distribution ``linksim-weights``
    (``pip install ./linksim/weights``), which a wheel install of linksim needs:
    linksim's own wheel carries no weights.
    """
    roots = [SHIPPED_DIR] if SHIPPED_DIR.is_dir() else []
    try:
        spec = importlib.util.find_spec(COMPANION_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        root = Path(location).resolve()
        if root not in roots:
            roots.append(root)
    return roots


def meta_path(weights: Path) -> Path:
    """The ``.json`` record beside a weights file (``<key>.json`` for ``<key>.weights.h5``)."""
    return weights.with_name(weights.name[: -len(WEIGHTS_SUFFIX)] + ".json")


def verify_weights(path: Path) -> bool:
    """True if ``path``'s SHA-256 is the one recorded in its ``.json``; else warn on stderr and say False."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return False
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo in _VERIFIED:
        return _VERIFIED[memo]
    record = meta_path(path)
    problem = ""
    try:
        recorded = json.loads(record.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if not isinstance(recorded, str):
        problem = f"it has no readable record of its SHA-256 ({record.name})"
    else:
        actual = file_sha256(path)
        if actual != recorded:
            problem = f"its SHA-256 {actual[:16]}... is not the {recorded[:16]}... recorded in {record.name}"
    if problem:
        print(f"linksim: warning: {path}: {problem}; not used: the model is trained again into the cache",
              file=sys.stderr, flush=True)
    _VERIFIED[memo] = not problem
    return not problem


def _command_line() -> str:
    """This process's command line, as ``linksim ...`` when it is linksim's CLI."""
    program = Path(sys.argv[0])
    if program.name == "linksim" or (program.name == "__main__.py" and program.parent.name == "linksim"):
        return " ".join(["linksim", *sys.argv[1:]])
    return " ".join(sys.argv)


class WeightStore:
    """Where the weights of one kind of model live.

    :param cache_dir: The user's cache root.
    :param kind: Folder name per model family (e.g. ``"memdeepsc"``).
    """

    def __init__(self, cache_dir: Path, kind: str) -> None:
        self.cache_dir = Path(cache_dir) / "weights" / kind
        self.shipped_dir = SHIPPED_DIR / kind  # where ``ship`` writes
        self.companion_dirs = [root / kind for root in shipped_roots() if root != SHIPPED_DIR]
        self.kind = kind

    def cache_path(self, key: str) -> Path:
        return self.cache_dir / f"{key}{WEIGHTS_SUFFIX}"

    def find(self, key: str) -> Optional[Path]:
        """The verified weights file for ``key`` (cache first, then shipped), or None.

        A file whose SHA-256 differs from its record (or that has no record) is skipped
        with a warning on stderr, so the caller trains the model again.
        """
        for folder in (self.cache_dir, self.shipped_dir, *self.companion_dirs):
            path = folder / f"{key}{WEIGHTS_SUFFIX}"
            if path.exists() and verify_weights(path):
                return path
        return None

    def is_shipped(self, path: Path) -> bool:
        """True if ``path`` (from :meth:`find`) is a shipped file rather than one of the user's cache."""
        return any(folder in Path(path).parents for folder in (self.shipped_dir, *self.companion_dirs))

    def load_into(self, model: Any, path: Path) -> None:
        """Load the weights file ``path`` (from :meth:`find` or :meth:`claim`) into a Keras ``model``.

        :raises UserError: the file does not fit the model (it names the file).
        """
        try:
            model.load_weights(str(path))
        except Exception as exc:  # h5py, Keras and shape errors alike: name the file, no traceback
            raise UserError(f"{path}: cannot load these {self.kind} weights into the model "
                            f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); delete the file "
                            f"(and its .json) to train the model again") from None

    @contextmanager
    def claim(self, key: str) -> Iterator[Optional[Path]]:
        """Look up ``key``; when missing, hold its training lock and look again.

        ``with store.claim(key) as path:`` yields the weights file, or None while this
        process holds the lock and must train and :meth:`save` them inside the block.
        A present file is yielded without locking (saves are atomic renames), so
        loading shipped weights needs no writable cache.
        """
        path = self.find(key)
        if path is not None:
            yield path
            return
        with self.training_lock(key):
            yield self.find(key)  # another process may have saved it while we waited

    @contextmanager
    def training_lock(self, key: str) -> Iterator[None]:
        """Hold the exclusive training lock of ``key`` (waits while another process holds it).

        The lock is an ``flock`` on ``<cache>/.<key>.lock``, released when the process
        dies; it is re-entrant within a process (a SemCC model without fine-tuning is
        its own stage-1 checkpoint). Without ``fcntl`` (Windows) it does nothing.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no POSIX locks: parallel training may duplicate work
            yield
            return
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            lock_path = (self.cache_dir / f".{key}.lock").resolve()
            open(lock_path, "a").close()
        except OSError as exc:
            raise UserError(f"--cache: {self.kind} weights {key} must be trained, but the cache {self.cache_dir} "
                            f"is not writable ({exc.strerror or exc}); give a writable --cache") from None
        if _HELD_LOCKS.get(lock_path):
            _HELD_LOCKS[lock_path] += 1
            try:
                yield
            finally:
                _HELD_LOCKS[lock_path] -= 1
            return
        with open(lock_path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another process training {self.kind} weights {key} ...", file=sys.stderr,
                      flush=True)
                fcntl.flock(handle, fcntl.LOCK_EX)
            _HELD_LOCKS[lock_path] = 1
            for stale in self.cache_dir.glob(f".{key}{WEIGHTS_SUFFIX}.*.tmp{WEIGHTS_SUFFIX}"):
                stale.unlink(missing_ok=True)  # left by a killed process that trained this key
            try:
                yield
            finally:
                del _HELD_LOCKS[lock_path]
                fcntl.flock(handle, fcntl.LOCK_UN)

    def save(self, model: Any, key: str, info: Dict[str, Any]) -> Path:
        """Save a Keras model's weights under ``key`` with a metadata ``.json`` beside it.

        The ``.json`` is written first and the weights renamed into place last, so a
        process that finds the weights (without the lock) also finds their metadata.
        """
        path = self.cache_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{WEIGHTS_SUFFIX}")  # one per process
        try:
            model.save_weights(str(tmp))
            meta = {
                "key": key,
                "kind": self.kind,
                "sha256": file_sha256(tmp),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "command": _command_line(),
                "versions": package_versions(),
                **info,
            }
            atomic_write_text(meta_path(path), json.dumps(meta, indent=1, default=str))
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def ship(self, key: str, command: str) -> Path:
        """Copy cached weights into the source tree's shipped folder, recording ``command``.

        Weights already shipped with the same content are left as they are, with the
        command that first shipped them (e.g. a classifier shared by many scenarios).
        The folder's ``MANIFEST.json`` gets the file's entry.
        """
        src = self.find(key)
        if src is None:
            raise FileNotFoundError(f"no weights {key!r} of kind {self.kind!r} to ship")
        meta_src = meta_path(src)
        self.shipped_dir.mkdir(parents=True, exist_ok=True)
        dst = self.shipped_dir / src.name
        if dst.exists() and meta_path(dst).exists() and file_sha256(dst) == file_sha256(src):
            add_to_manifest(self.shipped_dir.parent, dst)
            return dst
        if src != dst:
            shutil.copyfile(src, dst)
        meta = json.loads(meta_src.read_text()) if meta_src.exists() else {}
        meta["command"] = command
        atomic_write_text(meta_path(dst), json.dumps(meta, indent=1, default=str))
        add_to_manifest(self.shipped_dir.parent, dst)
        return dst

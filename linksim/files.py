"""Files on disk, written so that nothing already there is lost.

* :func:`atomic_write_bytes` / :func:`atomic_write_text`: readers see the old file or
  the new one, never half of one; the temporary file (``.<name>.<random>.tmp``) is
  removed on failure, and :func:`clean_stale_temp_files` removes those a killed
  process left behind.
* :func:`check_writable_folder`: an output folder is usable (a folder, creatable,
  writable) before any work starts, so a bad ``--out`` fails at once, not after training.
* :class:`FolderLock`: one linksim run per output folder; the lock file names its holder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional

from .errors import UserError

TEMP_SUFFIX = ".tmp"
LOCK_FILE = ".linksim.lock"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename).

    The file gets the usual permissions (0666 less the umask), not the 0600 of a
    temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def is_temp_file(name: str) -> bool:
    """True for a temporary file of :func:`atomic_write_bytes` (and the older ``.results.json.XXXX`` form)."""
    if not name.startswith("."):
        return False
    if name.endswith(TEMP_SUFFIX):
        return True
    return any(name.startswith(f".{stem}.") and len(name) > len(stem) + 2
               for stem in ("results.json", "results.csv"))


def clean_stale_temp_files(folder: Path, *, older_than_s: float = 0.0) -> int:
    """Remove temporary files of interrupted writes in ``folder``; returns how many.

    :param older_than_s: Only files not modified for this long (for folders that other
        processes may be writing into without a lock, such as a shared ``plots/``).
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not is_temp_file(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime >= older_than_s:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass
    return removed


def ensure_folder(path: Path, option: str) -> Path:
    """Make sure ``path`` is a folder, creating it (and its parents) if missing.

    :param option: How the user gave it (``--out``, ``--plots``, ``--cache``), for messages.
    :raises UserError: a file is there, a parent is a file, or it cannot be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option}: {path} is not a folder (a file or device is there)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{option}: {path}: a part of the path is a file, not a folder") from None
    except OSError as exc:
        if not path.is_dir():  # e.g. an existing read-only folder answers EACCES/EROFS
            raise UserError(f"{option}: cannot create the folder {path}: {exc.strerror or exc}") from None
    return path


def check_writable_folder(path: Path, option: str) -> Path:
    """Make sure ``path`` is a folder this process can write into (create it if missing).

    :param option: How the user gave it (``--out``, ``--plots``), for messages.
    :raises UserError: a file is there, a parent is a file, or the folder is not writable.
    """
    path = ensure_folder(path, option)
    try:
        fd, probe = tempfile.mkstemp(prefix=".linksim-probe.", suffix=TEMP_SUFFIX, dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{option}: cannot write into the folder {path}: {exc.strerror or exc}") from None
    return path


def _holder() -> Dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(["linksim", *sys.argv[1:]])
            if Path(sys.argv[0]).name == "linksim" else " ".join(sys.argv),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


class FolderLock:
    """An exclusive lock on an output folder, held while a run writes into it.

    The lock is an ``flock`` on ``<folder>/.linksim.lock``, which records the holder
    (pid, host, command, start time). The operating system releases it when the
    process ends, however it ends, so a killed run never leaves a folder locked.
    Without ``fcntl`` (Windows) the lock does nothing.

    :param folder: The folder (must exist).
    :param option: How the user gave it (``--out``), for messages.
    """

    def __init__(self, folder: Path, option: str = "--out") -> None:
        self.folder = Path(folder)
        self.option = option
        self.path = self.folder / LOCK_FILE
        self._fd: Optional[int] = None

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise :class:`UserError` naming the folder and its holder."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no POSIX locks
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            except OSError as exc:
                raise UserError(f"{self.option}: cannot lock {self.folder}: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read_holder(fd)
                os.close(fd)
                raise UserError(f"{self.option}: {self.folder} is in use by another linksim run ({holder}); "
                                f"wait for it to finish or choose another folder") from None
            try:  # the previous holder may have removed the file between our open and flock
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(_holder()) + "\n").encode())
        self._fd = fd

    @staticmethod
    def _read_holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            return f"pid {info['pid']} on {info['host']} since {info['since']}: {info['command']}"
        except (ValueError, KeyError, TypeError, OSError):
            return "holder unknown"

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)  # closing releases the flock
        self._fd = None

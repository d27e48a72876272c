"""Shared helpers for datasets fetched over the network: cache folder, download, checksum, safe tar.

Every dataset keeps its own ``_urlopen`` (replaced in tests) and its own message for
:class:`~linksim.errors.DataUnavailableError`; this module only does the mechanics.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

from ..errors import DataUnavailableError, UserError
from ..paths import CACHE_ENV_VAR, cache_root  # noqa: F401  (re-exported for the loaders)

#: Environment variable naming linksim's cache root (default ``~/.cache/linksim``).

#: Seconds a download may wait on the network before it gives up.
DOWNLOAD_TIMEOUT_S = 60


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``"sha256"``, ``"md5"``, any :func:`hashlib.new` name)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, target: Path, *, opener: Callable[..., Any],
                  unavailable: Callable[[str], DataUnavailableError],
                  timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Download ``url`` to ``target`` (via ``target.part``, renamed when complete).

    :param opener: ``urlopen``-like callable (the caller's, so that tests can replace it).
    :param unavailable: Builds the error raised when the download fails, from a
        one-line reason.
    :raises DataUnavailableError: offline, HTTP error, timeout.
    """
    target = Path(target)
    created = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with opener(url, timeout=timeout) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, HTTP errors, timeouts
        partial.unlink(missing_ok=True)
        for folder in created:  # deepest first: leave the cache as it was
            try:
                folder.rmdir()
            except OSError:
                break
        raise unavailable(f"downloading {url} failed ({exc})") from None
    os.replace(partial, target)


def verify_checksum(path: Path, expected: str, algorithm: str, *,
                    unavailable: Callable[[str], DataUnavailableError], delete: bool = True,
                    what: Optional[str] = None) -> None:
    """Check ``path``'s digest; on mismatch delete it (if ``delete``) and raise.

    :param what: How the message names the file (default: its path).
    :raises DataUnavailableError: built by ``unavailable`` with the actual and
        expected digests.
    """
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        if delete:
            Path(path).unlink(missing_ok=True)
        note = " (the file was deleted)" if delete else ""
        raise unavailable(f"checksum mismatch for {what or path}: {algorithm.upper()} {actual}, "
                          f"expected {expected}{note}")


def safe_members(tar: tarfile.TarFile, prefixes: Sequence[str]) -> List[tarfile.TarInfo]:
    """Regular files and folders of ``tar`` under one of ``prefixes`` (each ending in
    ``/``, or equal to the folder name); links and escaping paths are rejected.

    :raises UserError: naming the archive and the unsafe member.
    """
    members = []
    for member in tar.getmembers():
        name = member.name
        if not any(name == prefix.rstrip("/") or name.startswith(prefix) for prefix in prefixes):
            continue
        if name.startswith("/") or ".." in Path(name).parts or not (member.isfile() or member.isdir()):
            raise UserError(f"{tar.name}: unsafe archive member {name!r}")
        members.append(member)
    return members


def extract_members(tar: tarfile.TarFile, destination: Path, members: List[tarfile.TarInfo]) -> None:
    """Extract ``members`` (from :func:`safe_members`) into ``destination``."""
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: also let tarfile vet members
        tar.extractall(destination, members=members, filter="data")
    else:
        tar.extractall(destination, members=members)

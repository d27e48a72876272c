"""Provenance of a run: versions, device, git revision, host, time."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Dict

_PACKAGES = ("linksim", "torch", "sionna-no-rt", "keras", "numpy", "scipy", "matplotlib", "pydantic")


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (weights, downloaded archives)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> Dict[str, str]:
    """Installed versions of the packages that shape linksim's numbers."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision() -> str:
    """The git commit of the linksim source tree (``+dirty`` if modified), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_description(device: str) -> str:
    """Human-readable name of the compute device."""
    if device.startswith("cuda"):
        import torch

        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def collect_provenance(*, device: str, scenario_hash: str, seed: int, quick: bool) -> Dict[str, Any]:
    """Provenance fields stored in every results file."""
    return {
        "versions": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device,
        "device_name": device_description(device),
        "git_revision": git_revision(),
        "scenario_hash": scenario_hash,
        "seed": seed,
        "seed_rule": "sha256('linksim/{seed}/{system}/{point_index}/{batch_index}') mod 2**63",
        "quick": quick,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }

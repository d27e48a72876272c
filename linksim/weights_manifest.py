"""The manifest of the shipped weights: one list of every file, with SHA-256 and a readable name.

The shipped weights (``linksim/weights/<kind>/<key>.weights.h5`` and the ``.json`` record
beside each) are also the companion distribution ``linksim-weights`` (its
``pyproject.toml`` sits in the same folder; see ``linksim/weights/README.md``). Their
``MANIFEST.json`` lists every weights file as

``{"path": "<kind>/<key>.weights.h5", "kind", "key", "name", "sha256", "bytes", "trained_by", "created"}``

where ``name`` reads like ``semcc_awgn_20db: image_jscc semcc, k=8, 20 dB`` (from the
record: the scenario of the command that trained it and what the model is), and
``sha256`` is the record's, which :func:`linksim.weights.verify_weights` checks before
any file is used. ``linksim train --ship`` rewrites the manifest;
``linksim weights verify`` checks files, records and manifest against each other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

from .files import atomic_write_text
from .provenance import file_sha256

MANIFEST_NAME = "MANIFEST.json"
FORMAT = 1
_SUFFIX = ".weights.h5"


def _scenario_of(command: str) -> str:
    """``semcc_awgn_20db`` for ``linksim train scenarios/semcc_awgn_20db.yaml --ship``; else ``""``."""
    match = re.search(r"([\w.-]+)\.ya?ml\b", command or "")
    return match.group(1) if match else ""


def readable_name(record: Dict[str, Any]) -> str:
    """A one-line description of a weights record (scenario, model, code length, training SNR, EDR)."""
    what = record.get("method") or record.get("model") or " ".join(
        str(part) for part in (record.get("kind"), record.get("role")) if part)
    details = [str(what)]
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    channel = record.get("channel") if isinstance(record.get("channel"), dict) else {}
    if config.get("memory") is False:
        details.append("without memory")
    if config.get("symbols"):
        details.append(f"{config['symbols']} symbols")
    if channel.get("type"):
        details.append(str(channel["type"]))
    if record.get("k") not in (None, ""):
        details.append(f"k={record['k']}")
    if record.get("train_snr_db") not in (None, ""):
        details.append(f"{float(record['train_snr_db']):g} dB")
    if record.get("erased_ratio") not in (None, ""):
        details.append(f"EDR {100 * float(record['erased_ratio']):g} %")
    scenario = _scenario_of(str(record.get("command", "")))
    return f"{scenario}: {', '.join(details)}" if scenario else ", ".join(details)


def weight_files(root: Path) -> List[Path]:
    """Every ``<kind>/<key>.weights.h5`` below ``root``, sorted."""
    return sorted(Path(root).glob(f"*/*{_SUFFIX}"))


def manifest_entry(root: Path, path: Path) -> Dict[str, Any]:
    """The manifest entry of the weights file ``path`` below ``root``, from its ``.json`` record."""
    record_path = path.with_name(path.name[: -len(_SUFFIX)] + ".json")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    return {
        "path": path.relative_to(root).as_posix(),
        "kind": path.parent.name,
        "key": path.name[: -len(_SUFFIX)],
        "name": readable_name(record),
        "sha256": record.get("sha256"),
        "bytes": path.stat().st_size,
        "trained_by": record.get("command"),
        "created": record.get("created"),
    }


def _manifest(entries: List[Dict[str, Any]]) -> Dict[str, Any]:
    entries = sorted(entries, key=lambda entry: entry["path"])
    return {"format": FORMAT, "files": entries, "total_bytes": sum(entry["bytes"] for entry in entries)}


def build_manifest(root: Path) -> Dict[str, Any]:
    """The manifest of the weights below ``root``, from their ``.json`` records (files are not hashed)."""
    root = Path(root)
    return _manifest([manifest_entry(root, path) for path in weight_files(root)])


def add_to_manifest(root: Path, path: Path) -> None:
    """Add (or refresh) the entry of the weights file ``path`` in ``root/MANIFEST.json``."""
    root = Path(root)
    entries = {entry["path"]: entry for entry in (read_manifest(root) or {}).get("files", [])}
    entry = manifest_entry(root, Path(path))
    entries[entry["path"]] = entry
    atomic_write_text(root / MANIFEST_NAME, json.dumps(_manifest(list(entries.values())), indent=1) + "\n")


def write_manifest(root: Path) -> Path:
    """Rewrite ``root/MANIFEST.json`` from the records below ``root``."""
    path = Path(root) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(build_manifest(root), indent=1) + "\n")
    return path


def read_manifest(root: Path) -> Optional[Dict[str, Any]]:
    """The manifest below ``root``, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((Path(root) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def manifest_problems(root: Path, hash_files: bool = True) -> List[str]:
    """What is wrong between the files below ``root``, their records and the manifest (empty: all agree).

    :param hash_files: Also hash every weights file against the manifest (about 1 s per 200 MB).
    """
    root = Path(root)
    manifest = read_manifest(root)
    if manifest is None:
        return [f"{root / MANIFEST_NAME}: missing or not JSON (run `linksim weights manifest`)"]
    problems = []
    listed = {entry["path"]: entry for entry in manifest.get("files", [])}
    built = {entry["path"]: entry for entry in build_manifest(root)["files"]}
    for path in sorted(set(built) - set(listed)):
        problems.append(f"{path}: not in {MANIFEST_NAME}")
    for path in sorted(set(listed) - set(built)):
        problems.append(f"{path}: listed in {MANIFEST_NAME} but missing")
    for path in sorted(set(listed) & set(built)):
        if listed[path] != built[path]:
            fields = sorted(k for k in set(listed[path]) | set(built[path]) if listed[path].get(k) != built[path].get(k))
            problems.append(f"{path}: {MANIFEST_NAME} differs from the file and its record in {', '.join(fields)}")
        elif hash_files and file_sha256(root / path) != listed[path]["sha256"]:
            problems.append(f"{path}: SHA-256 differs from {MANIFEST_NAME} and the record")
    return problems

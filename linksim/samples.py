"""Sample-image grids of a scenario (``samples:``): collected after the sweep, drawn as PDF.

:func:`collect_samples` sets up each system a grid names, seeds it from
``batch_seed(seed, label, point, SAMPLE_BATCH)`` and asks its ``sample_images`` for the
first ``images`` test images at the grid's sweep point; everything goes into
``samples.npz`` beside ``results.json`` (written atomically). :func:`render_samples`
draws one grid from that file, so ``linksim plot`` redraws it without simulating:
the originals in the first row, one row per system below, each system's note (e.g. the
MI leakage and PSNR of that image) under its image.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from .files import atomic_write_bytes

SAMPLES_FILE = "samples.npz"
#: The batch index of the seed of the samples (far from any Monte-Carlo batch).
SAMPLE_BATCH = 10**9


def collect_samples(scenario: Any, runtime: Any, out_dir: Path) -> Optional[Path]:
    """Collect every grid of ``scenario.samples`` into ``out_dir/samples.npz`` (None when it has none)."""
    import torch

    from .assembly import Runtime  # noqa: F401  (the runtime's type)
    from .runner import batch_seed, seed_everything, set_up_system

    if not scenario.samples:
        return None
    labels = [spec.label for spec in scenario.systems]
    points = scenario.sweep.points()
    arrays: Dict[str, np.ndarray] = {}
    meta: List[Dict[str, Any]] = []
    systems: Dict[str, Any] = {}
    for i, spec in enumerate(scenario.samples):
        rows = []
        for j, label in enumerate(spec.systems):
            if label not in systems:
                systems[label] = set_up_system(scenario, labels.index(label), runtime)
            seed_everything(batch_seed(scenario.seed, label, spec.point, SAMPLE_BATCH))
            with torch.no_grad():
                sample = systems[label].sample_images(dict(points[spec.point]), spec.images)
            arrays[f"g{i}_original"] = np.asarray(sample["original"], dtype=np.uint8)
            arrays[f"g{i}_r{j}"] = np.asarray(sample["output"], dtype=np.uint8)
            rows.append({"label": label, "notes": [str(note) for note in sample.get("notes", [])]})
        meta.append({"file": spec.file, "point": dict(points[spec.point]), "rows": rows, "title": spec.title})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(out_dir) / SAMPLES_FILE
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_samples(directory: Path) -> Optional[Dict[str, Any]]:
    """The grids stored in ``directory/samples.npz``: ``{file: {"original", "rows": [(label, images, notes)]}}``."""
    path = Path(directory) / SAMPLES_FILE
    if not path.exists():
        return None
    with np.load(path) as data:
        meta = json.loads(bytes(data["meta"]).decode("utf-8"))
        out = {}
        for i, grid in enumerate(meta):
            out[grid["file"]] = {"original": data[f"g{i}_original"], "point": grid["point"], "title": grid["title"],
                                 "rows": [(row["label"], data[f"g{i}_r{j}"], row["notes"])
                                          for j, row in enumerate(grid["rows"])]}
    return out


def render_samples(grid: Dict[str, Any], footer: str = "", fmt: str = "pdf") -> bytes:
    """One grid as ``fmt`` (PDF) bytes: originals on top, one row per system, notes under the images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("original", grid["original"], [""] * len(grid["original"]))] + list(grid["rows"])
    cols = len(grid["original"])
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.6 * cols + 1.6, 1.75 * len(rows) + 0.6), squeeze=False)
    for r, (label, images, notes) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            image = images[c]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None,
                      vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(notes) and notes[c]:
                ax.set_xlabel(notes[c], fontsize=6)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    point = ", ".join(f"{k} = {v:g}" for k, v in grid["point"].items())
    fig.suptitle((grid.get("title") or "Samples") + (f" ({point})" if point else ""), fontsize=9)
    if footer:
        fig.text(0.01, 0.005, footer, fontsize=5, va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=100)
    plt.close(fig)
    return buffer.getvalue()

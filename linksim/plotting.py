"""Figures: draw the scenario's :class:`~linksim.scenario.FigureSpec` list as PDFs.

Figures are drawn from a results file only (``linksim plot RESULTS`` redraws without
simulating). Each curve shows the estimate with its confidence interval as error
bars; closed-form theory curves are dashed; a footer names the data and the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from .registry import theory
from .results import ResultStore, atomic_write_bytes, metric_rows
from .scenario import FigureSpec

_MARKERS = "osD^v<>pP*Xh"

_AXIS_LABELS = {
    "snr_db": "SNR $E_s/N_0$ (dB)",
    "ebno_db": "$E_b/N_0$ (dB)",
    "ber": "BER",
    "bler": "BLER",
    "ser": "SER",
    "accuracy": "Answer accuracy",
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "bandwidth_ratio": "Bandwidth ratio $k/n$",
    "symbols_per_message": "Symbols per message",
}


def _data_label(data: Any) -> str:
    """A short description of a system's data provenance (a string or a dict)."""
    if isinstance(data, dict):
        name = data.get("dataset", "")
        source = data.get("source", "")
        return f"{name}: {source}" if name and source else str(source or name or data)
    return str(data)


def _footer(store: ResultStore) -> str:
    prov = store.provenance
    data = {_data_label(info.get("data")) for info in prov.get("systems", {}).values()
            if isinstance(info, dict) and info.get("data")}
    parts = []
    if data:
        parts.append("data: " + "; ".join(sorted(str(d) for d in data)))
    parts.append(f"linksim run {store.scenario.get('name')} ({store.scenario_hash}), {prov.get('device_name', prov.get('device', '?'))}")
    if prov.get("quick"):
        parts.append("QUICK MODE (few batches, tiny models)")
    return " | ".join(parts)


def draw_figure(store: ResultStore, spec: FigureSpec, path: Path) -> Path:
    """Draw one figure to ``path`` (PDF) and return it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .metrics import get_metric

    scenario = store.scenario
    x_name = spec.x or scenario["sweep"]["parameter"]
    metric = get_metric(spec.y)
    log = (spec.scale == "log") if spec.scale is not None else metric.is_error_rate
    labels = spec.systems or [s["label"] for s in scenario["systems"]]
    rows = [r for r in metric_rows(store) if r.metric == spec.y]

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    xs_all: List[float] = []
    for k, label in enumerate(labels):
        pts = sorted((r for r in rows if r.system == label), key=lambda r: r.point[x_name])
        if log:
            pts = [r for r in pts if r.value > 0]  # zero errors cannot be drawn on a log axis
        if not pts:
            continue
        x = np.array([r.point[x_name] for r in pts])
        y = np.array([r.value for r in pts])
        xs_all.extend(x.tolist())
        kwargs: Dict[str, Any] = dict(marker=_MARKERS[k % len(_MARKERS)], label=label, capsize=2.5, linewidth=1.4)
        if spec.ci:
            lo = np.array([r.ci_low for r in pts])
            hi = np.array([r.ci_high for r in pts])
            ok = np.isfinite(lo) & np.isfinite(hi)
            err = np.zeros((2, len(pts)))
            err[0, ok] = np.clip(y[ok] - lo[ok], 0, None)
            err[1, ok] = np.clip(hi[ok] - y[ok], 0, None)
            ax.errorbar(x, y, yerr=err, **kwargs)
        else:
            ax.plot(x, y, **{k2: v for k2, v in kwargs.items() if k2 != "capsize"})
    grid = np.linspace(min(xs_all), max(xs_all), 200) if xs_all else np.array(_sweep_grid(scenario))
    for curve in spec.theory:
        fn = theory.get(curve.type)
        yth = np.asarray(fn(grid, **curve.params), dtype=float)
        if log:
            yth = np.where(yth > 0, yth, np.nan)
        ax.plot(grid, yth, linestyle="--", color="0.35", linewidth=1.1, label=curve.label or f"{curve.type} (theory)")
    if log:
        ax.set_yscale("log")
    if spec.ylim is not None:
        ax.set_ylim(*spec.ylim)
    ax.set_xlabel(spec.xlabel or _AXIS_LABELS.get(x_name, x_name))
    ax.set_ylabel(spec.ylabel or _AXIS_LABELS.get(spec.y, spec.y))
    ax.set_title(spec.title or scenario.get("name", ""))
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.text(0.01, 0.005, _footer(store), fontsize=5.5, color="0.4", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _sweep_grid(scenario: Dict[str, Any]) -> List[float]:
    from .scenario import SweepSpec

    return SweepSpec.model_validate(scenario["sweep"]).grid()


def draw_figures(store: ResultStore, plots_dir: Path, only: Optional[List[str]] = None) -> List[Path]:
    """Draw every figure of the store's scenario into ``plots_dir``."""
    out = []
    for raw in store.scenario.get("figures", []):
        spec = FigureSpec.model_validate(raw)
        if only and spec.file not in only:
            continue
        out.append(draw_figure(store, spec, Path(plots_dir) / spec.file))
    return out


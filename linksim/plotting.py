"""Figures: draw the scenario's :class:`~linksim.scenario.FigureSpec` list as PDFs.

Figures are drawn from a results file only (``linksim plot RESULTS`` redraws without
simulating). Each curve shows the estimate with its confidence interval as error
bars; closed-form theory curves are dashed; a footer names the data and the run.
The scenario's tables (:class:`~linksim.scenario.TableSpec`) are written beside the
figures by :func:`draw_outputs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from pydantic import ValidationError

from .errors import UserError
from .files import atomic_write_bytes
from .registry import format_validation_error, theory
from .results import (MetricRow, ResultStore, build_table, metric_rows, sweep_grid, table_csv,
                      table_markdown, value_label)
from .scenario import FigureSpec, TableSpec

_MARKERS = "osD^v<>pP*Xh"

def axis_label(name: str, scenario: Dict[str, Any]) -> str:
    """The axis label of ``name``: a metric's :attr:`~linksim.metrics.Metric.label`, or the
    ``sweep_labels`` of the scenario's systems for a sweep parameter; else the name."""
    from .registry import metrics, systems

    if name in metrics:
        return metrics.get(name)().label or name
    for spec in scenario.get("systems", []):
        kind = spec.get("type", "")
        if kind in systems:
            label = getattr(systems.get(kind), "sweep_labels", {}).get(name)
            if label:
                return label
    return name


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
    notes = {str(info["footer_note"]) for info in prov.get("systems", {}).values()
             if isinstance(info, dict) and info.get("footer_note")}
    parts += sorted(notes)
    parts.append(f"linksim run {store.scenario.get('name')} ({store.scenario_hash}), {prov.get('device_name', prov.get('device', '?'))}")
    if prov.get("quick"):
        parts.append("QUICK MODE (few batches, tiny models)")
    return " | ".join(parts)


def _error_bars(rows: List[MetricRow], values: np.ndarray) -> np.ndarray:
    """Asymmetric error bars (2 x n) of ``rows``' confidence intervals (0 where undefined)."""
    lo = np.array([r.ci_low for r in rows], dtype=float)
    hi = np.array([r.ci_high for r in rows], dtype=float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    err = np.zeros((2, len(rows)))
    err[0, ok] = np.clip(values[ok] - lo[ok], 0, None)
    err[1, ok] = np.clip(hi[ok] - values[ok], 0, None)
    return err


def render_figure(store: ResultStore, spec: FigureSpec) -> bytes:
    """Draw one figure and return the PDF bytes.

    With ``x`` the swept parameter each system is a curve over the sweep; with ``x`` a
    metric each system is a curve through its sweep points at (x estimate, y estimate),
    with error bars in both directions and each point annotated with its swept value.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, NullLocator

    from .metrics import get_metric

    if spec.kind == "heatmap":
        return render_heatmap(store, spec)
    scenario = store.scenario
    param = scenario["sweep"]["parameter"]
    x_name = spec.x or param
    parametric = x_name != param
    metric = get_metric(spec.y)
    log = (spec.scale == "log") if spec.scale is not None else metric.is_error_rate
    logx = spec.xscale == "log"
    labels = spec.systems or [s["label"] for s in scenario["systems"]]
    all_rows = metric_rows(store)
    rows = [r for r in all_rows if r.metric == spec.y]
    x_rows = {(r.system, r.point_index): r for r in all_rows if r.metric == x_name} if parametric else {}

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    if spec.kind == "bar":
        _draw_bars(ax, spec, rows, labels, param, log)
        return _finish(fig, ax, store, spec, x_name, parametric=False, param=param)
    xs_all: List[float] = []
    for k, label in enumerate(labels):
        pts = sorted((r for r in rows if r.system == label), key=lambda r: (r.point[param], r.point_index))
        if parametric:
            pairs = [(r, x_rows[(label, r.point_index)]) for r in pts if (label, r.point_index) in x_rows]
        else:
            pairs = [(r, None) for r in pts]
        xpts = [xr for _, xr in pairs]
        x = np.array([xr.value if xr is not None else r.point[x_name] for r, xr in pairs], dtype=float)
        y = np.array([r.value for r, _ in pairs], dtype=float)
        keep = (y > 0 if log else np.ones(len(y), bool)) & (x > 0 if logx else np.ones(len(x), bool))
        if not keep.any():  # zero errors cannot be drawn on a log axis
            continue
        pts = [r for (r, _), k2 in zip(pairs, keep) if k2]
        xpts = [xr for xr, k2 in zip(xpts, keep) if k2]
        x, y = x[keep], y[keep]
        xs_all.extend(x.tolist())
        kwargs: Dict[str, Any] = dict(marker=_MARKERS[k % len(_MARKERS)], label=label, capsize=2.5, linewidth=1.4)
        if spec.ci:
            xerr = _error_bars(xpts, x) if parametric else None
            lines = ax.errorbar(x, y, yerr=_error_bars(pts, y), xerr=xerr, **kwargs)
            color = lines[0].get_color()
        else:
            color = ax.plot(x, y, **{k2: v for k2, v in kwargs.items() if k2 != "capsize"})[0].get_color()
        if parametric:
            for xi, yi, r in zip(x, y, pts):
                ax.annotate(value_label(r.point[param]), (xi, yi), textcoords="offset points", xytext=(4, 4),
                            fontsize=6, color=color)
    if xs_all and logx:
        grid = np.geomspace(min(xs_all), max(xs_all), 200)
    elif xs_all:
        grid = np.linspace(min(xs_all), max(xs_all), 200)
    else:
        grid = np.array(sweep_grid(scenario))
    for curve in spec.theory:
        fn = theory.get(curve.type)
        yth = np.asarray(fn(grid, **curve.params), dtype=float)
        if log:
            yth = np.where(yth > 0, yth, np.nan)
        ax.plot(grid, yth, linestyle="--", color="0.35", linewidth=1.1, label=curve.label or f"{curve.type} (theory)")
    if log:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    if spec.xticks != "auto" and not parametric:
        ticks = [v for v in sweep_grid(scenario) if not logx or v > 0]
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(ticks, [value_label(v, spec.xticks) for v in ticks])
    return _finish(fig, ax, store, spec, x_name, parametric=parametric, param=param)


def _figure_index(store: ResultStore, spec: FigureSpec) -> int:
    """The index of ``spec`` among the scenario's figures (file names are unique)."""
    files = [raw.get("file") for raw in store.scenario.get("figures", [])]
    return files.index(spec.file) if spec.file in files else 0


def _tick_positions(count: int, most: int = 32) -> List[int]:
    """Indices of at most ``most`` evenly spaced ticks of ``count`` rows or columns."""
    step = max(1, -(-count // most))
    return list(range(0, count, step))


def render_heatmap(store: ResultStore, spec: FigureSpec) -> bytes:
    """Draw the ``kind: heatmap`` figure ``spec``: the matrix its system reported at its point
    (stored in the results' provenance by :func:`~linksim.matrices.collect_matrices`), with a colour bar.

    :raises UserError: ``<results>: figures[i].matrix: ...`` when the results hold no such matrix.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .matrices import Matrix, stored_matrix

    index = _figure_index(store, spec)
    field = f"figures[{index}].matrix"
    raw = stored_matrix(store.provenance, spec.system or "", spec.matrix or "", spec.point)
    if raw is None:
        raise UserError(f"{store.path}: {field}: the results hold no matrix {spec.matrix!r} of system "
                        f"{spec.system!r} at sweep point {spec.point} (run the scenario again to compute it)")
    matrix = Matrix.from_json(raw, f"{store.path}: {field}")
    values = matrix.values
    rows, cols = values.shape
    side = 6.4 if max(rows, cols) > 16 else 5.2
    fig, ax = plt.subplots(figsize=(side + 1.2, side * min(1.6, max(0.5, rows / cols)) + 0.4))
    low, high = spec.clim if spec.clim is not None else (float(values.min()), float(values.max()))
    if low == high:
        low, high = low - 0.5, high + 0.5
    image = ax.imshow(values, cmap=spec.cmap, vmin=low, vmax=high, interpolation="nearest", aspect="auto")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    if matrix.value_label:
        bar.set_label(matrix.value_label, fontsize=8)
    for axis, count, labels, setter in ((ax.yaxis, rows, matrix.rows, ax.set_yticks),
                                        (ax.xaxis, cols, matrix.cols, ax.set_xticks)):
        ticks = _tick_positions(count)
        names = [labels[t] for t in ticks] if labels is not None else [str(t + 1) for t in ticks]
        setter(ticks, names, fontsize=6 if len(ticks) > 16 else 8)
    if cols > 16:
        plt.setp(ax.get_xticklabels(), rotation=90)
    ax.set_xlabel(spec.xlabel or matrix.col_label)
    ax.set_ylabel(spec.ylabel or matrix.row_label)
    param = store.scenario.get("sweep", {}).get("parameter", "")
    grid = sweep_grid(store.scenario)
    where = f"{param} = {value_label(grid[spec.point])}" if spec.point < len(grid) else ""
    title = spec.title or f"{spec.matrix}: {spec.system}" + (f" ({where})" if where else "")
    ax.set_title(title + (f"\n{matrix.note}" if matrix.note else ""), fontsize=9)
    import io
    import textwrap

    footer = textwrap.wrap(_footer(store), width=150)
    fig.text(0.01, 0.005, "\n".join(footer), fontsize=5.5, color="0.4", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.02 + 0.018 * len(footer), 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    return buf.getvalue()


def _draw_bars(ax: Any, spec: FigureSpec, rows: List[MetricRow], labels: List[str], param: str, log: bool) -> None:
    """Grouped bars: one group per sweep value, one bar per system, CI whiskers."""
    values = sorted({r.point[param] for r in rows})
    width = 0.8 / max(len(labels), 1)
    for k, label in enumerate(labels):
        by_value = {r.point[param]: r for r in rows if r.system == label}
        shown = [(i, by_value[v]) for i, v in enumerate(values) if v in by_value]
        if not shown:
            continue
        x = np.array([i for i, _ in shown], dtype=float) + (k - (len(labels) - 1) / 2) * width
        y = np.array([r.value for _, r in shown], dtype=float)
        yerr = _error_bars([r for _, r in shown], y) if spec.ci else None
        ax.bar(x, y, width=width, yerr=yerr, capsize=2.0, label=label, log=log)
    ax.set_xticks(range(len(values)), [value_label(v, "values" if spec.xticks == "auto" else spec.xticks)
                                       for v in values])


def _finish(fig: Any, ax: Any, store: ResultStore, spec: FigureSpec, x_name: str, *, parametric: bool,
            param: str) -> bytes:
    """Limits, labels, title, legend and footer; the PDF bytes."""
    import matplotlib.pyplot as plt

    scenario = store.scenario
    if spec.ylim is not None:
        ax.set_ylim(*spec.ylim)
    ax.set_xlabel(spec.xlabel or axis_label(x_name, scenario))
    ax.set_ylabel(spec.ylabel or axis_label(spec.y, scenario))
    ax.set_title(spec.title or scenario.get("name", ""))
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, title=f"points labelled by {param}" if parametric else None, title_fontsize=7)
    import textwrap

    footer = textwrap.wrap(_footer(store), width=150)
    fig.text(0.01, 0.005, "\n".join(footer), fontsize=5.5, color="0.4", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.02 + 0.018 * len(footer), 1, 1))
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    return buf.getvalue()


def draw_figure(store: ResultStore, spec: FigureSpec, path: Path) -> Path:
    """Draw one figure to ``path`` (PDF, written atomically) and return it."""
    atomic_write_bytes(path, render_figure(store, spec))
    return path


def output_specs(store: ResultStore) -> Tuple[List[FigureSpec], List[TableSpec]]:
    """The figure and table specs of the store's scenario, checked against its names.

    :raises UserError: naming the results file and the field of the first problem.
    """
    scenario = store.scenario
    where = str(store.path)
    metrics = list(scenario.get("metrics", []))
    systems = {s.get("label") for s in scenario.get("systems", [])}
    param = scenario.get("sweep", {}).get("parameter", "snr_db")

    def parse(model: Any, raw: Any, field: str) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise UserError(f"{where}: {format_validation_error(exc, prefix=field)}") from None

    figures = [parse(FigureSpec, raw, f"figures[{i}]") for i, raw in enumerate(scenario.get("figures", []))]
    tables = [parse(TableSpec, raw, f"tables[{i}]") for i, raw in enumerate(scenario.get("tables", []))]
    problems = []
    for i, fig in enumerate(figures):
        if fig.kind == "heatmap":
            if fig.system not in systems:
                problems.append(f"figures[{i}].system: no system labelled {fig.system!r}")
            elif fig.point >= len(sweep_grid(scenario)):
                problems.append(f"figures[{i}].point: {fig.point} is not a sweep point index")
            continue
        if fig.y not in metrics:
            problems.append(f"figures[{i}].y: {fig.y!r} is not one of the scenario's metrics")
        if fig.x not in (None, param) and fig.x not in metrics:
            problems.append(f"figures[{i}].x: {fig.x!r} is neither the swept parameter {param!r} "
                            f"nor one of the scenario's metrics ({', '.join(metrics)})")
        elif fig.kind == "bar" and fig.x not in (None, param):
            problems.append(f"figures[{i}].kind: bar needs x to be the swept parameter {param!r}")
        problems += [f"figures[{i}].systems: no system labelled {s!r}" for s in fig.systems or [] if s not in systems]
    for i, table in enumerate(tables):
        problems += [f"tables[{i}].metrics[{j}]: {m!r} is not one of the scenario's metrics"
                     for j, m in enumerate(table.metrics) if m not in metrics]
        problems += [f"tables[{i}].systems[{j}]: no system labelled {s!r}"
                     for j, s in enumerate(table.systems or []) if s not in systems]
    if problems:
        raise UserError(f"{where}: {problems[0]}")
    return figures, tables


def draw_outputs(
    store: ResultStore, plots_dir: Path, only: Optional[List[str]] = None
) -> Tuple[List[Path], List[Path]]:
    """Draw every figure and table of the store's scenario into ``plots_dir``.

    All outputs are rendered in memory first and written (atomically) only when every
    one succeeded, so bad input leaves earlier files as they were.

    :param only: File names to draw (default: all).
    :returns: The figure paths and the table paths (CSV, and Markdown where enabled).
    """
    plots_dir = Path(plots_dir)
    figures, tables = output_specs(store)
    pending: List[Tuple[Path, bytes]] = []
    fig_paths: List[Path] = []
    table_paths: List[Path] = []
    for spec in figures:
        if only and spec.file not in only:
            continue
        path = plots_dir / spec.file
        pending.append((path, render_figure(store, spec)))
        fig_paths.append(path)
    for spec in tables:
        if only and spec.file not in only:
            continue
        table = build_table(store, spec)
        path = plots_dir / spec.file
        pending.append((path, table_csv(table).encode("utf-8")))
        table_paths.append(path)
        if spec.markdown:
            md = path.with_suffix(".md")
            pending.append((md, table_markdown(table).encode("utf-8")))
            table_paths.append(md)
    from .samples import load_samples, render_samples

    grids = load_samples(store.directory) or {}
    for spec in store.scenario.get("samples", []):
        if (only and spec["file"] not in only) or spec["file"] not in grids:
            continue
        path = plots_dir / spec["file"]
        pending.append((path, render_samples(grids[spec["file"]], _footer(store))))
        fig_paths.append(path)
    for path, data in pending:
        atomic_write_bytes(path, data)
    return fig_paths, table_paths


def draw_figures(store: ResultStore, plots_dir: Path, only: Optional[List[str]] = None) -> List[Path]:
    """Draw every figure (not the tables) of the store's scenario into ``plots_dir``."""
    figures, _ = output_specs(store)
    pending = [(Path(plots_dir) / spec.file, render_figure(store, spec))
               for spec in figures if not only or spec.file in only]
    for path, data in pending:
        atomic_write_bytes(path, data)
    return [path for path, _ in pending]

"""Results: per-point records, atomic persistence, the tidy CSV.

One run directory holds

* ``results.json``: the resolved scenario, its hash, provenance, and one record per
  (system, sweep point) with the accumulated statistics, batches run and why the point
  stopped. It is rewritten atomically (write to a temporary file, then rename) after
  every chunk of batches, so killing a run loses at most the chunk in flight.
* ``results.csv``: the tidy table, one row per (system, sweep value, metric).

Figures (:mod:`linksim.plotting`) and the scenario's pivoted tables
(:func:`build_table`) are drawn from ``results.json`` alone.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from .errors import UserError

FORMAT_VERSION = 1
RESULTS_FILE = "results.json"
CSV_FILE = "results.csv"


@dataclass
class PointRecord:
    """Accumulated statistics of one system at one sweep point."""

    system: str
    point_index: int
    point: Dict[str, float]
    totals: Dict[str, float] = field(default_factory=dict)
    batches: int = 0
    done: bool = False
    stop_reason: str = ""
    elapsed_s: float = 0.0

    def add(self, stats: Dict[str, float]) -> None:
        """Add one batch's statistics to the totals."""
        for key, value in stats.items():
            self.totals[key] = self.totals.get(key, 0.0) + float(value)
        self.batches += 1


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ResultStore:
    """The records of one run directory, persisted atomically.

    :param directory: Run directory (created on first save).
    :param scenario: Resolved scenario as a JSON-able dict.
    :param scenario_hash: Hash of the resolved scenario; resuming requires equality.
    """

    def __init__(self, directory: Path, scenario: Dict[str, Any], scenario_hash: str) -> None:
        self.directory = Path(directory)
        self.scenario = scenario
        self.scenario_hash = scenario_hash
        self.provenance: Dict[str, Any] = {}
        self.records: Dict[tuple, PointRecord] = {}

    @property
    def path(self) -> Path:
        return self.directory / RESULTS_FILE

    @classmethod
    def open(cls, directory: Path, scenario: Dict[str, Any], scenario_hash: str, *, fresh: bool) -> "ResultStore":
        """Open a run directory for writing, resuming earlier records unless ``fresh``.

        :raises UserError: the directory holds results of a different scenario (and
            ``fresh`` was not given): nothing is overwritten.
        """
        store = cls(directory, scenario, scenario_hash)
        if fresh or not store.path.exists():
            return store
        old = load_results(store.path)
        if old.scenario_hash != scenario_hash:
            raise UserError(
                f"{store.path}: holds results of a different scenario (hash {old.scenario_hash}, "
                f"now {scenario_hash}); use --fresh to start over or --out for another directory"
            )
        store.records = old.records
        store.provenance = old.provenance
        return store

    def record(self, system: str, point_index: int, point: Dict[str, float]) -> PointRecord:
        """The record of (system, point), created empty if new."""
        key = (system, point_index)
        if key not in self.records:
            self.records[key] = PointRecord(system, point_index, dict(point))
        return self.records[key]

    def system_records(self, system: str) -> List[PointRecord]:
        return sorted((r for r in self.records.values() if r.system == system), key=lambda r: r.point_index)

    def __iter__(self) -> Iterator[PointRecord]:
        return iter(sorted(self.records.values(), key=lambda r: (r.system, r.point_index)))

    def to_json(self) -> str:
        payload = {
            "linksim_results": FORMAT_VERSION,
            "scenario_hash": self.scenario_hash,
            "scenario": self.scenario,
            "provenance": self.provenance,
            "records": [asdict(r) for r in self],
        }
        return json.dumps(payload, indent=1, sort_keys=False)

    def save(self) -> None:
        """Persist atomically."""
        atomic_write_text(self.path, self.to_json())


def load_results(path: Path | str) -> ResultStore:
    """Read a ``results.json`` (or a run directory containing one).

    :raises UserError: missing or malformed file, named.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such results file") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a linksim results file: {exc}") from None
    if not isinstance(payload, dict) or payload.get("linksim_results") != FORMAT_VERSION:
        raise UserError(f"{path}: not a linksim results file (format {FORMAT_VERSION} expected)")
    store = ResultStore(path.parent, payload["scenario"], payload["scenario_hash"])
    store.provenance = payload.get("provenance", {})
    for raw in payload.get("records", []):
        rec = PointRecord(**raw)
        store.records[(rec.system, rec.point_index)] = rec
    return store


@dataclass(frozen=True)
class MetricRow:
    """One row of the tidy table."""

    system: str
    point: Dict[str, float]
    metric: str
    value: float
    ci_low: float
    ci_high: float
    trials: float
    errors: Optional[float]
    batches: int
    stop_reason: str
    point_index: int = -1


def metric_rows(store: ResultStore) -> List[MetricRow]:
    """Estimates of every scenario metric for every (system, point) that has data."""
    from .metrics import get_metric

    scenario = store.scenario
    mc = scenario.get("monte_carlo", {})
    confidence = mc.get("confidence", 0.95)
    ci_method = mc.get("ci_method", "wilson")
    metrics = [get_metric(name) for name in scenario["metrics"]]
    rows: List[MetricRow] = []
    for rec in store:
        for metric in metrics:
            if not all(k in rec.totals for k in metric.requires):
                continue
            est = metric.estimate(rec.totals, confidence=confidence, ci_method=ci_method)
            rows.append(
                MetricRow(rec.system, rec.point, metric.name, est.value, est.ci_low, est.ci_high,
                          metric.trials(rec.totals), metric.errors(rec.totals), rec.batches, rec.stop_reason,
                          rec.point_index)
            )
    return rows


def write_csv(store: ResultStore, path: Optional[Path] = None) -> Path:
    """Write the tidy CSV (atomically) and return its path.

    Columns: the swept parameter and fixed parameters by their own names, then
    ``system, metric, value, ci_low, ci_high, trials, errors, batches, stop_reason``.
    """
    path = Path(path) if path is not None else store.directory / CSV_FILE
    sweep = store.scenario.get("sweep", {})
    param_cols = [sweep.get("parameter", "snr_db"), *sorted(sweep.get("fixed", {}))]
    header = [*param_cols, "system", "metric", "value", "ci_low", "ci_high", "trials", "errors", "batches", "stop_reason"]
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in metric_rows(store):
        writer.writerow([
            *(row.point.get(c, "") for c in param_cols), row.system, row.metric,
            _fmt(row.value), _fmt(row.ci_low), _fmt(row.ci_high), _fmt(row.trials),
            "" if row.errors is None else _fmt(row.errors), row.batches, row.stop_reason,
        ])
    atomic_write_text(path, buf.getvalue())
    return path


def _fmt(x: float) -> str:
    return repr(float(x))


# --------------------------------------------------------------------------- tables


def fraction_label(value: float, *, max_denominator: int = 100) -> str:
    """A short exact label of ``value``: ``"3"``, ``"1/24"``, ``"1/2.5"``, ``"3/4"``, else ``%.4g``.

    In order: an integer; for values <= 1/2, ``1/x`` with ``x`` an integer or a decimal of
    at most 3 significant digits (0.4 -> ``1/2.5``, as bandwidth ratios are written);
    ``a/b`` with ``b <= max_denominator``. "Exact" means within 1e-9 relative.
    """
    v = float(value)
    if not math.isfinite(v):
        return f"{v:g}"
    if v == 0:
        return "0"
    if v < 0:
        return "-" + fraction_label(-v, max_denominator=max_denominator)

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-9 * abs(b)

    if v >= 1 and close(v, round(v)):
        return str(round(v))
    if v <= 0.5:
        r = 1.0 / v
        if close(r, round(r)):
            return f"1/{round(r)}"
        short = float(f"{r:.3g}")
        if close(r, short):
            return f"1/{short:g}"
    for d in range(2, max_denominator + 1):
        a = round(v * d)
        if a >= 1 and close(v, a / d):
            return f"{a}/{d}"
    return f"{v:.4g}"


def value_label(value: float, style: str = "values") -> str:
    """A sweep value as a column or tick label: ``%g`` (``values``) or :func:`fraction_label`."""
    return fraction_label(value) if style == "fractions" else f"{float(value):g}"


@dataclass(frozen=True)
class Table:
    """A pivoted table: ``header`` and string ``rows`` (CSV cells) plus Markdown cells."""

    header: List[str]
    rows: List[List[str]]
    md_rows: List[List[str]]


def sweep_grid(scenario: Dict[str, Any]) -> List[float]:
    """The sweep values of a resolved scenario dict."""
    from .scenario import SweepSpec

    return SweepSpec.model_validate(scenario["sweep"]).grid()


def build_table(store: ResultStore, spec: Any) -> Table:
    """The table of a :class:`~linksim.scenario.TableSpec`, from the store's records alone.

    Columns ``metric, system, <parameter>=<value>...`` (one per sweep value, in sweep
    order); one row per metric (in the spec's order) per system (the spec's
    ``systems`` or all, in scenario order). Cells hold ``scale[metric] * estimate``,
    formatted with ``spec.format`` (CSV default: full precision; Markdown default
    ``{:.4g}``), empty (Markdown ``-``) where the point has no data.
    """
    scenario = store.scenario
    param = scenario["sweep"].get("parameter", "snr_db")
    grid = sweep_grid(scenario)
    labels = spec.systems or [s["label"] for s in scenario["systems"]]
    values = {(r.metric, r.system, r.point_index): r.value for r in metric_rows(store)}
    header = ["metric", "system", *(f"{param}={value_label(v, spec.labels)}" for v in grid)]
    rows, md_rows = [], []
    for metric in spec.metrics:
        scale = float(spec.scale.get(metric, 1.0))
        for label in labels:
            cells, md_cells = [], []
            for i in range(len(grid)):
                value = values.get((metric, label, i))
                if value is None or not math.isfinite(value):
                    cells.append("")
                    md_cells.append("-")
                    continue
                scaled = scale * value
                cells.append(spec.format.format(scaled) if spec.format else _fmt(scaled))
                md_cells.append(spec.format.format(scaled) if spec.format else f"{scaled:.4g}")
            rows.append([metric, label, *cells])
            md_rows.append([metric, label, *md_cells])
    return Table(header, rows, md_rows)


def table_csv(table: Table) -> str:
    """The table as CSV text."""
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.header)
    writer.writerows(table.rows)
    return buf.getvalue()


def table_markdown(table: Table) -> str:
    """The table as a Markdown (pipe) table."""
    def line(cells: List[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(table.header), "|" + "|".join(["---", "---"] + ["---:"] * (len(table.header) - 2)) + "|"]
    out += [line(r) for r in table.md_rows]
    return "\n".join(out) + "\n"

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Dict, Iterator, List, Optional, Sequence

from pydantic import Field, StrictInt, ValidationError, field_validator

from .errors import UserError
from .files import atomic_write_text
from .registry import format_validation_error
from .validation import StrictFields

FORMAT_VERSION = 1
RESULTS_FILE = "results.json"
#: Largest magnitude of an accumulated statistic read back (sums of squares stay finite).
MAX_TOTAL = 1e150
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


class _RecordFile(StrictFields):
    """One record of ``results.json`` as read back (every field checked)."""

    system: str = Field(..., max_length=200)
    point_index: int = Field(..., ge=0, lt=100_000)
    point: Dict[str, float] = Field(..., max_length=100)
    totals: Dict[str, Annotated[float, Field(ge=-MAX_TOTAL, le=MAX_TOTAL)]] = Field(..., max_length=1000)
    batches: int = Field(..., ge=0)
    done: bool
    stop_reason: str = Field(..., max_length=1000)
    elapsed_s: float = Field(0.0, ge=0)


class _ResultsFile(StrictFields):
    """The top level of ``results.json`` as read back."""

    linksim_results: StrictInt
    scenario_hash: str = Field(..., max_length=200)
    scenario: Dict[str, Any]
    provenance: Dict[str, Any] = Field(default_factory=dict)
    records: List[_RecordFile] = Field(default_factory=list)

    @field_validator("linksim_results")
    @classmethod
    def _version(cls, version: int) -> int:
        if version != FORMAT_VERSION:
            raise ValueError(f"format version {version} is not {FORMAT_VERSION}, the one this linksim reads")
        return version


#: Largest results file read (bytes); a run of 100 systems x 1000 points is far below it.
MAX_RESULTS_BYTES = 256 << 20
#: Fields a results file's scenario always holds (linksim stores it with every default filled in).
_RESOLVED_FIELDS = ("name", "sweep", "systems", "metrics", "monte_carlo")


def load_results(path: Path | str, *, plugins: Sequence[str] = ()) -> ResultStore:
    """Read a ``results.json`` (or a run directory containing one), checking all of it.

    The stored scenario is validated like a scenario file (its figure and table names,
    metrics and theory curves against the registries, so it runs no code), and every
    record must belong to one of its systems and sweep points.

    :param plugins: Plugin modules the user trusts (``--plugin``), for plugin metrics
        or theory curves named by the stored scenario.
    :raises UserError: missing or malformed file, naming the file and the field.
    """
    from . import plugins as plugin_modules
    from .assembly import check_outputs
    from .metrics import get_metric
    from .scenario import Scenario, _first_error

    from .yaml_input import read_text

    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    text = read_text(path, what="results file", max_bytes=MAX_RESULTS_BYTES, controls_allowed=True)
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{path}: not a linksim results file: {' '.join(str(exc).split())[:300]}") from None
    if not isinstance(payload, dict) or "linksim_results" not in payload:
        raise UserError(f"{path}: not a linksim results file (no 'linksim_results' format field)")
    try:
        checked = _ResultsFile.model_validate(payload)
    except ValidationError as exc:
        raise UserError(f"{path}: {format_validation_error(exc)}") from None
    plugin_modules.activate(plugins)
    for name in _RESOLVED_FIELDS:
        if name not in checked.scenario:
            raise UserError(f"{path}: scenario.{name}: missing (a results file holds the resolved scenario)")
    try:
        scenario = Scenario.model_validate(checked.scenario)
    except ValidationError as exc:
        raise UserError(f"{path}: scenario.{_first_error(exc)}") from None
    try:
        check_outputs(scenario)
    except UserError as exc:
        missing = [name for name in scenario.plugins if not plugin_modules.is_plugin(name)]
        hint = f" (the run used plugin modules {', '.join(missing)}: give them with --plugin)" if missing else ""
        raise UserError(f"{path}: scenario.{exc}{hint}") from None
    points = scenario.sweep.points()
    labels = {spec.label for spec in scenario.systems}
    metrics = [get_metric(name) for name in scenario.metrics]
    store = ResultStore(path.parent, payload["scenario"], checked.scenario_hash)
    store.provenance = checked.provenance
    for i, raw in enumerate(checked.records):
        if raw.system not in labels:
            raise UserError(f"{path}: records[{i}].system: {raw.system!r} is not a system of the stored scenario")
        if raw.point_index >= len(points):
            raise UserError(f"{path}: records[{i}].point_index: {raw.point_index} is not a sweep point "
                            f"(the stored scenario has {len(points)})")
        if raw.point != points[raw.point_index]:
            raise UserError(f"{path}: records[{i}].point: {raw.point} is not sweep point {raw.point_index} "
                            f"of the stored scenario ({points[raw.point_index]})")
        for metric in metrics:
            problem = metric.check_totals(raw.totals)
            if problem is not None:
                raise UserError(f"{path}: records[{i}].totals.{problem[0]}: {problem[1]}")
        key = (raw.system, raw.point_index)
        if key in store.records:
            raise UserError(f"{path}: records[{i}]: a second record of system {raw.system!r} at point {raw.point_index}")
        store.records[key] = PointRecord(**raw.model_dump())
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
    #: Standard deviation between runs for a mean over runs (``accuracy_seeds``), else nan.
    std: float = math.nan


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
                          rec.point_index, est.std)
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
    #: Markdown header (default: ``header``); differs when intervals share a cell with the value.
    md_header: Optional[List[str]] = None


def sweep_grid(scenario: Dict[str, Any]) -> List[float]:
    """The sweep values of a resolved scenario dict."""
    from .scenario import SweepSpec

    return SweepSpec.model_validate(scenario["sweep"]).grid()


def build_table(store: ResultStore, spec: Any) -> Table:
    """The table of a :class:`~linksim.scenario.TableSpec`, from the store's records alone.

    Columns ``metric, system, <parameter>=<value>...`` (one per sweep value, in sweep
    order; with ``spec.interval`` each followed by ``... ci_low`` and ``... ci_high``); one
    row per metric (in the spec's order) per system (the spec's ``systems`` or all, in
    scenario order). Cells hold ``scale[metric] * estimate``, formatted with
    ``spec.format`` (CSV default: full precision; Markdown default ``{:.4g}``), empty
    (Markdown ``-``) where the point has no data; Markdown cells with an interval read
    ``value [low, high]``; with ``spec.cell == "mean_std"`` a cell whose estimate has a
    spread between runs reads ``mean +- std`` (CSV) or ``mean ± std`` (Markdown).
    ``spec.column_labels`` replace the ``<parameter>=<value>`` column names.
    """
    scenario = store.scenario
    param = scenario["sweep"].get("parameter", "snr_db")
    grid = sweep_grid(scenario)
    labels = spec.systems or [s["label"] for s in scenario["systems"]]
    interval = bool(getattr(spec, "interval", False))
    mean_std = getattr(spec, "cell", "value") == "mean_std"
    rows_by_cell = {(r.metric, r.system, r.point_index): r for r in metric_rows(store)}
    estimates = {key: (r.value, r.ci_low, r.ci_high) for key, r in rows_by_cell.items()}
    columns = getattr(spec, "column_labels", None) or [f"{param}={value_label(v, spec.labels)}" for v in grid]
    header = ["metric", "system"]
    for column in columns:
        header += [column, f"{column} ci_low", f"{column} ci_high"] if interval else [column]
    rows, md_rows = [], []
    for metric in spec.metrics:
        scale = float(spec.scale.get(metric, 1.0))

        def csv_cell(x: float) -> str:
            return spec.format.format(scale * x) if spec.format else _fmt(scale * x)

        def md_cell(x: float) -> str:
            return spec.format.format(scale * x) if spec.format else f"{scale * x:.4g}"

        for label in labels:
            cells, md_cells = [], []
            for i in range(len(grid)):
                value, low, high = estimates.get((metric, label, i), (None, None, None))
                if value is None or not math.isfinite(value):
                    cells += [""] * (3 if interval else 1)
                    md_cells.append("-")
                    continue
                std = rows_by_cell[(metric, label, i)].std
                spread = mean_std and math.isfinite(std)
                csv_value = f"{csv_cell(value)} +- {csv_cell(std)}" if spread else csv_cell(value)
                md_value = f"{md_cell(value)} ± {md_cell(std)}" if spread else md_cell(value)
                if interval:
                    cells += [csv_value, csv_cell(low), csv_cell(high)]
                    md_cells.append(f"{md_value} [{md_cell(low)}, {md_cell(high)}]")
                else:
                    cells.append(csv_value)
                    md_cells.append(md_value)
            rows.append([metric, label, *cells])
            md_rows.append([metric, label, *md_cells])
    md_header = header if not interval else ["metric", "system", *columns]
    return Table(header, rows, md_rows, md_header)


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

    header = table.md_header or table.header
    out = [line(header), "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|"]
    out += [line(r) for r in table.md_rows]
    return "\n".join(out) + "\n"

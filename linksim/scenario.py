"""Scenario schema (pydantic v2) and YAML loading with located error messages.

A scenario names a dataset, a channel, a sweep, the systems to compare, the metrics,
the Monte-Carlo settings and the figures. :func:`load_scenario` parses the YAML,
validates the structure, then validates every named component's own parameters
against its registered ``Params`` model, so each mistake is reported once, naming the
field path and its line in the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import string
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Literal, Optional, Sequence, Tuple

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from . import plugins as plugin_modules
from .errors import UserError
from .registry import Number, format_validation_error, parse_number  # noqa: F401  (parse_number re-exported)
from .validation import StrictFields, error_path, field_error
from .yaml_input import read_yaml as _read_yaml_file

#: Most sweep points of a scenario.
MAX_SWEEP_POINTS = 1000
#: Most systems, metrics, figures and tables of a scenario (each).
MAX_ITEMS = 100
#: Largest batch (examples per ``simulate`` call); systems may state a lower limit from memory.
MAX_BATCH_SIZE = 10**7
#: Most batches per sweep point.
MAX_BATCHES = 10**9
#: Longest label, title or other short text.
MAX_TEXT = 200
#: Range of a swept or fixed value in dB (a parameter named ``*_db``): 10**(x/10) stays
#: a normal double, and no link is simulated outside it.
MIN_DB, MAX_DB = -200.0, 300.0
#: Largest magnitude of any other swept or fixed value.
MAX_SWEEP_VALUE = 1e12


class StrictModel(StrictFields):
    """Base of the schema: unknown keys, non-finite numbers and booleans as numbers are errors."""


class SweepSpec(StrictModel):
    """The swept parameter and its values.

    Either ``values: [...]`` or ``start``/``stop``/``step`` (``stop`` included when it
    falls on the grid). ``fixed`` holds parameters that stay constant across the sweep
    (e.g. ``{snr_db: 20}`` when sweeping the bandwidth ratio). Entries of ``values`` and
    ``fixed`` may be fractions ``"a/b"`` (``values: [1/24, 1/12, 1/2.5]``), stored as floats.
    """

    parameter: str = Field("snr_db", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    values: Optional[List[Number]] = Field(None, max_length=MAX_SWEEP_POINTS)
    start: Optional[float] = None
    stop: Optional[float] = None
    step: Optional[float] = Field(None, gt=0)
    fixed: Dict[str, Number] = Field(default_factory=dict, max_length=64)

    @model_validator(mode="after")
    def _one_grid(self) -> "SweepSpec":
        grid = (self.start, self.stop, self.step)
        if self.values is not None:
            if any(v is not None for v in grid):
                raise field_error("values", "give either values or start/stop/step, not both")
            if not self.values:
                raise field_error("values", "must not be empty")
        elif any(v is None for v in grid):
            missing = next(n for n, v in zip(("start", "stop", "step"), grid) if v is None)
            raise field_error(missing, "give values, or all of start, stop and step")
        elif self.stop < self.start:  # type: ignore[operator]
            raise field_error("stop", "must be >= start")
        elif not (self.stop - self.start) / self.step <= MAX_SWEEP_POINTS:  # type: ignore[operator]
            raise field_error("step", f"start/stop/step give more than {MAX_SWEEP_POINTS} sweep points")
        if len(self.grid()) > MAX_SWEEP_POINTS:
            raise field_error("values", f"more than {MAX_SWEEP_POINTS} sweep points")
        if self.parameter in self.fixed:
            raise field_error(f"fixed.{self.parameter}", f"{self.parameter!r} is swept and cannot also be fixed")
        for name, value in [*((f"values[{i}]", v) for i, v in enumerate(self.grid()) if self.values is not None),
                            *((f"fixed.{k}", v) for k, v in self.fixed.items())]:
            which = self.parameter if name.startswith("values") else name.split(".", 1)[1]
            low, high = (MIN_DB, MAX_DB) if which.endswith("_db") else (-MAX_SWEEP_VALUE, MAX_SWEEP_VALUE)
            if not low <= value <= high:
                raise field_error(name, f"{value:g} is outside [{low:g}, {high:g}]"
                                        + (" dB" if which.endswith("_db") else ""))
        for name, value in (("start", self.start), ("stop", self.stop)):
            if value is not None and not -MAX_SWEEP_VALUE <= value <= MAX_SWEEP_VALUE:
                raise field_error(name, f"{value:g} is outside [{-MAX_SWEEP_VALUE:g}, {MAX_SWEEP_VALUE:g}]")
        if self.values is None and self.parameter.endswith("_db"):
            for name, value in (("start", self.start), ("stop", self.stop)):
                if not MIN_DB <= value <= MAX_DB:  # type: ignore[operator]
                    raise field_error(name, f"{value:g} is outside [{MIN_DB:g}, {MAX_DB:g}] dB")
        return self

    def grid(self) -> List[float]:
        """The swept values in order."""
        if self.values is not None:
            return [float(v) for v in self.values]
        count = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1  # type: ignore[operator]
        return [round(self.start + i * self.step, 10) for i in range(count)]  # type: ignore[operator]

    def points(self) -> List[Dict[str, float]]:
        """One dict per sweep point: the swept value plus the fixed parameters."""
        return [{**self.fixed, self.parameter: v} for v in self.grid()]


class MonteCarloSpec(StrictModel):
    """Batches per sweep point and the rules that stop them.

    A point stops at the first of: ``target_errors`` error events of ``stop_metric``
    (after ``min_batches``), ``max_batches`` batches, or a confidence interval whose
    half-width is below ``ci_rel_width`` times the estimate. Later points of a system
    are skipped once a point is error-free (``skip_error_free``) or its stop metric falls
    below ``min_value`` (a BER floor).
    """

    batch_size: int = Field(1000, ge=1, le=MAX_BATCH_SIZE)
    max_batches: int = Field(100, ge=1, le=MAX_BATCHES)
    min_batches: int = Field(1, ge=1, le=MAX_BATCHES)
    target_errors: Optional[int] = Field(100, ge=1, le=10**15)
    stop_metric: Optional[str] = Field(None, max_length=MAX_TEXT)
    min_value: Optional[float] = Field(None, gt=0, lt=1)
    skip_error_free: bool = True
    ci_rel_width: Optional[float] = Field(None, gt=0)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    ci_method: Literal["wilson", "clopper_pearson"] = "wilson"
    chunk_batches: int = Field(10, ge=1, le=10**6)
    quick: Dict[str, Any] = Field(
        default_factory=lambda: {"batch_size": 100, "max_batches": 2, "min_batches": 1},
        description="Overrides applied in --quick mode (checked by validate as well).",
        max_length=32,
    )

    @model_validator(mode="after")
    def _batches(self) -> "MonteCarloSpec":
        if self.min_batches > self.max_batches:
            raise field_error("min_batches", f"must be <= max_batches ({self.max_batches})")
        return self


class SystemSpec(StrictModel):
    """One system to simulate: a label, a registered type (or ``module:Class``), params."""

    label: str = Field(..., min_length=1, max_length=MAX_TEXT)
    type: str = Field(..., min_length=1, max_length=MAX_TEXT)
    params: Dict[str, Any] = Field(default_factory=dict)
    channel: Optional[Dict[str, Any]] = Field(None, description="Overrides the scenario's channel.")
    training: Optional[Dict[str, Any]] = None


class TheoryCurveSpec(StrictModel):
    """A closed-form curve drawn dashed on a figure (``type`` from ``linksim list``)."""

    type: str = Field(..., max_length=MAX_TEXT)
    label: Optional[str] = Field(None, max_length=MAX_TEXT)
    params: Dict[str, Any] = Field(default_factory=dict)


class FigureSpec(StrictModel):
    """A figure PDF drawn from the results file.

    ``x`` is the swept parameter (default) or one of the scenario's metrics: then each
    system is one curve through its sweep points at (x metric, y metric), each point
    annotated with its swept value (a parametric figure, e.g. accuracy against PSNR
    over a trade-off parameter). ``xscale`` sets the x axis; ``xticks`` puts the ticks
    at the sweep values, labelled as numbers (``values``) or fractions such as ``1/24``
    (``fractions``); both need ``x`` to be the swept parameter. ``kind: bar`` draws
    grouped bars (one group per sweep value, one bar per system, the confidence
    interval as a whisker), e.g. running times; it needs ``x`` to be the swept parameter.

    ``kind: heatmap`` draws a matrix that one system reports (``system``, its label) at
    one sweep point (``point``, an index), e.g. the cosine similarities of a codebook
    (``matrix: codebook_cosine``; :mod:`linksim.matrices`), with a colour bar
    (``clim``: its limits, default the data's; ``cmap``: the colour map). It takes
    neither ``y``, ``x`` nor the line options; line and bar figures need ``y`` and take
    none of ``matrix``, ``system``, ``point``, ``clim``, ``cmap``.
    """

    #: Heatmap fields left out of the resolved scenario at their defaults (older scenarios keep their hash).
    NEW_DEFAULTS: ClassVar[Dict[str, Any]] = {"matrix": None, "system": None, "point": 0, "clim": None,
                                              "cmap": "viridis"}
    #: Line options a heatmap refuses when set to other than their defaults.
    LINE_ONLY: ClassVar[Dict[str, Any]] = {"x": None, "scale": None, "xscale": "linear", "xticks": "auto",
                                           "systems": None, "theory": [], "ylim": None}

    file: str = Field(..., pattern=r"^[^/\\\x00-\x1f\x7f]+\.pdf$", max_length=100)
    y: Optional[str] = Field(None, max_length=MAX_TEXT, description="the metric on the y axis (line and bar "
                                                                     "figures: required)")
    x: Optional[str] = Field(None, max_length=MAX_TEXT)
    scale: Optional[Literal["log", "linear"]] = None
    xscale: Literal["linear", "log"] = "linear"
    xticks: Literal["auto", "values", "fractions"] = "auto"
    title: Optional[str] = Field(None, max_length=MAX_TEXT)
    xlabel: Optional[str] = Field(None, max_length=MAX_TEXT)
    ylabel: Optional[str] = Field(None, max_length=MAX_TEXT)
    systems: Optional[List[str]] = Field(None, max_length=MAX_ITEMS)
    theory: List[TheoryCurveSpec] = Field(default_factory=list, max_length=MAX_ITEMS)
    ci: bool = True
    ylim: Optional[Tuple[float, float]] = None
    kind: Literal["line", "bar", "heatmap"] = "line"
    matrix: Optional[str] = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64,
                                  description="kind: heatmap: the name of a matrix the system reports")
    system: Optional[str] = Field(None, max_length=MAX_TEXT, description="kind: heatmap: the label of the system "
                                                                          "whose matrix is drawn")
    point: int = Field(0, ge=0, le=10**6, description="kind: heatmap: index of the sweep point")
    clim: Optional[Tuple[float, float]] = Field(None, description="kind: heatmap: colour-bar limits (default: the "
                                                                   "matrix's own range)")
    cmap: Literal["viridis", "magma", "cividis", "gray", "RdBu_r", "coolwarm"] = Field(
        "viridis", description="kind: heatmap: the colour map")

    @field_validator("ylim", "clim")
    @classmethod
    def _increasing(cls, ylim: Optional[Tuple[float, float]]) -> Optional[Tuple[float, float]]:
        if ylim is not None and not ylim[0] < ylim[1]:
            raise ValueError(f"the lower limit must be below the upper one (got [{ylim[0]:g}, {ylim[1]:g}])")
        return ylim

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> "FigureSpec":
        if self.kind == "heatmap":
            for name in ("matrix", "system"):
                if getattr(self, name) is None:
                    raise field_error(name, "required by kind: heatmap (e.g. matrix: codebook_cosine, system: "
                                            "<a system label>)")
            if self.y is not None:
                raise field_error("y", "a heatmap draws a matrix (matrix:), not a metric: remove y")
            for name, default in self.LINE_ONLY.items():
                if getattr(self, name) != default:
                    raise field_error(name, "not used by kind: heatmap (it draws one system's matrix: "
                                            "system:, point:)")
            return self
        if self.y is None:
            raise field_error("y", f"required by kind: {self.kind} (a metric of the scenario)")
        for name, default in self.NEW_DEFAULTS.items():
            if getattr(self, name) != default:
                raise field_error(name, f"only kind: heatmap takes {name} (this figure is kind: {self.kind})")
        return self


_FORMAT_SPEC = re.compile(r"^(.?[<>=^])?[+\- ]?#?0?(?P<width>\d{1,3})?[,_]?(\.(?P<precision>\d{1,3}))?[eEfFgGn%]?$")


class SamplesSpec(StrictModel):
    """A grid of sample images (e.g. what an attacker reconstructs): one row per system.

    After the sweep, each listed system gives ``images`` test images and its outputs at
    sweep point ``point`` (an index) through its ``sample_images`` method; they are
    stored in ``samples.npz`` beside the results and drawn as ``file``, the originals
    in the first row, each system's outputs below with its note under each image.
    """

    file: str = Field(..., pattern=r"^[^/\\\x00-\x1f\x7f]+\.pdf$", max_length=100)
    systems: List[str] = Field(..., min_length=1, max_length=MAX_ITEMS)
    point: int = Field(0, ge=0, le=10**6, description="index of the sweep point")
    images: int = Field(4, ge=1, le=16, description="images per row (1..16)")
    title: Optional[str] = Field(None, max_length=MAX_TEXT)


def check_number_format(fmt: str) -> None:
    """Accept ``fmt`` only if it formats one number with a plain format spec (``"{:.2f}"``).

    Width and precision are at most 100, so a table cell stays small; ``{0[0]}``,
    ``{0.attr}``, ``{!r}`` and a second field are refused.

    :raises ValueError: what is wrong with ``fmt``.
    """
    try:
        fields = [f for f in string.Formatter().parse(fmt) if f[1] is not None]
    except ValueError as exc:
        raise ValueError(f"{fmt!r} is not a format for one number, e.g. '{{:.2f}}' ({exc})") from None
    if len(fields) != 1:
        raise ValueError(f"{fmt!r} must hold exactly one replacement field, e.g. '{{:.2f}}'")
    _, name, spec, conversion = fields[0]
    match = _FORMAT_SPEC.match(spec or "")
    if name not in ("", "0") or conversion is not None or match is None or "{" in (spec or ""):
        raise ValueError(f"{fmt!r} is not a format for one number, e.g. '{{:.2f}}' or '{{:>8.3g}}'")
    for part in ("width", "precision"):
        if match.group(part) is not None and int(match.group(part)) > 100:
            raise ValueError(f"{fmt!r}: {part} {match.group(part)} is over 100")
    try:
        fmt.format(1.0)
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        raise ValueError(f"{fmt!r} is not a format for one number, e.g. '{{:.2f}}' ({exc})") from None


class TableSpec(StrictModel):
    """A table (CSV, and Markdown beside it) drawn from the results file.

    One row per (metric, system), metrics in the order given and systems within each;
    one column per sweep value (``<parameter>=<value>``, the value written as a fraction
    such as ``1/24`` with ``labels: fractions``). A cell holds the estimate times
    ``scale[metric]`` (default 1), written with ``format`` (e.g. ``"{:.2f}"``; default:
    full precision), empty where the point has no data; with ``interval``, its confidence
    interval beside it (same scale and format); with ``cell: mean_std``, ``"mean +- std"``
    where the metric is a mean over runs (``accuracy_seeds``). ``column_labels`` name the
    sweep values (e.g. the attributes of an ``attribute`` sweep), one per value.
    """

    file: str = Field(..., pattern=r"^[^/\\\x00-\x1f\x7f]+\.csv$", max_length=100)
    metrics: List[str] = Field(..., min_length=1, max_length=MAX_ITEMS)
    systems: Optional[List[str]] = Field(None, max_length=MAX_ITEMS)
    format: Optional[str] = Field(None, max_length=MAX_TEXT)
    scale: Dict[str, float] = Field(default_factory=dict, max_length=MAX_ITEMS)
    labels: Literal["values", "fractions"] = "values"
    markdown: bool = Field(True, description="Also write the table as Markdown (same name, .md).")
    interval: bool = Field(False, description="Also write each cell's confidence interval: CSV columns "
                                              "'<column> ci_low' and '<column> ci_high' after each value "
                                              "column, Markdown cells 'value [low, high]'.")
    cell: Literal["value", "mean_std"] = Field("value", description="mean_std: 'mean +- std' where the metric is "
                                                                      "a mean over runs (accuracy_seeds)")
    column_labels: Optional[List[str]] = Field(None, max_length=MAX_SWEEP_POINTS,
                                               description="one label per sweep value, instead of "
                                                           "'<parameter>=<value>'")

    #: Fields left out of the resolved scenario at their defaults (older scenarios keep their hash).
    NEW_DEFAULTS: ClassVar[Dict[str, Any]] = {"cell": "value", "column_labels": None}

    @field_validator("file")
    @classmethod
    def _not_results_csv(cls, file: str) -> str:
        if file == "results.csv":
            raise ValueError("results.csv is the name of the run's own results table; choose another name")
        return file

    @field_validator("format")
    @classmethod
    def _format_one_number(cls, fmt: Optional[str]) -> Optional[str]:
        if fmt is not None:
            check_number_format(fmt)
        return fmt


class Scenario(StrictModel):
    """A complete simulation scenario (the YAML file)."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)
    description: str = Field("", max_length=10_000)
    plugins: List[str] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Plugin modules the scenario needs; each must also be listed by the user (--plugin).")
    seed: int = Field(0, ge=0, lt=2**63)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: Optional[Dict[str, Any]] = None
    channel: Dict[str, Any] = Field(default_factory=lambda: {"type": "awgn"})
    sweep: SweepSpec = Field(default_factory=lambda: SweepSpec(values=[0.0]))
    systems: List[SystemSpec] = Field(..., min_length=1, max_length=MAX_ITEMS)
    metrics: List[str] = Field(..., min_length=1, max_length=MAX_ITEMS)
    monte_carlo: MonteCarloSpec = Field(default_factory=MonteCarloSpec)
    figures: List[FigureSpec] = Field(default_factory=list, max_length=MAX_ITEMS)
    tables: List[TableSpec] = Field(default_factory=list, max_length=MAX_ITEMS)
    samples: List[SamplesSpec] = Field(default_factory=list, max_length=MAX_ITEMS,
                                       description="grids of sample images (systems with sample_images)")

    @field_validator("plugins")
    @classmethod
    def _module_names(cls, names: List[str]) -> List[str]:
        for name in names:
            if not plugin_modules.MODULE_NAME.match(name):
                raise ValueError(f"{name!r} is not a Python module name (e.g. my_package.my_module)")
        return names

    @model_validator(mode="after")
    def _column_labels_per_value(self) -> "Scenario":
        values = len(self.sweep.grid())
        for i, spec in enumerate(self.tables):
            if spec.column_labels is not None and len(spec.column_labels) != values:
                raise field_error(f"tables[{i}].column_labels", f"{len(spec.column_labels)} labels for "
                                                                 f"{values} sweep values")
        return self

    @model_validator(mode="after")
    def _distinct_files(self) -> "Scenario":
        for kind, specs in (("figures", self.figures), ("tables", self.tables)):
            first: Dict[str, int] = {}
            for i, spec in enumerate(specs):
                if spec.file in first:
                    raise field_error(f"{kind}[{i}].file", f"{spec.file!r} is also written by {kind}[{first[spec.file]}]")
                first[spec.file] = i
        figure_files = {spec.file for spec in self.figures}
        for i, spec in enumerate(self.samples):
            if spec.file in figure_files or spec.file in {s.file for s in self.samples[:i]}:
                raise field_error(f"samples[{i}].file", f"{spec.file!r} is also written by another figure")
        return self

    @field_validator("systems")
    @classmethod
    def _unique_labels(cls, systems: List[SystemSpec]) -> List[SystemSpec]:
        seen = set()
        for i, spec in enumerate(systems):
            if spec.label in seen:
                raise field_error(f"[{i}].label", f"duplicate system label {spec.label!r}")
            seen.add(spec.label)
        return systems

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, names: List[str]) -> List[str]:
        for i, name in enumerate(names):
            if name in names[:i]:
                raise field_error(f"[{i}]", f"{name!r} is listed twice")
        return names

    def canonical_json(self) -> str:
        """Deterministic JSON of the resolved scenario (for hashing and provenance).

        An empty ``plugins`` list is left out, so scenarios written before plugins were
        declared keep their hash (and their run folders resume).
        """
        return json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))

    def resolved(self) -> Dict[str, Any]:
        """The scenario with every default filled in, as JSON-able data (stored in results.json)."""
        empty = {name for name in ("plugins", "samples") if not getattr(self, name)}  # old scenarios keep their hash
        out = self.model_dump(mode="json", exclude=empty or None)
        for table in out.get("tables", []):
            for name, default in TableSpec.NEW_DEFAULTS.items():
                if table.get(name, default) == default:
                    table.pop(name, None)
        for figure in out.get("figures", []):
            for name, default in FigureSpec.NEW_DEFAULTS.items():
                if figure.get(name, default) == default:
                    figure.pop(name, None)
        return out

    def content_hash(self) -> str:
        """SHA-256 of :meth:`canonical_json` (first 16 hex digits)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    def with_quick(self) -> "Scenario":
        """The scenario as run by ``--quick``: Monte-Carlo overrides applied."""
        mc = self.monte_carlo.model_dump()
        overrides = mc.pop("quick")
        mc.update(overrides)
        mc["quick"] = overrides
        try:
            new_mc = MonteCarloSpec.model_validate(mc)
        except ValidationError as exc:
            raise UserError(format_validation_error(exc, prefix="monte_carlo.quick")) from None
        return self.model_copy(update={"monte_carlo": new_mc, "name": self.name})


# --------------------------------------------------------------------------- loading


def _node_line(root: Optional[yaml.Node], loc: Sequence[Any]) -> Optional[int]:
    """1-based line of the YAML node at ``loc`` (deepest existing ancestor)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if nxt is None:
                key_node = next((k for k, _ in node.value if getattr(k, "value", None) == key), None)
                return key_node.start_mark.line + 1 if key_node is not None else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _path_str(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_yaml(path: Path) -> Tuple[Any, Optional[yaml.Node]]:
    """Parse a scenario file within the bounds of :mod:`linksim.yaml_input` (size, depth, aliases)."""
    return _read_yaml_file(path)


def _located(source: str, node: Optional[yaml.Node], message: str) -> UserError:
    """``source:line: message``, the line found from the field path that starts ``message``."""
    field = message.split(":", 1)[0]
    line = _node_line(node, _parse_path(field)) if _FIELD_PATH.match(field) else None
    return UserError(f"{source}:{line}: {message}" if line else f"{source}: {message}")


_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _first_error(exc: ValidationError) -> str:
    """``field.path: message`` of a schema error (``(and N more)`` when there are more)."""
    errors = exc.errors()
    err = errors[0]
    loc = list(error_path(err))
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_path_str(loc) or 'scenario'}: {msg}{more}"


def parse_scenario(data: Any, *, source: str = "<scenario>", node: Optional[yaml.Node] = None,
                   plugins: Sequence[str] = ()) -> Scenario:
    """Validate a parsed mapping into a :class:`Scenario`, then check its components.

    The plugin modules the user listed (``plugins``, ``$LINKSIM_PLUGINS``, installed
    entry points) are imported first; those the scenario declares must be among them.

    :raises UserError: ``source:line: field.path: message`` for the first problem.
    """
    if not isinstance(data, dict):
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        kind = "nothing" if data is None else f"a {type(data).__name__}"
        raise UserError(f"{source}{line}: a scenario must be a mapping of fields (name:, systems:, ...), "
                        f"not {kind}")
    try:
        plugin_modules.activate(plugins)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    declared = data.get("plugins")
    try:
        if isinstance(declared, list):
            plugin_modules.check_declared(declared)
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _located(source, node, _first_error(exc)) from None
    except UserError as exc:
        raise _located(source, node, str(exc)) from None
    try:
        quick = scenario.with_quick().monte_carlo
        if "stop_metric" in scenario.monte_carlo.quick and quick.stop_metric not in (None, *scenario.metrics):
            raise UserError(f"monte_carlo.quick.stop_metric: {quick.stop_metric!r} is not one of the "
                            f"scenario's metrics")
        from .assembly import check_components

        check_components(scenario)
    except UserError as exc:
        raise _located(source, node, str(exc)) from None
    return scenario


def _parse_path(path: str) -> List[Any]:
    """Inverse of :func:`_path_str` (``systems[1].params.order`` -> list)."""
    out: List[Any] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
            out.append(int(part[1:-1]))
        else:
            out.append(part)
    return out


def load_scenario(path: Path | str, *, plugins: Sequence[str] = ()) -> Scenario:
    """Read, validate and check a scenario YAML file.

    :param plugins: Plugin modules the user trusts (``--plugin``), imported first.
    :raises UserError: with ``file:line: field.path: message`` for the first problem.
    """
    path = Path(path)
    data, node = read_yaml(path)
    return parse_scenario(data, source=str(path), node=node, plugins=plugins)


def json_schema() -> Dict[str, Any]:
    """JSON schema of the scenario format (for editor completion)."""
    return Scenario.model_json_schema()

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
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError
from .registry import Number, format_validation_error, parse_number  # noqa: F401  (parse_number re-exported)

MAX_SWEEP_POINTS = 1000




class StrictModel(BaseModel):
    """Base of the schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class SweepSpec(StrictModel):
    """The swept parameter and its values.

    Either ``values: [...]`` or ``start``/``stop``/``step`` (``stop`` included when it
    falls on the grid). ``fixed`` holds parameters that stay constant across the sweep
    (e.g. ``{snr_db: 20}`` when sweeping the bandwidth ratio). Entries of ``values`` and
    ``fixed`` may be fractions ``"a/b"`` (``values: [1/24, 1/12, 1/2.5]``), stored as floats.
    """

    parameter: str = Field("snr_db", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    values: Optional[List[Number]] = None
    start: Optional[float] = None
    stop: Optional[float] = None
    step: Optional[float] = Field(None, gt=0)
    fixed: Dict[str, Number] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_grid(self) -> "SweepSpec":
        grid = (self.start, self.stop, self.step)
        if self.values is not None:
            if any(v is not None for v in grid):
                raise ValueError("give either values or start/stop/step, not both")
            if not self.values:
                raise ValueError("values must not be empty")
        elif any(v is None for v in grid):
            raise ValueError("give values, or all of start, stop and step")
        elif self.stop < self.start:  # type: ignore[operator]
            raise ValueError("stop must be >= start")
        if len(self.grid()) > MAX_SWEEP_POINTS:
            raise ValueError(f"more than {MAX_SWEEP_POINTS} sweep points")
        if self.parameter in self.fixed:
            raise ValueError(f"{self.parameter!r} is swept and cannot also be fixed")
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

    batch_size: int = Field(1000, ge=1)
    max_batches: int = Field(100, ge=1)
    min_batches: int = Field(1, ge=1)
    target_errors: Optional[int] = Field(100, ge=1)
    stop_metric: Optional[str] = None
    min_value: Optional[float] = Field(None, gt=0, lt=1)
    skip_error_free: bool = True
    ci_rel_width: Optional[float] = Field(None, gt=0)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    ci_method: Literal["wilson", "clopper_pearson"] = "wilson"
    chunk_batches: int = Field(10, ge=1)
    quick: Dict[str, Any] = Field(
        default_factory=lambda: {"batch_size": 100, "max_batches": 2, "min_batches": 1},
        description="Overrides applied in --quick mode.",
    )

    @model_validator(mode="after")
    def _batches(self) -> "MonteCarloSpec":
        if self.min_batches > self.max_batches:
            raise ValueError("min_batches must be <= max_batches")
        return self


class SystemSpec(StrictModel):
    """One system to simulate: a label, a registered type (or ``module:Class``), params."""

    label: str = Field(..., min_length=1)
    type: str = Field(..., min_length=1)
    params: Dict[str, Any] = Field(default_factory=dict)
    channel: Optional[Dict[str, Any]] = Field(None, description="Overrides the scenario's channel.")
    training: Optional[Dict[str, Any]] = None


class TheoryCurveSpec(StrictModel):
    """A closed-form curve drawn dashed on a figure (``type`` from ``linksim list``)."""

    type: str
    label: Optional[str] = None
    params: Dict[str, Any] = Field(default_factory=dict)


class FigureSpec(StrictModel):
    """A figure PDF drawn from the results file.

    ``x`` is the swept parameter (default) or one of the scenario's metrics: then each
    system is one curve through its sweep points at (x metric, y metric), each point
    annotated with its swept value (a parametric figure, e.g. accuracy against PSNR
    over a trade-off parameter). ``xscale`` sets the x axis; ``xticks`` puts the ticks
    at the sweep values, labelled as numbers (``values``) or fractions such as ``1/24``
    (``fractions``); both need ``x`` to be the swept parameter.
    """

    file: str = Field(..., pattern=r"^[^/\\]+\.pdf$")
    y: str
    x: Optional[str] = None
    scale: Optional[Literal["log", "linear"]] = None
    xscale: Literal["linear", "log"] = "linear"
    xticks: Literal["auto", "values", "fractions"] = "auto"
    title: Optional[str] = None
    xlabel: Optional[str] = None
    ylabel: Optional[str] = None
    systems: Optional[List[str]] = None
    theory: List[TheoryCurveSpec] = Field(default_factory=list)
    ci: bool = True
    ylim: Optional[Tuple[float, float]] = None


class TableSpec(StrictModel):
    """A table (CSV, and Markdown beside it) drawn from the results file.

    One row per (metric, system), metrics in the order given and systems within each;
    one column per sweep value (``<parameter>=<value>``, the value written as a fraction
    such as ``1/24`` with ``labels: fractions``). A cell holds the estimate times
    ``scale[metric]`` (default 1), written with ``format`` (e.g. ``"{:.2f}"``; default:
    full precision), empty where the point has no data.
    """

    file: str = Field(..., pattern=r"^[^/\\]+\.csv$")
    metrics: List[str] = Field(..., min_length=1)
    systems: Optional[List[str]] = None
    format: Optional[str] = None
    scale: Dict[str, float] = Field(default_factory=dict)
    labels: Literal["values", "fractions"] = "values"
    markdown: bool = Field(True, description="Also write the table as Markdown (same name, .md).")

    @field_validator("format")
    @classmethod
    def _format_one_number(cls, fmt: Optional[str]) -> Optional[str]:
        if fmt is None:
            return fmt
        try:
            fmt.format(1.0)
        except (ValueError, IndexError, KeyError, AttributeError) as exc:
            raise ValueError(f"{fmt!r} is not a format for one number, e.g. '{{:.2f}}' ({exc})") from None
        return fmt


class Scenario(StrictModel):
    """A complete simulation scenario (the YAML file)."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(0, ge=0, lt=2**63)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: Optional[Dict[str, Any]] = None
    channel: Dict[str, Any] = Field(default_factory=lambda: {"type": "awgn"})
    sweep: SweepSpec = Field(default_factory=lambda: SweepSpec(values=[0.0]))
    systems: List[SystemSpec] = Field(..., min_length=1)
    metrics: List[str] = Field(..., min_length=1)
    monte_carlo: MonteCarloSpec = Field(default_factory=MonteCarloSpec)
    figures: List[FigureSpec] = Field(default_factory=list)
    tables: List[TableSpec] = Field(default_factory=list)

    @field_validator("systems")
    @classmethod
    def _unique_labels(cls, systems: List[SystemSpec]) -> List[SystemSpec]:
        seen = set()
        for spec in systems:
            if spec.label in seen:
                raise ValueError(f"duplicate system label {spec.label!r}")
            seen.add(spec.label)
        return systems

    def canonical_json(self) -> str:
        """Deterministic JSON of the resolved scenario (for hashing and provenance)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

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
    """Parse a YAML file; syntax errors become a :class:`UserError` with line:column."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise UserError(f"{where}: YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: YAML error: {exc}") from None
    return data, node


def parse_scenario(data: Any, *, source: str = "<scenario>", node: Optional[yaml.Node] = None) -> Scenario:
    """Validate a parsed mapping into a :class:`Scenario`, then check its components."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: a scenario must be a mapping of fields (got {type(data).__name__})")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        line = _node_line(node, loc)
        where = f"{source}:{line}" if line else source
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise UserError(f"{where}: {_path_str(loc) or 'scenario'}: {msg}{more}") from None
    try:
        from .assembly import check_components

        check_components(scenario)
    except UserError as exc:
        field = str(exc).split(":", 1)[0]
        line = _node_line(node, _parse_path(field))
        prefix = f"{source}:{line}" if line else source
        raise UserError(f"{prefix}: {exc}") from None
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


def load_scenario(path: Path | str) -> Scenario:
    """Read, validate and check a scenario YAML file.

    :raises UserError: with ``file:line: field.path: message`` for the first problem.
    """
    path = Path(path)
    data, node = read_yaml(path)
    return parse_scenario(data, source=str(path), node=node)


def json_schema() -> Dict[str, Any]:
    """JSON schema of the scenario format (for editor completion)."""
    return Scenario.model_json_schema()

"""Matrices that systems report for ``kind: heatmap`` figures (e.g. a codebook's cosine similarities).

A system lists the matrices it can report (:meth:`~linksim.systems.base.System.provided_matrices`,
by default its ``matrices_provided``) and returns one by
:meth:`~linksim.systems.base.System.matrix` as a :class:`Matrix`. After the sweep,
:func:`collect_matrices` sets up each system a heatmap figure names (once, seeded by
``batch_seed(seed, label, point, MATRIX_BATCH)``), asks it for the figure's matrix at the
figure's sweep point and stores it in the results' provenance under ``matrices``
(``{label: {name: {point index: matrix}}}``), so that ``linksim plot`` redraws the figure
from ``results.json`` alone. A run that resumes keeps the matrices it already holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .errors import UserError

#: Largest side of a stored matrix (a 1024 x 1024 matrix is about 10 MB of JSON).
MAX_SIDE = 1024
#: The batch index of the seed of the matrices (far from any Monte-Carlo batch and from the samples').
MATRIX_BATCH = 10**9 + 1
#: Significant digits of the stored values.
DIGITS = 6


@dataclass
class Matrix:
    """One matrix for a heatmap.

    :ivar values: ``[R, C]`` finite floats.
    :ivar rows: tick label of each row (``R`` strings), or None (rows 1..R).
    :ivar cols: tick label of each column (``C`` strings), or None (columns 1..C).
    :ivar row_label: the y axis label. :ivar col_label: the x axis label.
    :ivar value_label: the colour bar's label (what a value is, with its unit).
    :ivar note: one line under the title (what was measured, on what).
    """

    values: np.ndarray
    rows: Optional[List[str]] = None
    cols: Optional[List[str]] = None
    row_label: str = ""
    col_label: str = ""
    value_label: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=float)
        if self.values.ndim != 2 or 0 in self.values.shape or max(self.values.shape) > MAX_SIDE:
            raise ValueError(f"a matrix is [R, C] with 1 <= R, C <= {MAX_SIDE}, got shape {self.values.shape}")
        if not np.isfinite(self.values).all():
            raise ValueError("a matrix must hold finite values")
        for name, labels, size in (("rows", self.rows, self.values.shape[0]), ("cols", self.cols, self.values.shape[1])):
            if labels is not None and len(labels) != size:
                raise ValueError(f"{name}: {len(labels)} labels for {size} {name}")

    def to_json(self) -> Dict[str, Any]:
        """JSON-able form (values to :data:`DIGITS` significant digits)."""
        return {"values": [[float(f"{v:.{DIGITS}g}") for v in row] for row in self.values.tolist()],
                "rows": self.rows, "cols": self.cols, "row_label": self.row_label, "col_label": self.col_label,
                "value_label": self.value_label, "note": self.note}

    @classmethod
    def from_json(cls, data: Any, where: str) -> "Matrix":
        """The matrix stored as ``data`` (by :meth:`to_json`).

        :raises UserError: ``where: ...`` when ``data`` is not a stored matrix.
        """
        try:
            if not isinstance(data, dict):
                raise ValueError("not a mapping")
            values = data["values"]
            if not (isinstance(values, list) and values and all(isinstance(r, list) for r in values)
                    and len({len(r) for r in values}) == 1
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                            for r in values for v in r)):
                raise ValueError("values is not a rectangular list of finite numbers")
            labels = {name: data.get(name) for name in ("rows", "cols")}
            for name, value in labels.items():
                if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    raise ValueError(f"{name} is not a list of strings")
            texts = {name: data.get(name, "") for name in ("row_label", "col_label", "value_label", "note")}
            if not all(isinstance(v, str) and len(v) <= 1000 for v in texts.values()):
                raise ValueError("a label is not a string of at most 1000 characters")
            return cls(np.asarray(values, dtype=float), **labels, **texts)
        except (KeyError, ValueError, TypeError) as exc:
            raise UserError(f"{where}: not a stored matrix ({exc})") from None


def matrix_figures(scenario: Any) -> List[Any]:
    """The ``kind: heatmap`` figure specs of ``scenario`` (a :class:`~linksim.scenario.Scenario`)."""
    return [spec for spec in scenario.figures if spec.kind == "heatmap"]


def stored_matrix(provenance: Dict[str, Any], system: str, name: str, point: int) -> Optional[Any]:
    """The stored JSON of ``system``'s matrix ``name`` at sweep point ``point``, or None."""
    stored = provenance.get("matrices", {})
    return stored.get(system, {}).get(name, {}).get(str(point)) if isinstance(stored, dict) else None


def collect_matrices(scenario: Any, runtime: Any, store: Any) -> int:
    """Ask every system a heatmap of ``scenario`` names for its matrix at the figure's point
    and store it in ``store.provenance["matrices"]`` (those already there are kept).

    :returns: the number of matrices computed now.
    :raises UserError: ``figures[i].matrix: ...`` when the system reports no such matrix.
    """
    import torch

    from .runner import batch_seed, seed_everything, set_up_system

    labels = [spec.label for spec in scenario.systems]
    points = scenario.sweep.points()
    systems: Dict[str, Any] = {}
    computed = 0
    for i, spec in enumerate(scenario.figures):
        if spec.kind != "heatmap" or stored_matrix(store.provenance, spec.system, spec.matrix, spec.point) is not None:
            continue
        index = labels.index(spec.system)
        if spec.system not in systems:
            systems[spec.system] = set_up_system(scenario, index, runtime)
        system = systems[spec.system]
        if spec.matrix not in system.provided_matrices(system.params):
            raise UserError(f"figures[{i}].matrix: system {spec.system!r} reports no matrix {spec.matrix!r}")
        seed_everything(batch_seed(scenario.seed, spec.system, spec.point, MATRIX_BATCH))
        with torch.no_grad():
            matrix = system.matrix(spec.matrix, dict(points[spec.point]))
        store.provenance.setdefault("matrices", {}).setdefault(spec.system, {}).setdefault(
            spec.matrix, {})[str(spec.point)] = matrix.to_json()
        computed += 1
    return computed


def check_heatmap(scenario: Any, index: int, spec: Any, classes: Sequence[Any]) -> None:
    """Check heatmap figure ``figures[index]`` against the scenario: the system exists, the
    point is a sweep point, and the system (type and params) reports the matrix.

    :param classes: ``(cls, params)`` of each system of the scenario, in order.
    :raises UserError: naming ``figures[index].<field>``.
    """
    labels = [s.label for s in scenario.systems]
    if spec.system not in labels:
        raise UserError(f"figures[{index}].system: no system labelled {spec.system!r} (the labels are "
                        f"{', '.join(map(repr, labels))})")
    count = len(scenario.sweep.points())
    if spec.point >= count:
        raise UserError(f"figures[{index}].point: {spec.point} is not a sweep point index (the sweep has {count} "
                        f"points, 0-{count - 1})")
    position = labels.index(spec.system)
    cls, params = classes[position]
    provided = sorted(cls.provided_matrices(params))
    if spec.matrix not in provided:
        kind = scenario.systems[position].type
        raise UserError(f"figures[{index}].matrix: system {spec.system!r} (type {kind!r}, with these params) "
                        f"reports no matrix {spec.matrix!r}; it reports "
                        f"{', '.join(map(repr, provided)) if provided else 'none'}")

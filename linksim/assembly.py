"""Turn a validated :class:`~linksim.scenario.Scenario` into components.

The same functions serve ``linksim validate`` (check every name and parameter without
training or simulating) and the runner (build the systems), so both always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Type

from .errors import UserError
from .metrics import get_metric
from .registry import channels, datasets, systems, theory, validate_params
from .scenario import Scenario
from .systems.base import System, SystemContext


@dataclass(frozen=True)
class Runtime:
    """Settings of one run that are not part of the scenario."""

    device: str = "cpu"
    cache_dir: Path = Path(".linksim-cache")
    quick: bool = False


def system_class(scenario: Scenario, index: int) -> Type[System]:
    """The class named by ``systems[index].type`` (registered name or ``module:Class``)."""
    spec = scenario.systems[index]
    cls = systems.get(spec.type, field=f"systems[{index}].type")
    if not (isinstance(cls, type) and issubclass(cls, System)):
        raise UserError(f"systems[{index}].type: {spec.type!r} is not a linksim System subclass")
    return cls


def system_context(scenario: Scenario, index: int, runtime: Runtime,
                   points: Optional[Sequence[int]] = None) -> SystemContext:
    """The :class:`SystemContext` handed to ``systems[index]``.

    :param points: Indices of the sweep points the system is told about (default: all);
        ``linksim train --point`` sets up only the models these points need.
    """
    spec = scenario.systems[index]
    every_point = scenario.sweep.points()
    return SystemContext(
        label=spec.label,
        channel=dict(spec.channel if spec.channel is not None else scenario.channel),
        data=dict(scenario.data) if scenario.data is not None else None,
        device=runtime.device,
        seed=scenario.seed,
        cache_dir=Path(runtime.cache_dir),
        quick=runtime.quick,
        training=dict(spec.training) if spec.training is not None else None,
        sweep_parameter=scenario.sweep.parameter,
        points=every_point if points is None else [every_point[i] for i in points],
    )


def build_system(scenario: Scenario, index: int, runtime: Runtime,
                 points: Optional[Sequence[int]] = None) -> System:
    """Construct ``systems[index]`` (cheap; the runner then calls ``setup()``).

    :param points: Sweep-point indices the system sets up for (default: all).
    """
    cls = system_class(scenario, index)
    params = validate_params(cls, scenario.systems[index].params, field=f"systems[{index}].params")
    return cls(params, system_context(scenario, index, runtime, points))


def _check_channel(spec: Dict[str, Any], field: str) -> None:
    from .registry import build_component

    build_component(channels, spec, field=field)


def check_components(scenario: Scenario) -> None:
    """Check every component name and parameter of ``scenario``.

    :raises UserError: naming the field path of the first problem.
    """
    _check_channel(scenario.channel, "channel")
    if scenario.data is not None:
        data_type = scenario.data.get("type")
        if not isinstance(data_type, str):
            raise UserError("data.type: required, the name of a dataset")
        cls = datasets.get(data_type, field="data.type")
        validate_params(cls, {k: v for k, v in scenario.data.items() if k != "type"}, field="data")

    metric_objs = {}
    for i, name in enumerate(scenario.metrics):
        metric_objs[name] = get_metric(name, field=f"metrics[{i}]")
    mc = scenario.monte_carlo
    if mc.stop_metric is not None and mc.stop_metric not in metric_objs:
        raise UserError(f"monte_carlo.stop_metric: {mc.stop_metric!r} is not one of the scenario's metrics")

    runtime = Runtime()
    provided: Dict[str, List[str]] = {name: [] for name in scenario.metrics}
    for i, spec in enumerate(scenario.systems):
        cls = system_class(scenario, i)
        params = validate_params(cls, spec.params, field=f"systems[{i}].params")
        if spec.channel is not None:
            _check_channel(spec.channel, f"systems[{i}].channel")
        accepted = set(cls.sweep_parameters)
        for name in [scenario.sweep.parameter, *scenario.sweep.fixed]:
            if name not in accepted:
                field = "sweep.parameter" if name == scenario.sweep.parameter else f"sweep.fixed.{name}"
                raise UserError(
                    f"{field}: system {spec.label!r} (systems[{i}]) does not take {name!r}; "
                    f"it takes {', '.join(sorted(accepted))}"
                )
        try:
            cls.validate_context(params, system_context(scenario, i, runtime))
        except UserError as exc:
            raise UserError(_qualify(str(exc), i, own_channel=spec.channel is not None)) from None
        for name in scenario.metrics:
            if name in cls.metrics_provided:
                provided[name].append(spec.label)
    for i, name in enumerate(scenario.metrics):
        if not provided[name]:
            raise UserError(f"metrics[{i}]: no system of this scenario reports {name!r}")

    labels = {s.label for s in scenario.systems}
    for i, fig in enumerate(scenario.figures):
        if fig.y not in metric_objs:
            raise UserError(f"figures[{i}].y: {fig.y!r} is not one of the scenario's metrics")
        x = fig.x or scenario.sweep.parameter
        if x != scenario.sweep.parameter:
            if x not in metric_objs:
                raise UserError(
                    f"figures[{i}].x: {x!r} is neither the swept parameter {scenario.sweep.parameter!r} "
                    f"nor one of the scenario's metrics ({', '.join(scenario.metrics)})"
                )
            if fig.xticks != "auto":
                raise UserError(f"figures[{i}].xticks: {fig.xticks!r} needs x to be the swept parameter "
                                f"{scenario.sweep.parameter!r} (x is the metric {x!r}); use auto")
        for label in fig.systems or []:
            if label not in labels:
                raise UserError(f"figures[{i}].systems: no system labelled {label!r}")
        for j, curve in enumerate(fig.theory):
            fn = theory.get(curve.type, field=f"figures[{i}].theory[{j}].type")
            _check_theory_params(fn, curve.params, f"figures[{i}].theory[{j}].params")
    for i, table in enumerate(scenario.tables):
        for j, name in enumerate(table.metrics):
            if name not in metric_objs:
                raise UserError(f"tables[{i}].metrics[{j}]: {name!r} is not one of the scenario's metrics")
        for j, label in enumerate(table.systems or []):
            if label not in labels:
                raise UserError(f"tables[{i}].systems[{j}]: no system labelled {label!r}")
        for name in table.scale:
            if name not in table.metrics:
                raise UserError(f"tables[{i}].scale.{name}: {name!r} is not one of this table's metrics")


def _qualify(message: str, index: int, *, own_channel: bool) -> str:
    """Prefix a system's relative field path (``params.x``) with ``systems[index].``.

    ``channel`` stays top-level unless the system overrides the scenario's channel.
    """
    relative = ("params", "training") + (("channel",) if own_channel else ())
    if message.split(":", 1)[0].split(".", 1)[0].split("[", 1)[0] in relative:
        return f"systems[{index}].{message}"
    return message


def _check_theory_params(fn: Any, params: Dict[str, Any], field: str) -> None:
    import inspect

    try:
        inspect.signature(fn).bind(0.0, **params)
    except TypeError as exc:
        raise UserError(f"{field}: {exc}") from None

"""Turn a validated :class:`~linksim.scenario.Scenario` into components.

The same functions serve ``linksim validate`` (check every name and parameter without
training or simulating) and the runner (build the systems), so both always agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Type

from .errors import UserError
from .metrics import get_metric
from .paths import cache_root
from .resources import Resources
from .registry import channels, datasets, systems, theory, validate_params
from .systems.base import System, SystemContext

if TYPE_CHECKING:  # the schema imports this module to check components: no import back at run time
    from .scenario import Scenario


@dataclass(frozen=True)
class Runtime:
    """Settings of one run that are not part of the scenario."""

    device: str = "cpu"
    cache_dir: Path = dataclasses.field(default_factory=cache_root)
    quick: bool = False
    #: Datasets and shared models of this run (one object for all its systems).
    resources: Resources = dataclasses.field(default_factory=Resources)


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
        resources=runtime.resources,
        metrics=list(scenario.metrics),
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
    """Check every component name and parameter of ``scenario``: systems, then outputs.

    :raises UserError: naming the field path of the first problem.
    """
    check_systems(scenario)
    check_outputs(scenario)


def check_systems(scenario: Scenario) -> None:
    """Check the channel, data, metrics and systems of ``scenario`` (names, parameters, context).

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
        if spec.training is not None and not cls.accepts_training:
            raise UserError(f"systems[{i}].training: system type {spec.type!r} ({spec.label!r}) trains nothing "
                            f"and takes no training settings")
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
    for i, spec in enumerate(scenario.systems):
        _check_batch_memory(scenario, i, runtime)


def _check_batch_memory(scenario: Scenario, index: int, runtime: Runtime) -> None:
    """Refuse a batch that the system estimates would not fit in this machine's memory."""
    from .machine import memory_bytes

    spec = scenario.systems[index]
    cls = system_class(scenario, index)
    params = validate_params(cls, spec.params, field=f"systems[{index}].params")
    context = system_context(scenario, index, runtime)
    for field, mc in (("monte_carlo.batch_size", scenario.monte_carlo), ("monte_carlo.quick.batch_size", None)):
        batch = scenario.with_quick().monte_carlo.batch_size if mc is None else mc.batch_size
        need = cls.batch_memory_bytes(params, context, batch)
        have = memory_bytes()
        if need is not None and have is not None and need > have:
            raise UserError(f"{field}: a batch of {batch} examples of system {spec.label!r} (systems[{index}]) "
                            f"needs about {need / 2**30:.3g} GiB; this machine has {have / 2**30:.3g} GiB: "
                            f"use a smaller batch_size and more batches")


def _check_samples(scenario: Scenario) -> None:
    """Every ``samples`` grid names systems that can draw samples, at an existing sweep point."""
    index = {spec.label: i for i, spec in enumerate(scenario.systems)}
    points = len(scenario.sweep.points())
    for i, spec in enumerate(scenario.samples):
        if spec.point >= points:
            raise UserError(f"samples[{i}].point: {spec.point} is not a sweep point index (the sweep has {points} "
                            f"points, 0-{points - 1})")
        for j, label in enumerate(spec.systems):
            if label not in index:
                raise UserError(f"samples[{i}].systems[{j}]: no system labelled {label!r}")
            cls = system_class(scenario, index[label])
            if getattr(cls, "sample_images", None) is getattr(System, "sample_images"):
                raise UserError(f"samples[{i}].systems[{j}]: system {label!r} (type "
                                f"{scenario.systems[index[label]].type!r}) draws no sample images")
            refused = cls.samples_refused(validate_params(cls, scenario.systems[index[label]].params,
                                                          field=f"systems[{index[label]}].params"))
            if refused:
                raise UserError(f"samples[{i}].systems[{j}]: system {label!r}: {refused}")


def check_outputs(scenario: Scenario) -> None:
    """Check the figures and tables of ``scenario`` against its metrics, systems and sweep.

    Also used on the scenario stored in a results file (``linksim plot``), where the
    systems are not built.

    :raises UserError: naming the field path of the first problem.
    """
    metric_objs = {name: get_metric(name, field=f"metrics[{i}]") for i, name in enumerate(scenario.metrics)}
    labels = {s.label for s in scenario.systems}
    _check_samples(scenario)
    classes: List[Any] = []
    for i, fig in enumerate(scenario.figures):
        if fig.kind == "heatmap":
            from .matrices import check_heatmap

            if not classes:
                classes = [(system_class(scenario, k), validate_params(system_class(scenario, k), spec.params,
                                                                       field=f"systems[{k}].params"))
                           for k, spec in enumerate(scenario.systems)]
            check_heatmap(scenario, i, fig, classes)
            continue
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
            if fig.kind == "bar":
                raise UserError(f"figures[{i}].kind: bar needs x to be the swept parameter "
                                f"{scenario.sweep.parameter!r} (x is the metric {x!r})")
        elif fig.xscale == "log" and min(scenario.sweep.grid()) <= 0:
            raise UserError(f"figures[{i}].xscale: a log x axis needs positive sweep values "
                            f"(the sweep has {min(scenario.sweep.grid()):g})")
        log_y = fig.scale == "log" if fig.scale is not None else metric_objs[fig.y].is_error_rate
        if log_y and fig.ylim is not None and fig.ylim[0] <= 0:
            raise UserError(f"figures[{i}].ylim: a log y axis needs a positive lower limit (got {fig.ylim[0]:g}); "
                            f"give one such as 1.0e-5, or scale: linear")
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
    """Validate a theory curve's ``params`` with its ``Params`` model (else its signature)."""
    import inspect

    if getattr(fn, "Params", None) is not None:
        validate_params(fn, params, field=field)
        return
    try:
        inspect.signature(fn).bind(0.0, **params)
    except TypeError as exc:
        raise UserError(f"{field}: {exc}") from None

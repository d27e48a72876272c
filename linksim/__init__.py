"""linksim: an end-to-end link simulator for semantic-communication research.

Sionna 2 (PyTorch) supplies the PHY; Keras 3 on the PyTorch backend carries the
learned transceivers. ``KERAS_BACKEND=torch`` is set here, before keras is imported.

Python API::

    import linksim
    result = linksim.run("scenarios/ber_qam_awgn.yaml", quick=True)
    print(result.csv_path)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, Union

from ._backend import ensure_keras_torch

ensure_keras_torch()

from .errors import UserError  # noqa: E402
from .registry import ParamsModel  # noqa: E402

# The registries live in linksim.registry (``from linksim.registry import systems``);
# they are not re-exported here because ``linksim.systems`` is the package of systems.

__version__ = "0.1.0"

__all__ = [
    "ParamsModel", "UserError",
    "load_scenario", "run", "__version__",
]


def load_scenario(path: Union[str, Path], *, plugins: Sequence[str] = ()) -> Any:
    """Load and validate a scenario file (see :func:`linksim.scenario.load_scenario`).

    :param plugins: Plugin modules you trust, imported first (as ``--plugin``).
    :raises UserError: the message ``linksim`` would print, naming the file, line and field.
    """
    from .scenario import load_scenario as _load

    return _load(path, plugins=plugins)


def run(scenario: Union[str, Path, Any], *, plugins: Sequence[str] = (), **kwargs: Any) -> Any:
    """Run a scenario (path or :class:`~linksim.scenario.Scenario`); same options as ``linksim run``.

    Keyword arguments: ``out``, ``plots_dir``, ``device``, ``fresh``, ``quick``,
    ``cache_dir``, ``progress``, and ``plugins`` (modules you trust, as ``--plugin``).
    Returns a :class:`~linksim.runner.RunResult`.

    :raises UserError: every mistake in the input (scenario, options, folders), with the
        same one-line message the command line prints; nothing is run or written first.
    """
    from .runner import run_scenario
    from .scenario import Scenario

    if isinstance(scenario, Scenario):
        from . import plugins as plugin_modules

        plugin_modules.activate(plugins)
        plugin_modules.check_declared(scenario.plugins)
        return run_scenario(scenario, **kwargs)
    if not isinstance(scenario, (str, Path)):
        raise UserError(f"scenario: a file path or a linksim Scenario, not {type(scenario).__name__}")
    return run_scenario(load_scenario(scenario, plugins=plugins), scenario_path=Path(scenario), **kwargs)

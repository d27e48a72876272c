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
from typing import Any, Union

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


def load_scenario(path: Union[str, Path]) -> Any:
    """Load and validate a scenario file (see :func:`linksim.scenario.load_scenario`)."""
    from .scenario import load_scenario as _load

    return _load(path)


def run(scenario: Union[str, Path, Any], **kwargs: Any) -> Any:
    """Run a scenario (path or :class:`~linksim.scenario.Scenario`); same options as ``linksim run``.

    Keyword arguments: ``out``, ``plots_dir``, ``device``, ``fresh``, ``quick``,
    ``cache_dir``, ``progress``. Returns a :class:`~linksim.runner.RunResult`.
    """
    from .runner import run_scenario
    from .scenario import Scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return run_scenario(scenario, **kwargs)

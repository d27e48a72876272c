"""Plugins: the only way a user's own code enters linksim.

A scenario file names components (``type: bit_link``); it never names code. Code that
registers new components comes from *plugin modules* that the **user running linksim**
lists, in one of three ways:

* ``--plugin MODULE`` on the command line (repeatable), or ``plugins=[...]`` in the
  Python API (:func:`linksim.run`, :func:`linksim.load_scenario`);
* the environment variable ``LINKSIM_PLUGINS`` (module names separated by commas);
* an installed package's entry point in the group ``linksim.plugins`` (installing a
  package is trusting it).

A scenario may *declare* the plugin modules it needs (``plugins: [my_pkg.my_module]``),
but a declaration imports nothing: a module the user has not listed is an error that
says how to allow it. So a scenario from someone else can only run code from modules
you list. ``"module:Class"`` references in a scenario resolve only inside such modules
(see :meth:`linksim.registry.Registry.get`).

Plugins are imported before any name of the scenario is checked, so a plugin can add
systems, channels, codes, datasets, metrics and theory curves that the scenario names.
"""

from __future__ import annotations

import importlib
import os
import re
from importlib import metadata
from types import ModuleType
from typing import Dict, Iterable, List, Sequence

from .errors import UserError

ENTRY_POINT_GROUP = "linksim.plugins"
ENV_VAR = "LINKSIM_PLUGINS"
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

_loaded: Dict[str, ModuleType] = {}  # every plugin module imported so far, by name
_entry_points_loaded = False


def check_module_name(name: object, field: str) -> str:
    """``name`` if it is a dotted Python module name, else a :class:`UserError` naming ``field``."""
    if not isinstance(name, str) or not MODULE_NAME.match(name) or len(name) > 200:
        raise UserError(f"{field}: {name!r} is not a Python module name (e.g. my_package.my_module)")
    return name


def env_modules() -> List[str]:
    """The module names listed in ``$LINKSIM_PLUGINS`` (comma- or space-separated)."""
    raw = os.environ.get(ENV_VAR, "")
    return [check_module_name(part, f"${ENV_VAR}") for part in re.split(r"[,\s]+", raw) if part]


def import_plugin(name: str, field: str) -> ModuleType:
    """Import the plugin module ``name`` (listed by the user at ``field``) and remember it.

    :raises UserError: the module (or a module it needs) does not exist.
    """
    check_module_name(name, field)
    if name in _loaded:
        return _loaded[name]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or name
        needed = "" if name == missing or name.startswith(missing + ".") else f" (it needs {missing!r})"
        raise UserError(f"{field}: cannot import plugin module {name!r}{needed}: no module named {missing!r}; "
                        f"is it installed or on PYTHONPATH?") from None
    except ImportError as exc:
        raise UserError(f"{field}: cannot import plugin module {name!r}: {exc}") from None
    _loaded[name] = module
    return module


def load_entry_points() -> None:
    """Import the plugin modules of installed packages (entry-point group ``linksim.plugins``), once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        module_name = entry.value.split(":", 1)[0].strip()
        import_plugin(module_name, f"entry point {entry.name!r} ({ENTRY_POINT_GROUP})")


def activate(cli_modules: Iterable[str] = ()) -> List[str]:
    """Import every plugin the user listed (command line or API, environment, entry points).

    :param cli_modules: Modules given with ``--plugin`` (or ``plugins=`` in the API).
    :returns: The names of all plugin modules imported in this process so far.
    :raises UserError: naming ``--plugin`` or ``$LINKSIM_PLUGINS`` for a module that
        cannot be imported.
    """
    load_entry_points()
    for name in env_modules():
        import_plugin(name, f"${ENV_VAR}")
    for name in cli_modules:
        import_plugin(name, "--plugin")
    return loaded()


def loaded() -> List[str]:
    """Names of the plugin modules imported so far (sorted)."""
    return sorted(_loaded)


def is_plugin(module_name: str) -> bool:
    """True if ``module_name`` is a plugin module the user listed (and it is imported)."""
    return module_name in _loaded


def check_declared(declared: Sequence[str], *, field: str = "plugins") -> None:
    """Check that every plugin a scenario declares is one the user listed.

    :raises UserError: naming ``plugins[i]`` and how to allow the module.
    """
    for i, name in enumerate(declared):
        check_module_name(name, f"{field}[{i}]")
        if not is_plugin(name):
            raise UserError(
                f"{field}[{i}]: the scenario needs plugin module {name!r}, which you have not listed; "
                f"a scenario cannot load code by itself: if you trust {name!r}, run with --plugin {name} "
                f"(or set {ENV_VAR}={name})"
            )

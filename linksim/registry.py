"""One registry per kind of component: the single name table of linksim.

Every component a scenario can name (system, channel, code, dataset, metric, theory
curve) is a class or function registered here under a short name. The scenario
loader, the CLI (``linksim list``) and the Python API read the same tables, so a name
that works in one works in all.

Registering a component::

    from linksim.registry import systems

    @systems.register("my_link")
    class MyLink(System):
        class Params(ParamsModel):
            order: int = 16
        ...

A scenario may also name a class of a plugin module by import path,
``"package.module:Class"`` (systems, channels and codes only): the module must be one
the user listed (:mod:`linksim.plugins`) and the class a subclass of the kind's base
class. Any other ``module:name`` is refused, so a scenario never reaches arbitrary code.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
import math
from typing import Annotated, Any, Callable, Dict, Generic, Iterable, List, Optional, TypeVar

from pydantic import BeforeValidator, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError

from . import plugins
from .errors import UserError
from .validation import StrictFields, error_path

T = TypeVar("T")

#: Packages whose modules register linksim's own components; every module in them is
#: imported on first use of a registry (so that ``import linksim`` stays light). A new
#: built-in module needs no line anywhere: putting it in one of these packages is enough.
BUILTIN_PACKAGES = ("linksim.phy", "linksim.data", "linksim.source", "linksim.systems")
#: Single modules that register components.
BUILTIN_MODULES = ("linksim.metrics",)
_builtins_loaded = False


def builtin_modules() -> List[str]:
    """The names of linksim's own modules that may register components (sorted, discovered)."""
    names = list(BUILTIN_MODULES)
    for package_name in BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        names += [info.name for info in pkgutil.walk_packages(package.__path__, package_name + ".")]
    return sorted(set(names))


def load_builtins() -> None:
    """Import every module that registers shipped components (idempotent)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in builtin_modules():
        importlib.import_module(module)


def parse_number(value: Any) -> Any:
    """A number, or a string ``"a/b"`` (a fraction such as ``"1/24"`` or ``"1/2.5"``) as a float.

    YAML reads an unquoted ``1/24`` as the string ``"1/24"``, so sweep values can be
    written as the paper writes them. Other inputs are left to pydantic's float check.
    """
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "expected a number, not the boolean {value}",
                                  {"value": str(value).lower()})
    if not isinstance(value, str):
        return value
    text = value.strip()
    parts = text.split("/")
    try:
        if len(parts) == 1:
            number = float(text)
        elif len(parts) == 2:
            numerator, denominator = float(parts[0]), float(parts[1])
            if denominator == 0:
                raise ZeroDivisionError
            number = numerator / denominator
        else:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise PydanticCustomError("fraction", f"{value!r} is not a number or a fraction 'a/b' (e.g. 1/24)") from None
    if not math.isfinite(number):
        raise PydanticCustomError("fraction", f"{value!r} is not a finite number")
    return number


#: A float that may be written as ``"a/b"`` in YAML (see :func:`parse_number`).
Number = Annotated[
    float,
    BeforeValidator(parse_number),
    WithJsonSchema({"anyOf": [{"type": "number"},
                              {"type": "string", "pattern": r"^\s*[-+0-9.eE]+\s*(/\s*[-+0-9.eE]+\s*)?$"}]}),
]


class ParamsModel(StrictFields):
    """Base for a component's parameter model: unknown keys, non-finite numbers and
    booleans given for numbers are errors (:class:`~linksim.validation.StrictFields`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered component: its name, the object and a one-line summary."""

    name: str
    obj: T
    summary: str


def _first_line(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


class Registry(Generic[T]):
    """Name -> component table for one kind of component.

    :param kind: What the table holds, used in messages ("system", "channel", ...).
    :param base: ``"module:Class"`` of the base class every component of this kind
        subclasses; None where components are functions (metrics, theory curves), which
        can then only be named by their registered name.
    """

    def __init__(self, kind: str, base: Optional[str] = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: Dict[str, Entry[T]] = {}

    def register(self, name: str, *, summary: Optional[str] = None) -> Callable[[T], T]:
        """Decorator registering a class or function under ``name``.

        Registering the same name twice with a different object is an error: two
        components may not silently shadow each other.
        """

        def decorator(obj: T) -> T:
            existing = self._entries.get(name)
            if existing is not None and existing.obj is not obj:
                same_origin = (
                    getattr(existing.obj, "__module__", None) == getattr(obj, "__module__", None)
                    and getattr(existing.obj, "__qualname__", None) == getattr(obj, "__qualname__", None)
                )
                if not same_origin:  # re-import of the same module (e.g. reload) is fine
                    raise ValueError(f"{self.kind} name {name!r} is already registered")
            self._entries[name] = Entry(name, obj, summary or _first_line(obj))
            try:
                setattr(obj, "registered_name", name)
            except (AttributeError, TypeError):
                pass
            return obj

        return decorator

    def names(self) -> List[str]:
        """Sorted registered names (shipped components included)."""
        load_builtins()
        return sorted(self._entries)

    def entries(self) -> Iterable[Entry[T]]:
        load_builtins()
        return [self._entries[n] for n in sorted(self._entries)]

    def __contains__(self, name: str) -> bool:
        load_builtins()
        return name in self._entries

    def get(self, name: str, *, field: str = "type") -> T:
        """Look a component up by registered name, or by ``module:Class`` in a plugin module.

        :param field: Field path used in the error message when the name is unknown.
        :raises UserError: unknown name; a ``module:name`` outside the plugin modules
            the user listed, or not a subclass of this kind's base class.
        """
        load_builtins()
        if not isinstance(name, str):
            raise UserError(f"{field}: the name of a {self.kind} is text, not {type(name).__name__}")
        if name in self._entries:
            return self._entries[name].obj
        if ":" in name:
            return self._plugin_class(name, field)
        known = ", ".join(sorted(self._entries)) or "(none)"
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise UserError(f"{field}: unknown {self.kind} {shown!r}; known: {known}")

    def _plugin_class(self, path: str, field: str) -> Any:
        """The class ``module:Class`` of a listed plugin module (never any other object)."""
        module_name, _, attr = path.partition(":")
        shown = path if len(path) <= 80 else path[:77] + "..."
        if self.base is None:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise UserError(f"{field}: {shown!r}: a {self.kind} is named by its registered name, not by "
                            f"an import path; known: {known} (plugin modules register theirs)")
        if not plugins.is_plugin(module_name):
            raise UserError(
                f"{field}: {shown!r} names code in module {module_name!r}, which is not a plugin module you "
                f"listed; a scenario names registered {self.kind}s (linksim list), or classes of modules given "
                f"with --plugin (see the README's trust model)"
            )
        parts = attr.split(".")
        if not attr or not all(p.isidentifier() and not p.startswith("_") for p in parts):
            raise UserError(f"{field}: {shown!r}: {attr!r} is not a public class name")
        obj: Any = plugins.import_plugin(module_name, field)
        for part in parts:
            obj = getattr(obj, part, None)
        base_module, _, base_name = self.base.partition(":")
        base = getattr(importlib.import_module(base_module), base_name)
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise UserError(f"{field}: {shown!r} is not a {self.kind} class (a subclass of {base_module}.{base_name}) "
                            f"of plugin module {module_name!r}")
        return obj


systems: Registry[Any] = Registry("system", base="linksim.systems.base:System")
channels: Registry[Any] = Registry("channel", base="linksim.phy.base:Channel")
codes: Registry[Any] = Registry("code", base="linksim.phy.base:ChannelCode")
datasets: Registry[Any] = Registry("dataset")
source_codecs: Registry[Any] = Registry("source codec", base="linksim.source.image_codec:ImageCodec")
metrics: Registry[Any] = Registry("metric")
theory: Registry[Any] = Registry("theory curve")

ALL_REGISTRIES: Dict[str, Registry[Any]] = {
    "systems": systems,
    "channels": channels,
    "codes": codes,
    "datasets": datasets,
    "source_codecs": source_codecs,
    "metrics": metrics,
    "theory": theory,
}


def build_component(registry: Registry[Any], spec: Dict[str, Any], *, field: str, **extra: Any) -> Any:
    """Build a component from a ``{type: name, ...params}`` mapping.

    The parameters are validated against the component's ``Params`` model (if it has
    one) so that errors name the exact field, e.g. ``channel.k_factor``.
    """
    spec = dict(spec)
    name = spec.pop("type", None)
    if not isinstance(name, str):
        raise UserError(f"{field}.type: required, the name of a {registry.kind}")
    cls = registry.get(name, field=f"{field}.type")
    params = validate_params(cls, spec, field=field)
    return cls(params, **extra) if extra else cls(params)


def validate_params(cls: Any, params: Dict[str, Any], *, field: str) -> Any:
    """Validate ``params`` with ``cls.Params``; return the model instance.

    :raises UserError: naming ``field.<param>`` for the first invalid parameter.
    """
    return validate_model(getattr(cls, "Params", None) or ParamsModel, params, field=field)


def validate_model(model: Any, values: Dict[str, Any], *, field: str) -> Any:
    """Validate ``values`` with the pydantic ``model``; errors name ``field.<key>``.

    :raises UserError: one line per invalid key.
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, prefix=field)) from None


def format_validation_error(exc: Any, prefix: str = "") -> str:
    """One readable line per pydantic error, each naming its field path."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error_path(err))
        loc = loc.replace(".[", "[")
        path = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        lines.append(f"{path}: {msg}")
    return "; ".join(lines)

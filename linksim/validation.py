"""The strictness shared by every validated block of a scenario.

:class:`StrictFields` is the base of the scenario schema (:mod:`linksim.scenario`) and
of every component's ``Params`` (:class:`linksim.registry.ParamsModel`). It makes three
rules hold everywhere, so that no block can forget them:

* unknown keys are errors (``extra="forbid"``);
* numbers are finite: ``.nan``, ``.inf`` and floats too large for a double are refused
  (``allow_inf_nan=False``);
* a boolean is not a number: ``seed: true`` or ``batch_size: yes`` is an error, not 1
  (pydantic's lax mode would accept it), unless the field itself admits a boolean.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Dict

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

_ADMITS_BOOL: Dict[Any, bool] = {}
_UNION_TYPE = getattr(types, "UnionType", None)  # X | Y (Python >= 3.10)


def admits_bool(annotation: Any) -> bool:
    """True if a value of type ``annotation`` may be a ``bool`` (``bool``, ``Any``, unions of them)."""
    try:
        return _ADMITS_BOOL[annotation]
    except (KeyError, TypeError):
        pass
    if annotation is bool or annotation is Any or annotation is object:
        result = True
    elif typing.get_origin(annotation) is typing.Literal:
        result = any(isinstance(arg, bool) for arg in typing.get_args(annotation))
    elif typing.get_origin(annotation) is typing.Annotated:
        result = admits_bool(typing.get_args(annotation)[0])
    elif typing.get_origin(annotation) in (typing.Union, _UNION_TYPE):
        result = any(admits_bool(arg) for arg in typing.get_args(annotation))
    else:
        result = False
    try:
        _ADMITS_BOOL[annotation] = result
    except TypeError:  # unhashable annotation
        pass
    return result


def _element_annotation(annotation: Any) -> Any:
    """The element type of ``List[X]`` / ``Tuple[X, ...]`` / ``Optional[List[X]]``, else None."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, _UNION_TYPE) and len(args) == 1:
        return _element_annotation(args[0])
    if origin is typing.Annotated:
        return _element_annotation(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset) and args:
        return bool if any(admits_bool(a) for a in args if a is not Ellipsis) else args[0]
    return None


class StrictFields(BaseModel):
    """Base model: unknown keys, non-finite numbers and booleans-as-numbers are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        errors = []
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            if field is None:
                continue
            if isinstance(value, bool) and not admits_bool(field.annotation):
                errors.append(_bool_error((name,), value))
            elif isinstance(value, (list, tuple)):
                element = _element_annotation(field.annotation)
                if element is not None and not admits_bool(element):
                    errors += [_bool_error((name, i), v) for i, v in enumerate(value) if isinstance(v, bool)]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data


def _bool_error(loc: tuple, value: bool) -> InitErrorDetails:
    error = PydanticCustomError("bool_not_number", "expected a number or a name, not the boolean {value}",
                                {"value": str(value).lower()})
    return InitErrorDetails(type=error, loc=loc, input=value)


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error a model validator raises about one of its fields (``field``: ``values``,
    ``systems[1].label``): messages then name ``<model path>.<field>`` like any field error."""
    return PydanticCustomError("located", message, {"field": field})


def error_path(error: Dict[str, Any]) -> tuple:
    """The location of one pydantic error, with the field of a :func:`field_error` appended."""
    loc = tuple(error["loc"])
    if error.get("type") == "located":
        for part in str(error.get("ctx", {}).get("field", "")).replace("[", ".[").split("."):
            if part:
                loc += (int(part[1:-1]),) if part.startswith("[") and part[1:-1].isdigit() else (part,)
    return loc

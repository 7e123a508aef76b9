"""Type-checked overrides of configuration dataclasses (`ModelConfig`, and the training config).

Config is data: a frozen dataclass that builds the model and travels inside every checkpoint.
Changing a field goes through `override`, which rejects unknown keys (naming the valid ones) and
values of the wrong type, so a typo on the command line is an error, not a silently ignored knob.
"""
import dataclasses
import types
import typing
from typing import Any, TypeVar

C = TypeVar("C")


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether `value` fits a field annotation: plain types, `X | None`, and `tuple[T, ...]`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(annotation))
    if origin is tuple:
        item_type = typing.get_args(annotation)[0]
        return isinstance(value, tuple) and all(_accepts(item_type, v) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def override(cfg: C, **changes: Any) -> C:
    """A copy of the dataclass `cfg` with `changes` applied, each checked against its field's type."""
    hints = typing.get_type_hints(type(cfg))
    fields = [f.name for f in dataclasses.fields(cfg)]
    for key, value in changes.items():
        if key not in fields:
            raise ValueError(f"{type(cfg).__name__} has no field {key!r}; valid fields: {', '.join(fields)}")
        if not _accepts(hints[key], value):
            raise TypeError(
                f"{type(cfg).__name__}.{key} must be {_type_name(hints[key])}, got {value!r} ({type(value).__name__})"
            )
    return dataclasses.replace(cfg, **changes)


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)

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


def parse_value(cls: type, key: str, text: str) -> Any:
    """Convert a command-line string to the type of field `key` of dataclass `cls`.

    int and float as Python reads them; bool from true/false/yes/no/1/0; "none" for optional fields;
    tuples as comma-separated items ("170,200"). A bad value names the field and the expected type.
    """
    hints = typing.get_type_hints(cls)
    if key not in hints:
        raise ValueError(f"{cls.__name__} has no field {key!r}; valid fields: {', '.join(hints)}")
    annotation = hints[key]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) < len(
        typing.get_args(annotation))
    if optional and text.lower() in ("none", "null", ""):
        return None
    target = args[0] if optional else annotation
    try:
        if typing.get_origin(target) is tuple:
            item = typing.get_args(target)[0]
            return tuple(_convert(item, part.strip()) for part in text.split(",") if part.strip())
        return _convert(target, text)
    except ValueError:
        raise ValueError(f"--{key}={text}: expected {_type_name(annotation)}") from None


def _convert(target: type, text: str) -> Any:
    if target is bool:
        lowered = text.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError(text)
        return lowered in ("true", "yes", "1")
    return target(text)  # int("abc") and float("abc") raise ValueError


def load_toml(cls: type, path: str) -> dict[str, Any]:
    """The fields set in a TOML file, with arrays turned into tuples, ready for `override`."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from None
    return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}

"""Typed records to plain JSON data and back: dataclasses, lists, dicts, tuples,
unions with None, enums and scalars.

Records cross process boundaries as JSON (the supervisor's socket, the launcher's pipe);
the receiving side rebuilds the exact types from the dataclass annotations, so a field
typo is a mypy error on one side and a ``TypeError`` naming the field on the other,
never a silently ignored key.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, fields, is_dataclass
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")

_HINTS: dict[type, dict[str, Any]] = {}


def to_plain(record: Any) -> dict[str, Any]:
    """A dataclass as JSON-ready data (enums by value)."""
    return _enums_out(asdict(record))


def _enums_out(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _enums_out(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_enums_out(v) for v in value]
    return value


def from_plain(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild ``cls`` from :func:`to_plain`'s data. Unknown keys are an error (a
    sender newer than the receiver says so instead of being half understood)."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
    kwargs = {name: _convert(hints[name], value) for name, value in data.items()}
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    args = get_args(tp)
    if isinstance(tp, type):
        if is_dataclass(tp):
            return from_plain(tp, value)
        if issubclass(tp, enum.Enum):
            return tp(value)
        return value
    if origin is list:
        return [_convert(args[0], v) for v in value]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=False))
    if origin is dict:
        return {k: _convert(args[1], v) for k, v in value.items()}
    if args and origin is not Literal:  # a union: X | None, Rootfs | str
        for a in args:
            if a is type(None):
                continue
            if isinstance(a, type) and is_dataclass(a):
                if isinstance(value, dict):
                    return from_plain(a, value)
                continue
            if isinstance(a, type) and issubclass(a, enum.Enum):
                return a(value)
            return _convert(a, value)
    return value

"""Typed records to plain JSON data and back: records (``util/records.py``),
dataclasses, lists, dicts, tuples, unions with None, enums and scalars.

Records cross process boundaries as JSON (the supervisor's socket, the launcher's pipe);
the receiving side rebuilds the exact types from the dataclass annotations, so a field
typo is a mypy error on one side and a ``TypeError`` naming the field on the other,
never a silently ignored key.
"""

from __future__ import annotations

import enum

TYPE_CHECKING = False  # not typing's: the thin client encodes requests with this module,
if TYPE_CHECKING:      # and only decoding needs typing's introspection
    from typing import Any, TypeVar

    T = TypeVar("T")

_HINTS: dict[type, dict[str, Any]] = {}


def to_plain(record: Any) -> dict[str, Any]:
    """A record or a dataclass as JSON-ready data (enums by value)."""
    out = _out(record)
    assert isinstance(out, dict)
    return out


def _out(value: Any) -> Any:
    names = getattr(type(value), "__record_fields__", None)
    if names is not None:
        return {n: _out(getattr(value, n)) for n in names}
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return {n: _out(getattr(value, n)) for n in value.__dataclass_fields__}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _out(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_out(v) for v in value]
    return value


def from_plain(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild ``cls`` from :func:`to_plain`'s data. Unknown keys are an error (a
    sender newer than the receiver says so instead of being half understood)."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = _HINTS.get(cls)
    if hints is None:
        from typing import get_type_hints

        hints = _HINTS[cls] = get_type_hints(cls)
    names = set(_field_names(cls))
    unknown = set(data) - names
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
    kwargs = {name: _convert(hints[name], value) for name, value in data.items()}
    return cls(**kwargs)


def _field_names(cls: type) -> tuple[str, ...]:
    names = getattr(cls, "__record_fields__", None)
    if names is not None:
        return tuple(names)
    from dataclasses import fields

    return tuple(f.name for f in fields(cls))


def _structured(tp: Any) -> bool:
    return isinstance(tp, type) and (hasattr(tp, "__record_fields__")
                                     or hasattr(tp, "__dataclass_fields__"))


def _convert(tp: Any, value: Any) -> Any:
    from typing import Literal, get_args, get_origin

    if value is None:
        return None
    origin = get_origin(tp)
    args = get_args(tp)
    if isinstance(tp, type):
        if _structured(tp):
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
            if _structured(a):
                if isinstance(value, dict):
                    return from_plain(a, value)
                continue
            if isinstance(a, type) and issubclass(a, enum.Enum):
                return a(value)
            return _convert(a, value)
    return value

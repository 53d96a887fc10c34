"""Typed Kubernetes records (manifest.py) to the API's plain mappings and back.

:func:`to_dict` makes the mapping the API takes (``None`` is "not set" and left out);
:func:`from_dict` reads one back and lists every key it did not know, so that ``kube
play`` can say what it ignores instead of dropping it silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from .errors import KubeError
from .manifest import Object


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def key_of(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key") or _camel(f.name))


def to_dict(obj: Any) -> Any:
    """The API's plain form of a record (``None`` left out), recursively."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        if isinstance(obj, Object):
            out["apiVersion"] = obj.API_VERSION
            out["kind"] = obj.KIND
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is not None:
                out[key_of(f)] = to_dict(value)
        return out
    if isinstance(obj, list):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


T = TypeVar("T")

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _kind_of(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _convert(tp: Any, value: Any, path: str, unknown: list[str]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        if set(args) == {int, str}:  # IntOrString
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return value
            raise KubeError(f"expected a number or a string, got {_kind_of(value)}", key=path)
        return _convert(args[0], value, path, unknown)
    if origin is list:
        if not isinstance(value, list):
            raise KubeError(f"expected a list, got {_kind_of(value)}", key=path)
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{path}[{i}]", unknown) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise KubeError(f"expected a mapping, got {_kind_of(value)}", key=path)
        _, item = typing.get_args(tp)
        return {str(k): _convert(item, v, f"{path}.{k}", unknown) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _record(tp, value, path, unknown)
    if tp is str:
        if isinstance(value, (bool, dict, list)) or value is None:
            raise KubeError(f"expected a string, got {_kind_of(value)}", key=path)
        return str(value)  # numbers in a ConfigMap's data are a common slip; keep them
    if tp is bool:
        if not isinstance(value, bool):
            raise KubeError(f"expected true or false, got {_kind_of(value)}", key=path)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise KubeError(f"expected a whole number, got {_kind_of(value)}", key=path)
        return value
    return value


def _record(cls: Any, data: Any, path: str, unknown: list[str]) -> Any:
    if not isinstance(data, dict):
        raise KubeError(f"expected a mapping, got {_kind_of(data)}", key=path or None)
    hints = _hints(cls)
    by_key = {key_of(f): f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        where = f"{path}.{k}" if path else str(k)
        f = by_key.get(str(k))
        if f is None:
            if not (issubclass(cls, Object) and k in ("apiVersion", "kind")):
                unknown.append(where)
            continue
        kwargs[f.name] = _convert(hints[f.name], v, where, unknown)
    missing = [key_of(f) for f in dataclasses.fields(cls) if f.name not in kwargs
               and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise KubeError(f"missing required key {missing[0]!r}", key=path or None)
    return cls(**kwargs)


def from_dict(cls: type[T], data: Any, unknown: list[str] | None = None) -> T:
    """``cls`` read from its plain form; keys it does not declare go to ``unknown``
    (as key paths, ``spec.template.spec.affinity``). A wrong type raises KubeError
    naming the key."""
    result: T = _record(cls, data, "", unknown if unknown is not None else [])
    return result

"""Typed reads of a request's JSON, with docker's 400 for a value of the wrong type.

Go's decoder refuses ``"Memory": "lots"`` with a message naming the field and the type it
wanted; :class:`Doc` does the same, naming the field's path (``HostConfig.Memory``), so
that text becomes types once, here, and no handler indexes raw dicts.
"""

from __future__ import annotations

from typing import Any

from ..engine.api import InvalidArgument


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


class Doc:
    """A JSON object at ``where`` (``""`` for the top)."""

    def __init__(self, data: Any, where: str = "") -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self._bad(where or "body", "an object", data)
        self.data: dict[str, Any] = data
        self.where = where

    @staticmethod
    def _bad(path: str, wanted: str, got: Any) -> InvalidArgument:
        return InvalidArgument(f"invalid JSON: cannot unmarshal {_kind(got)} into field "
                               f"{path} (it takes {wanted})")

    def _get(self, key: str) -> Any:
        """The field ``key``, matched as Go's decoder matches: exactly, else without
        regard to case (docker-py sends ``detachKeys``, the daemon reads DetachKeys)."""
        if key in self.data:
            return self.data[key]
        folded = key.casefold()
        for k, v in self.data.items():
            if isinstance(k, str) and k.casefold() == folded:
                return v
        return None

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return self._get(key) is not None

    def raw(self, key: str) -> Any:
        return self._get(key)

    def text(self, key: str, default: str = "") -> str:
        v = self._get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self._bad(self.path(key), "a string", v)
        return v

    def boolean(self, key: str, default: bool = False) -> bool:
        v = self._get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self._bad(self.path(key), "a boolean", v)
        return v

    def integer(self, key: str, default: int = 0) -> int:
        v = self._get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or \
                (isinstance(v, float) and not v.is_integer()):
            raise self._bad(self.path(key), "an integer", v)
        return int(v)

    def opt_int(self, key: str) -> int | None:
        return None if self._get(key) is None else self.integer(key)

    def strs(self, key: str) -> list[str]:
        """A list of strings (Go's StrSlice also takes one string)."""
        v = self._get(key)
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self._bad(self.path(key), "an array of strings", v)
        return list(v)

    def opt_strs(self, key: str) -> list[str] | None:
        return None if self._get(key) is None else self.strs(key)

    def str_map(self, key: str) -> dict[str, str]:
        v = self._get(key)
        if v is None:
            return {}
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            raise self._bad(self.path(key), "an object of strings", v)
        return {str(k): str(x) for k, x in v.items()}

    def keys_of(self, key: str) -> list[str]:
        """The keys of an object used as a set (``ExposedPorts``, ``Volumes``)."""
        v = self._get(key)
        if v is None:
            return []
        if not isinstance(v, dict):
            raise self._bad(self.path(key), "an object", v)
        return [str(k) for k in v]

    def doc(self, key: str) -> Doc:
        return Doc(self._get(key), self.path(key))

    def docs(self, key: str) -> list[Doc]:
        v = self._get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self._bad(self.path(key), "an array", v)
        return [Doc(x, f"{self.path(key)}[{i}]") for i, x in enumerate(v)]

    def doc_map(self, key: str) -> dict[str, Doc]:
        v = self._get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self._bad(self.path(key), "an object", v)
        return {str(k): Doc(x, f"{self.path(key)}.{k}") for k, x in v.items()}

    def unsupported(self, *keys: str, why: str = "") -> None:
        """Refuse a field the engine cannot honour when it is set (docker clients send
        every field with its zero value, so zero values pass)."""
        for key in keys:
            v = self._get(key)
            if v in (None, "", 0, False, [], {}):
                continue
            raise InvalidArgument(f"{self.path(key)} is not supported by pycompose"
                                  + (f": {why}" if why else ""))

"""docker's ``filters`` query parameter: a JSON map of names to values.

Two shapes reach the daemon: ``{"label": ["a=b"]}`` (today's clients) and
``{"label": {"a=b": true}}`` (old ones); both become :class:`Filters`. Values of one name
are ORed, different names ANDed. A name a resource does not know is docker's 400
``invalid filter 'x'``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .http import Request, bad_request


class Filters:
    def __init__(self, values: dict[str, list[str]] | None = None) -> None:
        self.values: dict[str, list[str]] = values or {}

    @classmethod
    def of(cls, req: Request, allowed: Iterable[str]) -> Filters:
        raw = req.json_arg("filters")
        out: dict[str, list[str]] = {}
        if raw is None:
            return cls(out)
        if not isinstance(raw, dict):
            raise bad_request("invalid filter: filters must be a JSON object")
        names = set(allowed)
        for name, vals in raw.items():
            if name not in names:
                raise bad_request(f"invalid filter '{name}'")
            if isinstance(vals, dict):
                out[name] = [str(k) for k, on in vals.items() if on]
            elif isinstance(vals, list):
                out[name] = [str(v) for v in vals]
            elif isinstance(vals, str):
                out[name] = [vals]
            else:
                raise bad_request(f"invalid filter '{name}': values must be a list")
        return cls(out)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def boolean(self, name: str) -> bool | None:
        vals = self.get(name)
        if not vals:
            return None
        v = vals[-1].lower()
        if v not in ("true", "false", "1", "0"):
            raise bad_request(f"invalid filter '{name}={vals[-1]}': use true or false")
        return v in ("true", "1")

    def labels_match(self, labels: Mapping[str, str], name: str = "label") -> bool:
        """Every ``label`` value matches (docker ANDs label filters): ``key`` present,
        ``key=value`` equal; ``label!`` ones must not match."""
        for f in self.get(name):
            k, eq, v = f.partition("=")
            if k not in labels or (eq and labels[k] != v):
                return False
        for f in self.get(name + "!"):
            k, eq, v = f.partition("=")
            if k in labels and (not eq or labels[k] == v):
                return False
        return True

    def any_match(self, name: str, value: str, *, prefix: bool = False,
                  regex: bool = False) -> bool:
        """True when no ``name`` filter is given, or one of them matches ``value``."""
        vals = self.get(name)
        if not vals:
            return True
        for v in vals:
            if regex:
                try:
                    if re.search(v, value):
                        return True
                except re.error:
                    if v in value:
                        return True
            elif (prefix and value.startswith(v)) or value == v:
                return True
        return False

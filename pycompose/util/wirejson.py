"""JSON for the thin clients' sockets without importing :mod:`json`.

``json``'s package imports ``re`` (and ``re`` imports ``enum``): ~3.5 ms of a command
that only forwards its argv to the warm worker (cli/worker.py). The C parts ``json``
itself runs on are in ``_json``: its string encoder and its scanner. These give the
same text and the same objects as ``json.dumps``/``json.loads`` for what the house's
channels carry (objects, arrays, strings, ints, floats, booleans, null); where ``_json``
is absent (another Python), ``json`` does the work.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - CPython has it
    _json = None  # type: ignore[assignment]


class _Context:
    """What ``_json.make_scanner`` reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"),
                "-Infinity": float("-inf")}[name]


# the scanner reads a JSONDecoder's attributes; typeshed says it takes only one
_scan = _json.make_scanner(_Context()) if _json is not None else None  # type: ignore[arg-type]
_WS = " \t\n\r"
_INF = float("inf")


def dumps(obj: Any) -> str:
    """``json.dumps(obj)``'s text (ASCII, ", " and ": " separators)."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(obj)
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


def _encode(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(_json.encode_basestring_ascii(obj))
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif obj is None:
        out.append("null")
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        if obj != obj:
            out.append("NaN")
        elif obj in (_INF, -_INF):
            out.append("Infinity" if obj > 0 else "-Infinity")
        else:
            out.append(float.__repr__(obj))
    elif isinstance(obj, dict):
        out.append("{")
        for n, (k, v) in enumerate(obj.items()):
            if not isinstance(k, str):
                raise TypeError(f"keys must be str, not {type(k).__name__}")
            out.append(", " if n else "")
            out.append(_json.encode_basestring_ascii(k))
            out.append(": ")
            _encode(v, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for n, v in enumerate(obj):
            out.append(", " if n else "")
            _encode(v, out)
        out.append("]")
    else:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``; ValueError for anything that is not one JSON document."""
    text = data.decode() if isinstance(data, bytes) else data
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    i = 0
    while i < len(text) and text[i] in _WS:
        i += 1
    try:
        obj, end = _scan(text, i)
    except StopIteration:
        raise ValueError(f"not JSON: {text[:40]!r}") from None
    while end < len(text) and text[end] in _WS:
        end += 1
    if end != len(text):
        raise ValueError(f"extra data after JSON at {end}: {text[end:end + 20]!r}")
    return obj

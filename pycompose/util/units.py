"""docker's unit syntaxes, shared by every edge that reads them (the CLI's flags, the
Compose model): sizes (``512m``, binary units) and Go durations (``1m30s``).

Each parser raises ``ValueError`` with the user's message; the caller wraps it in its
own error kind, naming the flag or the key.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
               "p": 1 << 50, "e": 1 << 60}

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9,
                "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_size(text: str) -> int:
    """``512m``, ``1g``, ``2GiB``, ``1048576`` in bytes (docker's RAMInBytes: binary)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"invalid size {text!r}: use a number with an optional unit "
                         "(b, k, m, g)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_duration_ns(text: str) -> int:
    """A Go duration (``30s``, ``1m30s``, ``500ms``, ``1.5h``) in nanoseconds; a bare
    ``0`` is zero."""
    text = text.strip()
    if text == "0":
        return 0
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {text!r}: use a duration such as 30s, 1m30s "
                         "or 500ms")
    return int(total)

"""How the CLI shows engine records: ``container ls``'s STATUS column, docker's
human durations and sizes, its tables, and the small part of Go templates scripts use
(``--format``).

Presentation lives here, at the edge, not in the engine: the engine keeps records.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from pycompose.util.humanize import human_duration, state_text

Record = dict[str, Any]


def status_line(rec: Record, now: float | None = None) -> str:
    """The STATUS column of ``container ls``: docker's words (util/humanize, as the
    Docker API says them), or ``Damaged`` for a record that cannot be read
    (ContainerStore.damaged)."""
    if rec.get("Damaged"):
        return "Damaged (record unreadable)"
    return state_text(rec.get("State") or {}, now)


def render_template(fmt: str, obj: Any) -> str:
    """``--format TEMPLATE`` of one object: the CLI's one Go-template renderer
    (gotemplate.py), with docker's ``\\t``/``\\n`` escapes."""
    from .gotemplate import render, unescape

    return render(unescape(fmt), obj, maps=True)


def human_ago(rfc3339: str) -> str:
    """docker's units.HumanDuration(now - t) + " ago"."""
    try:
        t = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "N/A"
    return human_duration(time.time() - t) + " ago"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)

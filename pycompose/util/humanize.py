"""docker's words for sizes, progress, durations and container states, for every front
end that shows them (the Docker API's ``Status`` field, the CLI's STATUS column).

Standard library only.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def human_size(n: float) -> str:
    """go-units' HumanSize: decimal units, 3 significant digits (``12.3MB``)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.3g}{units[i]}"


def progress_bar(current: int, total: int, width: int = 50) -> str:
    """docker's progress bar: ``[=====>     ]  12.3MB/45.6MB``."""
    filled = min(width, int(width * current / total)) if total > 0 else 0
    arrow = ("=" * max(filled - 1, 0) + (">" if filled < width else "=")) if filled else ">"
    return f"[{arrow:<{width}}] {human_size(current):>7}/{human_size(total)}"


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: ``Less than a second``, ``3 seconds``, ``About a
    minute``, ``2 hours``, ``3 days``..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


def parse_iso(ts: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp as the engine writes them (0 for
    none: docker's zero time)."""
    import calendar  # here: it imports datetime and locale, ~2 ms of every CLI start
    if not ts or ts.startswith("0001"):
        return 0.0
    base, _, frac = ts.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + \
        (float("0." + frac[:9]) if frac else 0.0)


def state_text(state: Mapping[str, Any], now: float | None = None) -> str:
    """docker's ``State.String()``: ``Up 3 seconds (healthy)``, ``Up 1 minute
    (Paused)``, ``Exited (0) 2 seconds ago``, ``Restarting (1) 1 second ago``,
    ``Created``."""
    now = time.time() if now is None else now
    status = str(state.get("Status") or "created")
    code = state.get("ExitCode") or 0
    if status in ("running", "paused"):
        up = f"Up {human_duration(now - parse_iso(str(state.get('StartedAt') or '')))}"
        if status == "paused":
            return f"{up} (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health == "starting":
            return f"{up} (health: starting)"
        return f"{up} ({health})" if health and health != "none" else up
    if status == "restarting":
        return f"Restarting ({code}) " \
               f"{human_duration(now - parse_iso(str(state.get('FinishedAt') or '')))} ago"
    if status == "removing":
        return "Removal In Progress"
    if status == "dead":
        return "Dead"
    if status == "exited":
        finished = parse_iso(str(state.get("FinishedAt") or ""))
        if not finished:
            return f"Exited ({code})"
        return f"Exited ({code}) {human_duration(now - finished)} ago"
    return "Created"

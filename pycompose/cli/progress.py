"""Rendering pull and push progress: a live bar per layer on a terminal, plain lines
otherwise (what docker prints when its output is not a terminal: each layer's status
changes once per line, no bars).

The engine sends typed events (engine.registry.types); this is the only place that
turns them into text.
"""

from __future__ import annotations

import sys
import time

from pycompose.util.humanize import progress_bar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from pycompose.engine.api.registry import Event

_BAR = 50
_REDRAW = 0.1  # seconds between redraws of a moving bar


def _bar(current: int, total: int) -> str:
    return progress_bar(current, total, _BAR) if total > 0 else ""


class ProgressView:
    """Receives events; draws them on ``out``."""

    def __init__(self, out: TextIO | None = None, *, live: bool | None = None,
                 quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.quiet = quiet
        self._order: list[str] = []  # layer ids, in the order of their lines
        self._text: dict[str, str] = {}
        self._status: dict[str, str] = {}
        self._last_draw = 0.0
        self._dirty: set[str] = set()

    def __call__(self, event: Event) -> None:
        from pycompose.engine.api.registry import ImageMessage

        if self.quiet:
            return
        if isinstance(event, ImageMessage):
            self.flush()
            self._order.clear()  # a new image (or its end): new lines below
            prefix = "WARNING: " if event.warning else ""
            self._line(prefix + event.message)
            return
        key = event.layer
        moving = event.status in ("Downloading", "Pushing", "Extracting")
        text = f"{key}: {event.status}"
        if self.live and moving and event.total:
            text += " " + _bar(event.current, event.total)
        if not self.live:
            if self._status.get(key) != event.status:
                self._status[key] = event.status
                self._line(text)
            return
        if key not in self._text:
            self._order.append(key)
            self._text[key] = text
            self._line(text)
            return
        self._text[key] = text
        now = time.monotonic()
        self._dirty.add(key)
        if moving and now - self._last_draw < _REDRAW:
            return
        self.flush()

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _redraw(self, key: str) -> None:
        """Rewrite ``key``'s line in place: up to it, clear it, write, back down."""
        if key not in self._order:
            return
        up = len(self._order) - self._order.index(key)
        self.out.write(f"\x1b[{up}A\r\x1b[2K{self._text[key]}\x1b[{up}B\r")
        self.out.flush()
        self._last_draw = time.monotonic()

    def flush(self) -> None:
        """Draw what throttling held back."""
        if self.live and self._dirty:
            for key in [k for k in self._order if k in self._dirty]:
                self._redraw(key)
            self._dirty.clear()

"""How compose's progress events are shown: ``--progress auto|tty|plain|json|quiet``.

The library (``compose/execute.py`` ``Progress``) hands every step over as an event:
a kind (Network, Volume, Container), a name, a state (Creating, Created, Starting,
Started, Healthy, Stopping, Removed, ...) and whether it went well. Only here are they
drawn:

- ``tty`` (auto on a terminal): docker compose's live block, redrawn in place with
  rich: ``[+] Running 5/5`` then one line per object with a spinner or a mark, its
  state and its elapsed time; warnings print above it;
- ``plain`` (auto otherwise): one line per event, `` Container p-web-1  Started``;
- ``json``: one JSON object per event (docker compose's ``id``/``text``/``status``);
- ``quiet``: nothing but warnings and errors.

rich is imported only for ``tty``; the other modes cost nothing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from pycompose.compose.execute import Progress

#: states that are still going on: a spinner, and the block is not done
WORKING = {"Creating", "Starting", "Stopping", "Removing", "Recreate", "Waiting",
           "Restarting", "Pulling", "Building", "Killing", "Pausing", "Unpausing"}

_VERB = {"Creating": "Running", "Starting": "Running", "Stopping": "Stopping",
         "Waiting": "Running",
         "Removing": "Removing", "Removed": "Running", "Stopped": "Stopping"}


def _stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def choose(mode: str | None, ansi: str | None = None) -> str:
    """The display to use for ``--progress mode`` (``auto`` or None: tty on a
    terminal, unless ``--ansi never``; ``COMPOSE_PROGRESS`` as docker reads it)."""
    import os

    mode = (mode or os.environ.get("COMPOSE_PROGRESS") or "auto").lower()
    if mode not in ("auto", "tty", "plain", "json", "quiet"):
        from pycompose.compose.errors import ComposeError

        raise ComposeError(f"invalid --progress {mode!r}: use auto, tty, plain, json or "
                           "quiet")
    if mode == "auto":
        if ansi == "never" or os.environ.get("NO_COLOR") or not _stderr_tty():
            return "plain"
        return "tty"
    return mode


class PlainProgress(Progress):
    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stderr
        super().__init__(self._line)

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def __call__(self, kind: str, name: str, what: str, ok: bool = True) -> None:
        self._line(f" {kind} {name}  {what}" if ok else f" {kind} {name}  Error {what}")


class QuietProgress(Progress):
    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stderr
        super().__init__(lambda text: print(text, file=self.out, flush=True))

    def __call__(self, kind: str, name: str, what: str, ok: bool = True) -> None:
        return


class JsonProgress(Progress):
    """docker compose's ``--progress json``: one object a line."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stderr
        super().__init__(self._text)

    def _emit(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj, separators=(",", ":")), file=self.out, flush=True)

    def _text(self, text: str) -> None:
        self._emit({"text": text})

    def __call__(self, kind: str, name: str, what: str, ok: bool = True) -> None:
        obj: dict[str, Any] = {"id": f"{kind} {name}", "text": what}
        if not ok:
            obj["status"] = "Error"
        self._emit(obj)

    def warn(self, text: str) -> None:
        self._emit({"level": "warning", "text": text})


class TtyProgress(Progress):
    """The live block, redrawn in place (rich's Live) until :meth:`close`."""

    def __init__(self, out: IO[str] | None = None, title: str = "Running") -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=out or sys.stderr, highlight=False)
        self.title = title
        self.items: dict[str, list[Any]] = {}  # id -> [state, ok, started, ended]
        self.live = Live(console=self.console, refresh_per_second=10, transient=False,
                         get_renderable=self._render, redirect_stdout=False,
                         redirect_stderr=False)
        self.started = False
        super().__init__(self._above)

    def _above(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        done = sum(1 for v in self.items.values() if v[0] not in WORKING)
        table = Table.grid(padding=(0, 1))
        table.add_column(width=2)
        table.add_column()
        table.add_column()
        table.add_column(justify="right")
        head = Text(f"[+] {self.title} {done}/{len(self.items)}", style="bold")
        for key, (state, ok, t0, t1) in self.items.items():
            if state in WORKING:
                mark: Any = Spinner("dots", style="blue")
            else:
                mark = Text("✔", style="green") if ok else Text("✘", style="red")
            colour = "green" if ok and state not in WORKING else \
                "red" if not ok else "blue"
            table.add_row(mark, Text(key), Text(state, style=colour),
                          Text(f"{(t1 or now) - t0:.1f}s", style="dim"))
        from rich.console import Group

        return Group(head, table)

    def __call__(self, kind: str, name: str, what: str, ok: bool = True) -> None:
        if not self.started:
            self.live.start()
            self.started = True
        key = f"{kind} {name}"
        now = time.monotonic()
        item = self.items.get(key)
        if item is None or (item[0] not in WORKING and what in WORKING):
            item = [what, ok, now, None]
            self.items[key] = item
        item[0], item[1] = what, ok
        item[3] = None if what in WORKING else now
        self.title = _VERB.get(what, self.title)
        self.live.refresh()

    def close(self) -> None:
        if self.started:
            self.live.refresh()
            self.live.stop()
            self.started = False


def make(mode: str | None = None, ansi: str | None = None,
         title: str = "Running") -> Progress:
    chosen = choose(mode, ansi)
    if chosen == "tty":
        return TtyProgress(title=title)
    if chosen == "json":
        return JsonProgress()
    if chosen == "quiet":
        return QuietProgress()
    return PlainProgress()


def close(progress: Progress) -> None:
    closer: Callable[[], None] | None = getattr(progress, "close", None)
    if closer is not None:
        closer()

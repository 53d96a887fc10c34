"""docker's wait conditions, answered by the one process that sees containers exit and
go away: ``not-running`` (now, if it is not running), ``next-exit`` (the end of its
next run, even if it has not started yet) and ``removed`` (once its record is gone,
with its last exit code).

A waiter is registered before the caller is told so (the Docker API sends its response
head then): a ``docker run`` that waits for the next exit and then starts the container
can never miss that exit. The holder calls :meth:`Waits.exited` when a container's PID 1
has exited and :meth:`Waits.removed` when its record is removed; both only wake
waiters (no await between the holder's state change and the wake-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

CONDITIONS = ("not-running", "next-exit", "removed")


@dataclass
class Waiter:
    cid: str
    condition: str
    woken: trio.Event = field(default_factory=trio.Event)
    code: int = 0
    error: str = ""


class Waits:
    def __init__(self) -> None:
        self._waiting: dict[str, set[Waiter]] = {}
        self._last_code: dict[str, int] = {}

    def register(self, cid: str, condition: str, last_code: int) -> Waiter:
        w = Waiter(cid, condition, code=last_code)
        self._waiting.setdefault(cid, set()).add(w)
        return w

    def forget(self, w: Waiter) -> None:
        ws = self._waiting.get(w.cid)
        if ws is not None:
            ws.discard(w)
            if not ws:
                del self._waiting[w.cid]

    def exited(self, cid: str, code: int) -> None:
        """PID 1 of ``cid`` exited with ``code``: wakes the exit waiters."""
        self._last_code[cid] = code
        for w in list(self._waiting.get(cid, ())):
            w.code = code
            if w.condition != "removed":
                w.woken.set()
                self.forget(w)

    def removed(self, cid: str, error: str = "") -> None:
        """The record of ``cid`` is gone: every waiter wakes (an exit waiter whose
        container was removed before it exited learns it from ``error``)."""
        code = self._last_code.pop(cid, None)
        for w in list(self._waiting.get(cid, ())):
            if code is not None:
                w.code = code
            if w.condition != "removed" and code is None:
                w.error = error or "the container was removed before it exited"
            w.woken.set()
            self.forget(w)

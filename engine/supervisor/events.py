"""What happens to containers, as it happens: docker's event stream, from the one
process that makes it happen.

The holder publishes an event at each change it makes (create, start, die, stop,
kill, pause, unpause, destroy, health_status); ``events`` clients and the typed waits
(``wait_health``) subscribe. A slow subscriber loses the oldest events rather than
holding the supervisor up (a bounded buffer each), and says so with a ``lost`` count.
Events are also kept in a short ring, so that a subscriber asking ``since`` a moment
ago (a client that just started something) sees what it may have missed.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

import trio

RING = 256
BUFFER = 1024


@dataclass
class Event:
    """One change: docker's ``type``/``Action``/``id``/``Actor.Attributes``."""

    action: str
    id: str
    attributes: dict[str, str]
    type: str = "container"
    time_ns: int = field(default_factory=time.time_ns)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "action": self.action, "id": self.id,
                "attributes": self.attributes, "time_ns": self.time_ns}


class Subscription:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.queue: collections.deque[Event] = collections.deque(maxlen=BUFFER)
        self.lost = 0
        self.ready = trio.Event()

    def put(self, ev: Event) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.lost += 1
        self.queue.append(ev)
        self.ready.set()

    async def next(self) -> Event:
        while not self.queue:
            self.ready = trio.Event()
            await self.ready.wait()
        return self.queue.popleft()

    def close(self) -> None:
        self.bus.subs.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self.subs: set[Subscription] = set()
        self.ring: collections.deque[Event] = collections.deque(maxlen=RING)

    def publish(self, action: str, cid: str, rec: dict[str, Any] | None = None,
                **extra: str) -> Event:
        attrs: dict[str, str] = {}
        if rec is not None:
            cfg = rec.get("Config") or {}
            attrs["name"] = str(rec.get("Name", "")).lstrip("/")
            attrs["image"] = str(cfg.get("Image", ""))
            attrs.update({str(k): str(v) for k, v in (cfg.get("Labels") or {}).items()})
        attrs.update(extra)
        ev = Event(action, cid, attrs)
        self.ring.append(ev)
        for s in list(self.subs):
            s.put(ev)
        return ev

    def subscribe(self, since_ns: int | None = None) -> Subscription:
        sub = Subscription(self)
        if since_ns is not None:
            for ev in self.ring:
                if ev.time_ns >= since_ns:
                    sub.put(ev)
        self.subs.add(sub)
        return sub

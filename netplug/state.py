"""The networks' state on disk: one JSON file under ``$ROOT/networks``, replaced
atomically, changed only under an flock. What is on disk is the truth: a new process
finds every network, attachment, address and published port there, and every kernel
object's name is derived from it (names.py), so a crash never hides anything.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pycompose.util.fs import atomic_write_json, locked

from .errors import StateDamaged


@dataclass
class AttachmentRecord:
    container_id: str
    ip: str
    mac: str
    ifname: str
    netns_path: str
    name: str = ""                      # container name (resolvable)
    aliases: list[str] = field(default_factory=list)   # service, hostname, aliases
    links: dict[str, str] = field(default_factory=dict)  # alias -> container name
    project: str | None = None
    dns: list[str] = field(default_factory=list)        # upstreams for this container
    static: bool = False
    veth: str = ""      # the bridge end, when not names.veth_name (a spare's, spares.py)


@dataclass
class NetworkRecord:
    id: str
    name: str
    scope: str                          # project name, or "" for standalone networks
    subnet: str
    gateway: str
    ip_range: str
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    driver_opts: dict[str, str] = field(default_factory=dict)
    created: str = ""
    dns_names: bool = True              # docker's default "bridge" resolves no names
    attachments: dict[str, AttachmentRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NetworkRecord:
        d = dict(d)
        atts = {k: AttachmentRecord(**v) for k, v in d.pop("attachments", {}).items()}
        return cls(**d, attachments=atts)


@dataclass
class PublishedRecord:
    container_id: str
    container_ip: str
    host_ip: str
    host_port: int
    container_port: int
    proto: str


@dataclass
class SpareRecord:
    """A network namespace wired into a network ahead of the container that will join
    it (spares.py): its address is reserved like an attachment's."""

    network: str
    ip: str
    mac: str
    netns: str          # its name under /run/netns (pc-<rid>-sp-<id>)
    veth: str           # the bridge end, in the network's namespace
    ready: bool = False  # wired; until then only the address is reserved


@dataclass
class State:
    networks: dict[str, NetworkRecord] = field(default_factory=dict)
    uplinks: dict[str, str] = field(default_factory=dict)   # scope -> /30
    published: list[PublishedRecord] = field(default_factory=list)
    forwarding_enabled: bool = False    # we turned net.ipv4.ip_forward on
    spares: dict[str, SpareRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "networks": {k: v.to_json() for k, v in self.networks.items()},
            "uplinks": self.uplinks,
            "published": [asdict(p) for p in self.published],
            "forwarding_enabled": self.forwarding_enabled,
            "spares": {k: asdict(v) for k, v in self.spares.items()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> State:
        return cls(
            networks={k: NetworkRecord.from_json(v) for k, v in d.get("networks", {}).items()},
            uplinks=dict(d.get("uplinks", {})),
            published=[PublishedRecord(**p) for p in d.get("published", [])],
            forwarding_enabled=bool(d.get("forwarding_enabled", False)),
            spares={k: SpareRecord(**v) for k, v in d.get("spares", {}).items()},
        )

    def scopes(self) -> set[str]:
        return {n.scope for n in self.networks.values()}


class Store:
    """Read and change the state under a lock: ``with store.change() as st: ...``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "networks"
        self.path = self.dir / "state.json"
        self.lock = self.dir / "lock"

    def read(self) -> State:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return State()
        try:
            return State.from_json(json.loads(data))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise StateDamaged(
                f"{self.path} is damaged ({type(e).__name__}: {e}): the networks it "
                "describes cannot be used. Remove the containers on them, then move the "
                "file away: a project's `down` removes its namespace and links by name, "
                "and the next `up` or `run` sets the kernel objects up again") from None

    def mtime_ns(self) -> int:
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with locked(self.lock):
            yield

    def write(self, st: State, *, sync: bool = True) -> None:
        """``sync=False`` for changes a power loss makes moot (attachments, spares,
        published ports: after a reboot nothing is wired); see fs.atomic_write."""
        atomic_write_json(self.path, st.to_json(), sync=sync)

    @contextlib.contextmanager
    def change(self) -> Iterator[State]:
        """Hold the lock, hand out the state, write it back if the block succeeds."""
        with locked(self.lock):
            st = self.read()
            yield st
            self.write(st)

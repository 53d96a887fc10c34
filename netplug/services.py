"""The long-lived side of networking, for the supervisor: one trio task that runs the
DNS servers of every network and the userland proxies of the published ports the
kernel path can't serve (IPv6 host addresses), following the state as it changes::

    async with trio.open_nursery() as n:
        services = NetworkServices(nets)
        await n.start(services.run)
        ...
        services.notify()        # after attach/detach/publish: pick it up now

Without ``notify`` changes are still seen within a second (the state file's mtime).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from .dns import DnsServer
from .errors import StateDamaged
from .forwarding import userland_bindings
from .proxy import serve_binding

if TYPE_CHECKING:
    from .networks import Networks
    from .state import PublishedRecord


log = logging.getLogger("pycompose.netplug")


def _key(p: PublishedRecord) -> tuple[str, str, int, str, int, str]:
    return (p.container_id, p.host_ip, p.host_port, p.container_ip, p.container_port,
            p.proto)


class NetworkServices:
    def __init__(self, nets: Networks, *, dns_port: int = 53,
                 upstreams: list[str] | None = None) -> None:
        self.nets = nets
        self.dns = DnsServer(nets, port=dns_port, upstreams=upstreams)
        self._proxies: dict[tuple[str, str, int, str, int, str], trio.CancelScope] = {}
        self._wake = trio.Event()

    def notify(self) -> None:
        self.dns.notify()
        self._wake.set()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.dns.run)
            await self._sync_proxies(nursery)
            task_status.started()
            mtime = self.nets.store.mtime_ns()
            while True:
                with trio.move_on_after(1.0):
                    await self._wake.wait()
                self._wake = trio.Event()
                now = self.nets.store.mtime_ns()
                if now != mtime:
                    mtime = now
                    await self._sync_proxies(nursery)

    async def _sync_proxies(self, nursery: trio.Nursery) -> None:
        try:
            bindings = await trio.to_thread.run_sync(userland_bindings, self.nets.store)
        except StateDamaged as e:  # keep the proxies there are: never take the
            log.warning("port proxies kept as they are: %s", e)  # supervisor down
            return
        wanted = {_key(p): p for p in bindings}
        for key in list(self._proxies):
            if key not in wanted:
                self._proxies.pop(key).cancel()
        for key, p in wanted.items():
            if key in self._proxies:
                continue
            scope = trio.CancelScope()
            self._proxies[key] = scope

            async def one(p: PublishedRecord = p, scope: trio.CancelScope = scope) -> None:
                with scope:
                    try:
                        await serve_binding(p)
                    except OSError:
                        pass    # the address went away: dropped until the state changes

            nursery.start_soon(one)

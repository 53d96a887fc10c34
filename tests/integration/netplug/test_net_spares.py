"""Spares: network namespaces wired into a network ahead of the container that joins
them (so that a plain ``container run`` wires nothing while the user waits). A spare's
address is reserved, a container that takes it is attached with it, its name goes once
joined, and nothing of one is left after ``drop_all``, a network's removal, or a
static address that wants its address."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from nethelp import can_connect, in_ns  # type: ignore[import-not-found]

from pycompose.netplug import Networks, spares
from pycompose.netplug.names import spare_netns_prefix
from pycompose.netplug.nsutil import list_netns

Serve = Callable[[str | None, int], None]


def _spare_names(nets: Networks) -> list[str]:
    return list_netns(spare_netns_prefix(nets.rid))


def test_a_spare_is_wired_and_its_address_reserved(nets: Networks, make_ctr: Callable[[], str],
                                                   serve: Serve) -> None:
    nets.ensure_default()
    sid = spares.make(nets, "bridge")
    assert sid is not None
    assert spares.make(nets, "bridge") is None  # one ready per network is enough
    sp = nets.store.read().spares[sid]
    assert sp.ready and _spare_names(nets) == [sp.netns]
    r = in_ns(sp.netns, "ip", "-o", "-4", "addr", "show", "eth0")
    assert f"{sp.ip}/" in r.stdout
    assert "default via" in in_ns(sp.netns, "ip", "route").stdout
    assert "UP" in in_ns(sp.netns, "ip", "-o", "link", "show", "lo").stdout
    other = make_ctr()
    att = nets.attach("bridge", "o" * 64, f"/run/netns/{other}")
    assert att.ip != sp.ip                       # the spare's address is taken
    serve(other, 5100)
    assert can_connect(sp.netns, att.ip, 5100)   # and it is on the bridge
    assert set(nets.inspect("bridge").attachments) == {"o" * 64}  # spares are not shown


def test_a_taken_spare_becomes_the_containers_attachment(nets: Networks) -> None:
    nets.ensure_default()
    sid = spares.make(nets, "bridge")
    assert sid is not None
    sp = nets.store.read().spares[sid]
    taken = spares.take(nets, "bridge", "c" * 64, aliases=["web"], container_name="web")
    assert taken is not None and taken.attachment.ip == sp.ip
    assert spares.take(nets, "bridge", "d" * 64) is None  # none ready any more
    att = nets.attachments("c" * 64)["bridge"]
    assert (att.ip, att.veth, att.name) == (sp.ip, sp.veth, "web")
    # the container joins, then the name goes: the namespace lives with the process
    proc = subprocess.Popen(["ip", "netns", "exec", taken.netns, "sleep", "30"])
    try:
        time.sleep(0.2)
        spares.forget(taken)
        assert _spare_names(nets) == []
        r = subprocess.run(["nsenter", f"--net=/proc/{proc.pid}/ns/net", "ip", "-o", "-4",
                            "addr", "show", "eth0"], capture_output=True, text=True)
        assert f"{sp.ip}/" in r.stdout
        assert spares.take(nets, "bridge", "c" * 64) is None  # it has its address
    finally:
        proc.kill()
        proc.wait()
    nets.detach("bridge", "c" * 64)
    assert nets.attachments("c" * 64) == {}


def test_drop_all_removes_spares_and_names_left_by_a_killed_process(nets: Networks) -> None:
    nets.ensure_default()
    assert spares.make(nets, "bridge") is not None
    stray = spare_netns_prefix(nets.rid) + "deadbeef"
    subprocess.run(["ip", "netns", "add", stray], check=True)
    spares.drop_all(nets)
    assert nets.store.read().spares == {}
    assert _spare_names(nets) == []


def test_a_static_address_evicts_the_spare_that_holds_it(nets: Networks,
                                                         make_ctr: Callable[[], str]) -> None:
    nets.ensure("statnet", subnet="10.78.0.0/24")
    sid = spares.make(nets, "statnet")
    assert sid is not None
    ip = nets.store.read().spares[sid].ip
    att = nets.attach("statnet", "s" * 64, f"/run/netns/{make_ctr()}", ipv4_address=ip)
    assert att.ip == ip
    assert nets.store.read().spares == {} and _spare_names(nets) == []
    nets.detach("statnet", "s" * 64)
    spares.make(nets, "statnet")
    nets.remove("statnet")  # and a network takes its spares with it
    assert nets.store.read().spares == {} and _spare_names(nets) == []

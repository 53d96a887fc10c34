"""The state file round-trips; port clashes are judged as the kernel would."""

from __future__ import annotations

from pathlib import Path

from pycompose.netplug.forwarding import _clash
from pycompose.netplug.state import (
    AttachmentRecord,
    NetworkRecord,
    PublishedRecord,
    State,
    Store,
)


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    net = NetworkRecord("i" * 64, "p_default", "p", "172.18.0.0/16", "172.18.0.1",
                        "172.18.0.0/16", labels={"a": "b"})
    net.attachments["c" * 64] = AttachmentRecord("c" * 64, "172.18.0.2", "02:42:ac:12:00:02",
                                                 "eth0", "/proc/1/ns/net", "p-web-1",
                                                 ["web"], {"db1": "p-db-1"}, "p", ["9.9.9.9"])
    st = State({"p_default": net}, {"p": "169.254.200.0/30"},
               [PublishedRecord("c" * 64, "172.18.0.2", "", 8080, 80, "tcp")], True)
    store = Store(tmp_path)
    with store.change() as s:
        s.networks, s.uplinks, s.published = st.networks, st.uplinks, st.published
        s.forwarding_enabled = True
    assert store.read() == st
    assert store.mtime_ns() > 0


def test_a_missing_state_is_empty(tmp_path: Path) -> None:
    assert Store(tmp_path).read() == State()


def test_port_clashes() -> None:
    p = PublishedRecord("c", "172.18.0.2", "", 8080, 80, "tcp")
    assert _clash(p, "127.0.0.1", 8080, "tcp")        # 0.0.0.0 covers every address
    assert not _clash(p, "", 8080, "udp")              # another protocol
    q = PublishedRecord("c", "172.18.0.2", "127.0.0.1", 8080, 80, "tcp")
    assert not _clash(q, "10.0.0.1", 8080, "tcp")
    assert _clash(q, "", 8080, "tcp")

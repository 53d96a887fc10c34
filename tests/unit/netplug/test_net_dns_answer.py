"""Which names a network's DNS server answers, and with what (dnspython messages)."""

from __future__ import annotations

import dns.message
import dns.rdatatype

from pycompose.netplug.dns import answer, build_views
from pycompose.netplug.state import AttachmentRecord, NetworkRecord, State


def _att(cid: str, ip: str, name: str, aliases: list[str],
         links: dict[str, str] | None = None) -> AttachmentRecord:
    return AttachmentRecord(cid, ip, "02:42:00:00:00:00", "eth0", "/x", name, aliases,
                            links or {})


def _state() -> State:
    front = NetworkRecord("a" * 64, "p_front", "p", "172.20.0.0/16", "172.20.0.1",
                          "172.20.0.0/16")
    back = NetworkRecord("b" * 64, "p_back", "p", "172.21.0.0/16", "172.21.0.1",
                         "172.21.0.0/16")
    front.attachments = {
        "c1" * 10: _att("c1" * 10, "172.20.0.2", "p-web-1", ["web", "www"]),
        "c2" * 10: _att("c2" * 10, "172.20.0.3", "p-web-2", ["web"]),
        "c3" * 10: _att("c3" * 10, "172.20.0.4", "p-app-1", ["app"], {"w": "p-web-1"}),
    }
    back.attachments = {"c4" * 10: _att("c4" * 10, "172.21.0.2", "p-db-1", ["db"])}
    bridge = NetworkRecord("c" * 64, "bridge", "", "172.17.0.0/16", "172.17.0.1",
                           "172.17.0.0/16", dns_names=False)
    bridge.attachments = {"c5" * 10: _att("c5" * 10, "172.17.0.2", "solo", [])}
    return State(networks={n.name: n for n in (front, back, bridge)})


def _ask(net: str, name: str, src: str = "172.20.0.9", rdtype: str = "A") -> list[str] | None:
    views = build_views(_state(), "abc123")
    r = answer(views[net], dns.message.make_query(name, rdtype), src)
    if r is None:
        return None
    return sorted(rd.address for rrset in r.answer for rd in rrset)


def test_service_name_gives_every_replica() -> None:
    assert _ask("p_front", "web") == ["172.20.0.2", "172.20.0.3"]
    assert _ask("p_front", "WEB.") == ["172.20.0.2", "172.20.0.3"]


def test_replicas_rotate() -> None:
    views = build_views(_state(), "abc123")
    firsts = set()
    for _ in range(4):
        r = answer(views["p_front"], dns.message.make_query("web", "A"), None)
        assert r is not None
        firsts.add(next(iter(r.answer[0])).address)
    assert firsts == {"172.20.0.2", "172.20.0.3"}


def test_container_name_alias_and_short_id() -> None:
    assert _ask("p_front", "p-web-1") == ["172.20.0.2"]
    assert _ask("p_front", "www") == ["172.20.0.2"]
    assert _ask("p_front", "c1" * 6) == ["172.20.0.2"]


def test_names_are_per_network() -> None:
    assert _ask("p_front", "db") is None          # relayed upstream, not ours
    assert _ask("p_back", "db", src="172.21.0.9") == ["172.21.0.2"]
    assert _ask("p_back", "web", src="172.21.0.9") is None


def test_links_alias_only_for_the_linking_container() -> None:
    assert _ask("p_front", "w", src="172.20.0.4") == ["172.20.0.2"]
    assert _ask("p_front", "w", src="172.20.0.2") is None


def test_default_bridge_resolves_no_names() -> None:
    assert _ask("bridge", "solo", src="172.17.0.9") is None


def test_aaaa_of_a_known_name_is_empty_not_relayed() -> None:
    assert _ask("p_front", "web", rdtype="AAAA") == []


def test_a_container_on_two_networks_sees_names_of_both() -> None:
    from pycompose.netplug.dns import answer_on

    st = _state()
    # p-app-1 (c3) joins p_back too; it asks its first network's server for "db"
    st.networks["p_back"].attachments["c3" * 10] = _att("c3" * 10, "172.21.0.7", "p-app-1",
                                                        ["app"])
    views = build_views(st, "abc123")
    r = answer_on(views, "p_front", dns.message.make_query("db", "A"), "172.20.0.4")
    assert r is not None and next(iter(r.answer[0])).address == "172.21.0.2"
    # web-1 is not on p_back: db stays unknown to it
    assert answer_on(views, "p_front", dns.message.make_query("db", "A"), "172.20.0.2") is None


def test_reverse_lookup_gives_the_container_name() -> None:
    import dns.reversename

    views = build_views(_state(), "abc123")
    q = dns.message.make_query(dns.reversename.from_address("172.20.0.3"), "PTR")
    r = answer(views["p_front"], q, None)
    assert r is not None and next(iter(r.answer[0])).target.to_text() == "p-web-2."
    q = dns.message.make_query(dns.reversename.from_address("10.9.9.9"), "PTR")
    assert answer(views["p_front"], q, None) is None          # not ours: relayed

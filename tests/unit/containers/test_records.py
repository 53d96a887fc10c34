"""Container records: unique names, id prefixes, atomic updates, concurrent creators."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from pycompose.cli.render import human_duration, status_line
from pycompose.engine.containers import ContainerStore
from pycompose.engine.errors import Conflict, EngineError, NotFound
from pycompose.engine.record import now_iso, parse_iso


def test_create_resolve_by_name_id_and_prefix(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    rec = store.create({"Config": {}}, "web")
    cid = rec["Id"]
    assert len(cid) == 64 and rec["Name"] == "/web"
    assert store.resolve("web") == store.resolve(cid) == store.resolve(cid[:5]) == cid
    assert (tmp_path / "containers" / cid / "state.json").is_file()
    with pytest.raises(NotFound, match="No such container: nope"):
        store.resolve("nope")


def test_a_taken_name_is_a_conflict_naming_the_holder(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    first = store.create({}, "web")
    with pytest.raises(Conflict, match=first["Id"]):
        store.create({}, "web")


def test_invalid_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="invalid container name"):
        ContainerStore(tmp_path).create({}, "-bad name")


def test_random_names_are_unique(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    names = {store.create({}, None)["Name"] for _ in range(20)}
    assert len(names) == 20


def _racer(root: str, q: multiprocessing.Queue) -> None:
    try:
        ContainerStore(Path(root)).create({}, "same")
        q.put("won")
    except Conflict:
        q.put("conflict")


def test_two_processes_creating_one_name_one_wins(tmp_path: Path) -> None:
    q: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_racer, args=(str(tmp_path), q)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    results = sorted(q.get(timeout=5) for _ in procs)
    assert results.count("won") == 1 and results.count("conflict") == 5
    assert len(ContainerStore(tmp_path).list()) == 1


def test_update_and_remove(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    cid = store.create({}, "x")["Id"]
    store.set_state(cid, Status="running", Pid=42)
    assert store.load(cid)["State"]["Pid"] == 42
    store.remove(cid)
    assert store.list() == []
    with pytest.raises(NotFound):
        store.remove(cid)


def test_a_half_removed_container_is_not_listed_and_is_swept(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    cid = store.create({}, "x")["Id"]
    (tmp_path / "containers" / cid).rename(tmp_path / "containers" / f".removing-{cid}")
    assert store.list() == []
    store.sweep_graves()
    assert not (tmp_path / "containers" / f".removing-{cid}").exists()


def test_status_lines_as_docker_prints_them() -> None:
    t = parse_iso("2026-01-01T00:00:00.5Z")
    st = {"Status": "exited", "ExitCode": 3, "FinishedAt": "2026-01-01T00:00:00.5Z"}
    assert status_line({"State": st}, now=t + 120) == "Exited (3) 2 minutes ago"
    st = {"Status": "running", "StartedAt": "2026-01-01T00:00:00.5Z"}
    assert status_line({"State": st}, now=t + 5) == "Up 5 seconds"
    assert status_line({"State": {"Status": "created"}}) == "Created"
    assert human_duration(0.2) == "Less than a second"
    assert human_duration(3 * 3600) == "3 hours"
    assert abs(parse_iso(now_iso()) - __import__("time").time()) < 5


def test_format_templates_as_scripts_use_them() -> None:
    from pycompose.cli.render import render_template

    rec = {"State": {"Status": "exited", "ExitCode": 3, "OOMKilled": False},
           "Config": {"Labels": {"a": "b"}}}
    assert render_template("{{.State.Status}} {{.State.ExitCode}}", rec) == "exited 3"
    assert render_template("{{.State.OOMKilled}}", rec) == "false"
    assert render_template("{{json .Config.Labels}}", rec) == '{"a":"b"}'  # Go's compact
    assert render_template("{{.Nope.X}}", rec) == "<no value>"
    assert render_template("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}",
                           rec) == "a=b"


def test_a_container_of_its_own_network_never_gets_a_resolver_it_cannot_reach() -> None:
    from pycompose.engine.supervisor.records import resolv_for_own_netns

    host = "search corp\nnameserver 10.255.255.53\nnameserver 127.0.0.1\noptions ndots:2\n"
    assert resolv_for_own_netns(host) == \
        "search corp\nnameserver 10.255.255.53\noptions ndots:2\n"
    resolved = "nameserver 10.0.0.53\nnameserver fe80::1%eth0\n"
    # systemd-resolved's stub: its upstreams, else docker's fallback
    assert resolv_for_own_netns("nameserver 127.0.0.53\nsearch lan\n", resolved) == \
        "search lan\nnameserver 10.0.0.53\n"
    assert resolv_for_own_netns("nameserver ::1\n") == \
        "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert resolv_for_own_netns("") == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_a_renamed_container_whose_record_is_damaged_keeps_its_new_name(
        tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    rec = store.create({"Config": {"Image": "busybox"}}, "old")
    store.rename("old", "new")
    assert store.damaged(rec["Id"], "truncated")["Name"] == "/new"

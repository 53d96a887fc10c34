"""Damaged records on disk (a hand edit, a full disk, a bad sector): a container whose
``state.json`` is truncated is shown as damaged, never hidden, and ``rm -f`` removes it
and everything it had -- its processes (found by its cgroup), cgroups, mounts, network
attachment, anonymous volumes -- from its id alone; a damaged ``networks/state.json``
or ``volume.json`` is one clear line naming the file and what to do."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from pycompose.util.paths import root_id

if TYPE_CHECKING:
    from conftest import Engine


def _truncate(path: Path, size: int = 200) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _cgroups(engine: Engine, cid: str) -> list[str]:
    base = Path("/sys/fs/cgroup")
    return [str(p) for p in base.glob(f"*/pycompose/{root_id(engine.root)}/{cid}")]


def _one_clear_line(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    for w in words:
        assert w in stderr, stderr


def test_a_damaged_record_is_shown_and_rm_f_removes_all_it_had(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "victim", "-v", "/data", "busybox", "sleep", "600")
    cid = engine.ok("inspect", "-f", "{{.Id}}", "victim").strip()
    pid = int(engine.ok("inspect", "-f", "{{.State.Pid}}", "victim"))
    vol = json.loads(engine.ok("inspect", "-f", "{{json .Mounts}}", "victim"))[0]["Name"]
    state = engine.root / "containers" / cid / "state.json"
    _truncate(state)
    ls = engine.ok("ls", "-a")
    assert "victim" in ls and "Damaged" in ls, ls
    assert engine.ok("ls", "-aq") == cid[:12] + "\n"
    r = engine("inspect", "victim")
    assert r.returncode != 0
    _one_clear_line(r.stderr, str(state), "is damaged", "rm -f")
    assert _alive(pid) and _cgroups(engine, cid)
    r = engine("rm", "-f", "-v", "victim")
    assert r.returncode == 0, r.stderr
    assert not _alive(pid), "its process was left running"
    assert not _cgroups(engine, cid)
    assert engine.ok("ls", "-aq") == ""
    assert vol not in engine.cli("volume", "ls", "-q").stdout
    bridge = json.loads(engine.cli("network", "inspect", "bridge").stdout)[0]
    assert cid not in bridge["Containers"]  # its address is free again


def test_a_new_supervisor_keeps_a_damaged_container_for_rm_f(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "orphan", "busybox", "sleep", "600")
    cid = engine.ok("inspect", "-f", "{{.Id}}", "orphan").strip()
    pid = int(engine.ok("inspect", "-f", "{{.State.Pid}}", "orphan"))
    sup = engine.supervisor_pid()
    assert sup is not None
    os.kill(sup, signal.SIGKILL)
    _truncate(engine.root / "containers" / cid / "state.json", 100)
    assert "Damaged" in engine.ok("ls", "-a")
    engine.ok("run", "--rm", "busybox", "true")  # a new supervisor, which reconciled
    assert engine.supervisor_pid() not in (None, sup)
    assert _alive(pid)  # not killed as a leftover: its state is unknown, not "gone"
    engine.ok("rm", "-f", cid[:12])
    assert not _alive(pid) and not _cgroups(engine, cid)
    assert engine.ok("ls", "-aq") == ""


def test_a_damaged_network_state_is_one_clear_line(engine: Engine) -> None:
    import time

    engine.ok("run", "--rm", "busybox", "true")  # the default bridge exists now
    state = engine.root / "networks" / "state.json"
    deadline = time.monotonic() + 10  # and the next namespace is prepared: the state
    while time.monotonic() < deadline and not any(  # is written no more
            s.get("ready") for s in json.loads(state.read_text()).get("spares", {}).values()):
        time.sleep(0.05)
    saved = state.read_bytes()
    _truncate(state, 100)
    try:
        r = engine.cli("network", "ls")
        assert r.returncode == 1
        _one_clear_line(r.stderr, str(state), "is damaged")
        r = engine("run", "--rm", "busybox", "true")
        assert r.returncode == 125
        _one_clear_line(r.stderr, str(state), "is damaged")
        assert engine.ok("ls", "-aq") == ""  # --rm left nothing
    finally:
        state.write_bytes(saved)


def test_a_damaged_volume_record_is_one_clear_line_and_rm_works(engine: Engine) -> None:
    assert engine.cli("volume", "create", "vdmg").returncode == 0
    meta = engine.root / "volumes" / "vdmg" / "volume.json"
    meta.write_text('{"Name": ')
    for args in (["volume", "ls"], ["volume", "inspect", "vdmg"]):
        r = engine.cli(*args)
        assert r.returncode == 1
        _one_clear_line(r.stderr, str(meta), "is damaged", "volume rm vdmg")
    r = engine.cli("volume", "rm", "vdmg")
    assert r.returncode == 0, r.stderr
    assert engine.cli("volume", "ls", "-q").stdout.split() == []

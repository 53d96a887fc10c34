"""``pycompose system service``: its socket is root's, ``--time`` makes it leave when
idle (never while a request is in flight), the next pycompose command brings it back,
and a stop on purpose keeps it stopped."""

from __future__ import annotations

import grp
import json
import os
import signal
import stat
import time
from typing import TYPE_CHECKING

from pctest.cli import run
from pctest.dockerapi import start_service, stop_service

if TYPE_CHECKING:
    from conftest import Engine, Service


def _docker_gid() -> int | None:
    try:
        return grp.getgrnam("docker").gr_gid
    except KeyError:
        return None


def test_the_socket_is_roots(api: Service) -> None:
    st = os.stat(api.sock)
    parent = os.stat(api.sock.parent)
    assert stat.S_ISSOCK(st.st_mode) and st.st_uid == 0
    gid = _docker_gid()
    if gid is None:
        assert (stat.S_IMODE(st.st_mode), stat.S_IMODE(parent.st_mode)) == (0o600, 0o700)
    else:  # as docker's: the docker group may use it, nobody else
        assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, gid)
        assert (stat.S_IMODE(parent.st_mode), parent.st_gid) == (0o750, gid)
    marker = json.loads((api.root / "dockerapi.json").read_text())
    assert marker["uri"] == api.host and marker["pid"] == api.proc.pid


def test_idle_exit_and_the_next_command_starts_it_again(engine: Engine) -> None:
    svc = start_service(engine, ["--time", "1"])
    try:
        # a request in flight is not idleness: a wait on a container that takes 2 s
        status, _, body = svc.request("POST", "/containers/create",
                                      {"Image": "busybox", "Cmd": ["sleep", "2"]})
        cid = json.loads(body)["Id"]
        assert svc.request("POST", f"/containers/{cid}/start")[0] == 204
        status, _, body = svc.request("POST", f"/containers/{cid}/wait")
        assert (status, json.loads(body)["StatusCode"]) == (200, 0)
        svc.proc.wait(10)  # then it leaves, idle
        assert not svc.sock.exists()
        assert (engine.root / "dockerapi.json").exists()  # to be woken again
        assert run(["container", "ls", "-a"]).returncode == 0  # any command wakes it
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if svc.request("GET", "/_ping")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("the service did not come back")
        pid = json.loads((engine.root / "dockerapi.json").read_text())["pid"]
        assert pid != svc.proc.pid
        assert svc.request("DELETE", f"/containers/{cid}")[0] == 204
        os.kill(pid, signal.SIGTERM)  # stopped on purpose: it stays stopped
        deadline = time.monotonic() + 10
        while (engine.root / "dockerapi.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (engine.root / "dockerapi.json").exists()
        while svc.sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run(["container", "ls"]).returncode == 0
        time.sleep(0.3)
        assert not svc.sock.exists()
    finally:
        stop_service(svc)


def test_a_tcp_uri_is_refused(engine: Engine) -> None:
    r = run(["system", "service", "tcp://0.0.0.0:2375"])
    assert r.returncode != 0 and "only unix://" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (engine.root / "dockerapi.json").exists()


def test_docker_info_and_system_df(api: Service) -> None:
    info = json.loads(api.docker_ok("info", "--format", "{{json .}}"))
    assert info["OSType"] == "linux" and info["Images"] == 1
    assert info["ServerVersion"] and info["Driver"] == "overlay2"
    df = api.docker_ok("system", "df")
    assert df.splitlines()[0].split()[:2] == ["TYPE", "TOTAL"]

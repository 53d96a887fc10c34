"""``container run --ipc container:X`` (what a pod's containers share, and compose's
``ipc: service:X``): the same IPC namespace as X (System V IPC, message queues; /dev/shm
stays the container's own); ``--ipc host`` is the host's namespace; a private one is
neither."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Engine


def test_ipc_container_shares_the_namespace(engine: Engine) -> None:
    try:
        engine.ok("run", "-d", "--name", "holder", "busybox", "sleep", "300")
        engine.wait_for("holder", "running")
        mine = engine.ok("exec", "holder", "readlink", "/proc/self/ns/ipc").strip()
        out = engine.ok("run", "--rm", "--ipc", "container:holder", "busybox",
                        "readlink", "/proc/self/ns/ipc")
        assert out.strip() == mine
        assert engine.ok("inspect", "-f", "{{.HostConfig.IpcMode}}",
                         "holder").strip() == "private"
        private = engine.ok("run", "--rm", "busybox", "readlink", "/proc/self/ns/ipc").strip()
        assert private != mine
        host = engine.ok("run", "--rm", "--ipc", "host", "busybox", "readlink",
                         "/proc/self/ns/ipc").strip()
        assert host == os.readlink("/proc/self/ns/ipc")
    finally:
        engine("rm", "-f", "holder")


def test_bad_ipc_mode_is_refused_naming_the_flag(engine: Engine) -> None:
    r = engine("run", "--rm", "--ipc", "sideways", "busybox", "true")
    assert r.returncode == 125
    assert "invalid --ipc 'sideways'" in r.stderr and "Traceback" not in r.stderr


def test_joining_a_stopped_container_says_so(engine: Engine) -> None:
    engine.ok("create", "--name", "idle", "busybox", "true")
    try:
        r = engine("run", "--rm", "--ipc", "container:idle", "busybox", "true")
        assert r.returncode == 125
        assert "cannot join the IPC namespace of container idle: it is not running" \
            in r.stderr
    finally:
        engine("rm", "-f", "idle")

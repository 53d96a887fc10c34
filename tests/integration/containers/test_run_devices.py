"""Host devices in containers, from the CLI: ``--device``, ``--device-cgroup-rule``, their
errors, and inspect's fields, on the host's cgroups (v1 here) and on cgroup v2 (the BPF
device program). This VM has /dev/fuse 10:229, /dev/net/tun 10:200, /dev/kvm 10:232."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine

UNIFIED = "/sys/fs/cgroup/unified"


def _need(*paths: str) -> None:
    for p in paths:
        if not os.path.exists(p):
            pytest.skip(f"this machine has no {p}")


@pytest.fixture(params=["host", "v2"])
def cgroups(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test once on the host's cgroups and once with the container's only cgroup
    on cgroup2 (set before the test's supervisor starts, which inherits it)."""
    if request.param == "v2":
        if not Path(UNIFIED, "cgroup.procs").exists():
            pytest.skip("no cgroup2 hierarchy mounted")
        monkeypatch.setenv("PYCOMPOSE_CGROUP2_ROOT", UNIFIED)
    return str(request.param)


def test_device_gives_the_node_and_its_access(engine: Engine, cgroups: str) -> None:
    _need("/dev/net/tun")
    out = engine.ok("run", "--rm", "--device", "/dev/net/tun", "busybox", "sh", "-c",
                    "stat -c '%F %t:%T %a %u:%g' /dev/net/tun; "
                    "exec 3<>/dev/net/tun && echo ok")
    st = os.stat("/dev/net/tun")
    assert out.splitlines() == [
        f"character special file a:c8 {stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}",
        "ok"]


def test_without_the_flag_there_is_no_node_and_a_mknod_one_is_denied(
        engine: Engine, cgroups: str) -> None:
    _need("/dev/fuse")
    r = engine("run", "--rm", "busybox", "sh", "-c",
               "test -e /dev/net/tun || echo no-tun; test -e /dev/fuse || echo no-fuse; "
               "mknod /tmp/fuse c 10 229 && echo made; (exec 3<>/tmp/fuse) || echo denied")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["no-tun", "no-fuse", "made", "denied"]
    assert "Operation not permitted" in r.stderr


def test_read_only_permissions_at_another_path(engine: Engine, cgroups: str) -> None:
    _need("/dev/fuse")
    r = engine("run", "--rm", "--device", "/dev/fuse:/dev/myfuse:r", "busybox", "sh", "-c",
               "stat -c '%t:%T' /dev/myfuse; test -e /dev/fuse || echo no-fuse; "
               "exec 3</dev/myfuse && echo read-ok; (exec 4>/dev/myfuse) || echo write-denied")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["a:e5", "no-fuse", "read-ok", "write-denied"]
    assert "Operation not permitted" in r.stderr


def test_repeated_flags_and_permissions_without_a_path(engine: Engine) -> None:
    _need("/dev/fuse", "/dev/kvm")
    out = engine.ok("run", "--rm", "--device", "/dev/fuse:rw", "--device", "/dev/kvm",
                    "busybox", "sh", "-c",
                    "exec 3<>/dev/fuse && echo fuse; exec 4<>/dev/kvm && echo kvm")
    assert out.splitlines() == ["fuse", "kvm"]


def test_a_directory_gives_every_node_under_it(engine: Engine, tmp_path: Path) -> None:
    _need("/dev/net/tun")
    devs = tmp_path / "devs"
    (devs / "sub").mkdir(parents=True)
    os.mknod(devs / "null", stat.S_IFCHR | 0o640, os.makedev(1, 3))
    os.mknod(devs / "sub" / "zero", stat.S_IFCHR | 0o604, os.makedev(1, 5))
    os.symlink("/dev/kvm", devs / "link")  # symlinks inside are not followed
    (devs / "file").write_text("not a device")
    out = engine.ok("run", "--rm", "--device", f"{devs}:/dev/mine", "--device", "/dev/net",
                    "busybox", "sh", "-c",
                    "cd /dev/mine && find . | sort && stat -c '%n %t:%T %a' null sub/zero;"
                    " exec 3<>/dev/net/tun && echo tun")
    assert out.splitlines() == [".", "./null", "./sub", "./sub/zero",
                                "null 1:3 640", "sub/zero 1:5 604", "tun"]


def test_device_cgroup_rule_allows_a_mknod_node(engine: Engine, cgroups: str) -> None:
    _need("/dev/kvm")
    script = "mknod /tmp/kvm c 10 232 && (exec 3<>/tmp/kvm) && echo opened"
    out = engine.ok("run", "--rm", "--device-cgroup-rule", "c 10:232 rwm", "busybox",
                    "sh", "-c", script)
    assert out == "opened\n"
    out = engine.ok("run", "--rm", "--device-cgroup-rule", "c 10:* rw", "busybox",
                    "sh", "-c", script)
    assert out == "opened\n"
    r = engine("run", "--rm", "--device-cgroup-rule", "c 10:232 r", "busybox",
               "sh", "-c", script + " || echo denied")
    assert r.stdout == "denied\n", r.stderr


def test_errors_are_dockers(engine: Engine, tmp_path: Path) -> None:
    r = engine("run", "--rm", "--device", "/dev/nosuch", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.strip().endswith(
        'error gathering device information while adding custom device "/dev/nosuch": '
        "no such file or directory")
    (tmp_path / "plain").write_text("")
    r = engine("run", "--rm", "--device", str(tmp_path / "plain"), "busybox", "true")
    assert r.returncode == 125 and "not a device node" in r.stderr
    for value, why in (("/dev/fuse:dev/fuse", "dev/fuse is not an absolute path"),
                       ("/dev/fuse:/dev/fuse:rwx", "bad mode specified: rwx"),
                       ("/dev/fuse:/dev/fuse:rr", "bad mode specified: rr")):
        r = engine("create", "--device", value, "busybox", "true")
        assert r.returncode == 125, value
        assert f'invalid argument "{value}" for "--device" flag: {why}' in r.stderr
    for rule in ("c 10:200", "x 1:2 rwm", "c a:1 rw", "c 1:2 rwx"):
        r = engine("create", "--device-cgroup-rule", rule, "busybox", "true")
        assert r.returncode == 125, rule
        assert f"invalid device cgroup format '{rule}'" in r.stderr
    assert engine.ok("ps", "-aq") == ""


def test_inspect_shows_dockers_fields(engine: Engine) -> None:
    _need("/dev/fuse")
    cid = engine.ok("create", "--device", "/dev/fuse:/dev/myfuse:rw",
                    "--device-cgroup-rule", "c 10:* rwm", "--device-cgroup-rule",
                    "b *:* m", "busybox", "true").strip()
    host = json.loads(engine.ok("inspect", cid))[0]["HostConfig"]
    assert host["Devices"] == [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/myfuse",
                                "CgroupPermissions": "rw"}]
    assert host["DeviceCgroupRules"] == ["c 10:* rwm", "b *:* m"]
    plain = engine.ok("create", "busybox", "true").strip()
    host = json.loads(engine.ok("inspect", plain))[0]["HostConfig"]
    assert host["Devices"] == [] and host["DeviceCgroupRules"] is None


def test_a_device_gone_before_a_start_fails_that_start(engine: Engine,
                                                       tmp_path: Path) -> None:
    node = tmp_path / "mydev"
    os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    cid = engine.ok("create", "--device", f"{node}:/dev/mine", "busybox", "sh", "-c",
                    "stat -c %t:%T /dev/mine").strip()
    node.unlink()
    r = engine("start", "-a", cid)
    assert r.returncode != 0
    assert (f'error gathering device information while adding custom device "{node}": '
            "no such file or directory") in r.stderr
    os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # back, another node
    assert engine.ok("start", "-a", cid) == "1:5\n"


def test_privileged_keeps_every_device_and_maps_more(engine: Engine) -> None:
    _need("/dev/fuse", "/dev/net/tun")
    out = engine.ok("run", "--rm", "--privileged", "--device", "/dev/fuse:/dev/myfuse",
                    "--device", "/dev/net/tun", "busybox", "sh", "-c",
                    "exec 3<>/dev/fuse && exec 4<>/dev/myfuse && exec 5<>/dev/net/tun "
                    "&& echo ok")
    assert out == "ok\n"


def test_in_a_user_namespace_the_hosts_node_is_bound(engine: Engine) -> None:
    """mknod is refused in a user namespace: the host's node is bound at the container
    path instead (from the host path, not the container's). The host's modes still
    hold: the remapped root is no root on the host, so a 0600 node stays closed."""
    _need("/dev/fuse")
    r = engine("run", "--rm", "--uidmap", "0:100000:65536", "--device",
               "/dev/fuse:/dev/myfuse", "--device", "/dev/null:/dev/mynull", "busybox",
               "sh", "-c", "stat -c '%t:%T' /dev/myfuse /dev/mynull; "
               "echo x > /dev/mynull && echo wrote")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["a:e5", "1:3", "wrote"]


def test_a_running_container_whose_device_went_is_adopted_after_a_restart(
        engine: Engine, tmp_path: Path) -> None:
    """A supervisor killed while a container runs, and the container's host device gone
    (unplugged) before the next one starts: the container is adopted and can be
    removed. Rebuilding its spec failed on the device, so it was marked exited while
    its processes ran on, held by nothing."""
    node = tmp_path / "pcdev"
    os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    engine.ok("run", "-d", "--name", "plugged", "--device", f"{node}:/dev/x", "busybox",
              "sleep", "300")
    pid = engine.supervisor_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    node.unlink()
    assert engine.ok("inspect", "-f", "{{.State.Status}}", "plugged").strip() == "running"
    engine.ok("rm", "-f", "plugged")
    assert engine.ok("ls", "-aq") == ""

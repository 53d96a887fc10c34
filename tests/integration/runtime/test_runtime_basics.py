"""A container as a user sees it: output, exit codes, PID 1, isolation, rootfs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pycompose.engine.errors import CannotExecute, CommandNotFound, EngineError, SetupFailed
from pycompose.engine.runtime import Mount, Process, run

if TYPE_CHECKING:
    from conftest import MakeSpec


def run_capture(spec, timeout: float = 20) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Run to completion; (exit code, stdout+stderr)."""
    r, w = os.pipe()
    try:
        c = run(spec, stdout=w, stderr=w)
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    return c.wait(), out


def test_echo_and_exit_code(make_spec: MakeSpec) -> None:
    code, out = run_capture(make_spec("/bin/sh", "-c", "echo Hola mundo; exit 3"))
    assert (code, out) == (3, "Hola mundo\n")


def test_pid1_and_no_host_processes(make_spec: MakeSpec) -> None:
    code, out = run_capture(make_spec("/bin/sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"))
    pid, count = out.split()
    assert code == 0
    assert pid == "1"
    assert int(count) <= 3  # sh, ls, grep: nothing of the host's


def test_hostname_and_etc_files(make_spec: MakeSpec) -> None:
    spec = make_spec("/bin/sh", "-c", "hostname; cat /etc/hosts", hostname="web1",
                     etc_files={"/etc/hosts": "127.0.0.1 localhost web1\n"})
    assert run_capture(spec) == (0, "web1\n127.0.0.1 localhost web1\n")


def test_overlay_writes_go_to_upper_dir(make_spec: MakeSpec, busybox_dir: Path) -> None:
    spec = make_spec("/bin/sh", "-c", "echo new > /root/file && rm /etc/os-release")
    assert run_capture(spec)[0] == 0
    upper = Path(spec.rootfs.upperdir)  # type: ignore[union-attr]
    assert (upper / "root/file").read_text() == "new\n"
    assert (busybox_dir / "etc/os-release").exists()  # the image is untouched


def test_read_only_rootfs(make_spec: MakeSpec) -> None:
    spec = make_spec("/bin/sh", "-c", "touch /x; echo $?; touch /tmp/y; echo $?",
                     readonly_rootfs=True,
                     mounts=[Mount("/tmp", "tmpfs", "", ["nosuid", "size=1m"])])
    _code, out = run_capture(spec)
    assert "Read-only file system" in out
    assert out.split()[-2:] == ["1", "0"]


def test_bind_volume_ro_and_tmpfs(make_spec: MakeSpec, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "in").write_text("from host\n")
    spec = make_spec("/bin/sh", "-c", "cat /data/in; echo x > /data/out; echo w=$?; "
                     "echo y > /ro/out; echo r=$?; grep ' /scratch ' /proc/mounts",
                     mounts=[Mount("/data", "bind", str(vol), ["rbind"]),
                             Mount("/ro", "bind", str(vol), ["rbind", "ro"]),
                             Mount("/scratch", "tmpfs", "", ["size=1m", "noexec"])])
    _code, out = run_capture(spec)
    assert "from host" in out and "w=0" in out and "r=1" in out
    assert "tmpfs /scratch tmpfs rw,noexec" in out
    assert (vol / "out").read_text() == "x\n"
    # nothing of the container's is mounted in the host's namespace
    assert spec.root not in Path("/proc/self/mountinfo").read_text()


def test_user_and_workdir(make_spec: MakeSpec) -> None:
    script = "id; pwd; grep CapEff /proc/self/status"
    spec = make_spec(process=Process(args=["/bin/sh", "-c", script],
                                     env=["PATH=/bin"], user="app", cwd="/home/app/work"))
    code, out = run_capture(spec)
    assert code == 0
    assert "uid=1000(app) gid=1000(app)" in out
    assert "/home/app/work" in out
    assert "CapEff:\t0000000000000000" in out


def test_plain_directory_rootfs(make_spec: MakeSpec, busybox_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(busybox_dir), str(copy)], check=True)
    spec = make_spec("/bin/cat", "/etc/os-release", rootfs=str(copy))
    code, out = run_capture(spec)
    assert code == 0 and "busybox" in out


@pytest.mark.parametrize(("kw", "step", "kind"), [
    ({"args": ["nosuch"]}, '"nosuch": executable file not found in $PATH', CommandNotFound),
    ({"args": ["/bin/nosuch"]}, "exec: /bin/nosuch: no such file", CommandNotFound),
    ({"args": ["/etc/passwd"]}, "exec: /etc/passwd: permission denied", CannotExecute),
    ({"args": ["true"], "user": "bob"}, "look up user: unable to find user bob", SetupFailed),
])
def test_start_errors_name_the_step(make_spec: MakeSpec, kw: dict, step: str,  # type: ignore[type-arg]
                                    kind: type[SetupFailed]) -> None:
    spec = make_spec(process=Process(env=["PATH=/bin"], **kw))
    with pytest.raises(SetupFailed) as e:
        run(spec)
    assert step in str(e.value)
    assert type(e.value) is kind
    assert not Path(spec.root).exists()


def test_bad_mount_fails_cleanly(make_spec: MakeSpec, tmp_path: Path) -> None:
    spec = make_spec("true", mounts=[Mount("/data", "bind", str(tmp_path / "missing"))])
    with pytest.raises(SetupFailed) as e:
        run(spec)
    assert f"mount {tmp_path}/missing on /data: bind source" in str(e.value)
    assert not Path(spec.root).exists()


def test_raising_hard_ulimit_is_a_clear_error(make_spec: MakeSpec) -> None:
    from pycompose.engine.runtime import Rlimit

    spec = make_spec("true", rlimits=[Rlimit("nofile", 1 << 30, 1 << 30)])
    with pytest.raises(EngineError) as e:
        run(spec)
    assert "ulimit nofile" in str(e.value)
    assert isinstance(e.value, SetupFailed)


def test_lowering_ulimit_works(make_spec: MakeSpec) -> None:
    from pycompose.engine.runtime import Rlimit

    spec = make_spec("/bin/sh", "-c", "ulimit -n", rlimits=[Rlimit("nofile", 100, 200)])
    assert run_capture(spec) == (0, "100\n")


def test_sysctl_in_own_namespace(make_spec: MakeSpec) -> None:
    spec = make_spec("cat", "/proc/sys/kernel/shmmni", sysctls={"kernel.shmmni": "1234"})
    assert run_capture(spec) == (0, "1234\n")


def test_network_namespaces_new_host_and_joined(make_spec: MakeSpec) -> None:
    host_net = os.readlink("/proc/self/ns/net")
    script = "readlink /proc/self/ns/net; ls /sys/class/net"
    code, out = run_capture(make_spec("/bin/sh", "-c", script))
    assert code == 0
    own_net, links = out.split("\n", 1)
    assert own_net != host_net
    assert links.split() == ["lo"]
    spec = make_spec("readlink", "/proc/self/ns/net")
    spec.namespaces["net"] = "host"
    assert run_capture(spec) == (0, host_net + "\n")
    first = run(make_spec("sleep", "30"))
    try:
        target = f"/proc/{first.pid}/ns/net"
        spec = make_spec("readlink", "/proc/self/ns/net")
        spec.namespaces["net"] = target
        assert run_capture(spec) == (0, os.readlink(target) + "\n")
    finally:
        first.kill(9)
        first.wait()


def test_cgroup_namespace_hides_the_host_path(make_spec: MakeSpec) -> None:
    code, out = run_capture(make_spec("cat", "/proc/self/cgroup"))
    assert code == 0
    lines = [line for line in out.splitlines() if "memory" in line or "pids" in line]
    assert lines and all(line.endswith(":/") for line in lines)


def test_bad_oom_score_adj_names_the_step(make_spec: MakeSpec) -> None:
    from pycompose.engine.runtime import Resources

    spec = make_spec("true", resources=Resources(oom_score_adj=5000))
    with pytest.raises(EngineError) as e:
        run(spec)
    assert "set oom_score_adj 5000: Invalid argument" in str(e.value)
    assert isinstance(e.value, SetupFailed)


def test_many_layers_past_a_page_of_mount_options(make_spec: MakeSpec, busybox_dir: Path,
                                                  tmp_path: Path) -> None:
    """50 layers with long paths: the overlay options would pass 4096 bytes, so the
    layers are named relative to their common directory."""
    from pycompose.engine.runtime import Rootfs

    layers = tmp_path / "layers"
    names = []
    for i in range(50):
        d = layers / f"{i:02d}-{'x' * 60}"
        (d / "etc").mkdir(parents=True)
        (d / "etc" / f"layer{i}").write_text(str(i))
        names.append(str(d))
    upper, work = tmp_path / "up", tmp_path / "wk"
    upper.mkdir()
    work.mkdir()
    (layers / "base").symlink_to(busybox_dir)  # as the image store links its layers
    lowers = [*reversed(names), str(layers / "base")]  # top layer first
    assert len(":".join(lowers)) > 4096
    spec = make_spec("/bin/sh", "-c", "cat /etc/layer0 /etc/layer49",
                     rootfs=Rootfs(lowers, str(upper), str(work)))
    assert run_capture(spec) == (0, "049")

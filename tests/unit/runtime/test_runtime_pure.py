"""Pure parts of the runtime: capabilities, options, paths, profiles, cgroup files,
the spec's JSON form, exit codes. No root, no kernel objects."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pycompose.engine.errors import EngineError
from pycompose.engine.runtime import caps, cgroups, child, mounts, protocol, seccomp
from pycompose.engine.runtime.container import check_sysctls, exit_status
from pycompose.engine.runtime.spec import (
    DEFAULT_CAPABILITIES,
    ContainerSpec,
    IdMap,
    Mount,
    Process,
    Resources,
    Rlimit,
    Rootfs,
)


def test_docker_default_caps_mask_is_docker_value() -> None:
    # what `docker run busybox grep CapEff /proc/self/status` prints
    assert caps.mask(DEFAULT_CAPABILITIES) == 0xA80425FB
    assert caps.names(0xA80425FB) == sorted(DEFAULT_CAPABILITIES, key=caps.CAPABILITIES.get)


def test_cap_add_drop_rules() -> None:
    d = list(DEFAULT_CAPABILITIES)
    assert "CAP_NET_ADMIN" in caps.resolve(d, ["net_admin"], [])
    assert "CAP_CHOWN" not in caps.resolve(d, [], ["CHOWN"])
    assert caps.resolve(d, ["NET_ADMIN"], ["ALL"]) == ["CAP_NET_ADMIN"]
    assert len(caps.resolve(d, ["ALL"], ["SYS_ADMIN"])) == len(caps.CAPABILITIES) - 1
    with pytest.raises(EngineError, match="unknown capability 'bogus'"):
        caps.resolve(d, ["bogus"], [])


@pytest.mark.parametrize(("step", "err", "code"), [
    ("exec", errno.ENOENT, 127), ("exec", errno.EACCES, 126), ("exec", errno.ENOEXEC, 126),
    ("mount /proc", errno.ENOENT, 125), ("pivot_root", errno.EINVAL, 125),
])
def test_exit_codes_like_docker(step: str, err: int, code: int) -> None:
    assert protocol.exit_code_for(step, err) == code
    assert protocol.error_message(step, err)["code"] == code


def test_describe_names_the_step() -> None:
    msg = protocol.error_message("mount /data on /srv", errno.ENOENT, "bind source /data: gone")
    assert protocol.describe(msg) == "mount /data on /srv: bind source /data: gone"


def test_parse_options() -> None:
    flags, prop, data = mounts.parse_options(["ro", "nosuid", "rprivate", "size=64m", "mode=1777"])
    assert flags & mounts.L.MS_RDONLY and flags & mounts.L.MS_NOSUID
    assert prop == mounts.L.MS_PRIVATE | mounts.L.MS_REC
    assert data == "size=64m,mode=1777"
    flags, _, _ = mounts.parse_options(["ro", "rw"])
    assert not flags & mounts.L.MS_RDONLY


def test_mount_targets_resolve_and_are_made_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "data").symlink_to("/etc")            # absolute: means root/etc
    (root / "up").symlink_to("../../../../tmp")    # climbing: clamped at root
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("/no/such")     # made where it points, in root
    (tmp_path / "tmp").mkdir()

    def target(path: str, is_dir: bool = True) -> str:
        rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
        try:
            fd = mounts._in_root(rfd, path, is_dir)
        finally:
            os.close(rfd)
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)

    r = str(root)
    assert target("/data/x") == f"{r}/etc/x"
    assert target("/up/y", is_dir=False) == f"{r}/tmp/y" and (root / "tmp" / "y").is_file()
    assert target("/../../a/./b/") == f"{r}/a/b"
    assert target("/dangling/z") == f"{r}/no/such/z"
    assert not (tmp_path / "tmp" / "y").exists() and not Path("/no/such").exists()
    with pytest.raises(OSError) as e:
        target("/loop/z")
    assert e.value.errno == errno.ELOOP


def test_default_seccomp_profile_by_capabilities() -> None:
    prof = seccomp.default_profile()
    default, rules = seccomp.compile_profile(prof, DEFAULT_CAPABILITIES)
    allowed = {n for r in rules if r.action == seccomp.SCMP_ACT_ALLOW and not r.args
               for n in r.names}
    assert default == 0x00050001  # ERRNO(EPERM)
    assert {"read", "execve", "chroot", "clone3"} - allowed == {"clone3"}
    assert not {"keyctl", "add_key", "mount", "unshare", "bpf"} & allowed
    clone3 = [r for r in rules if r.names == ("clone3",)]
    assert clone3 and clone3[0].action == 0x00050000 | errno.ENOSYS
    # with CAP_SYS_ADMIN mount is allowed and clone is unrestricted
    _, admin = seccomp.compile_profile(prof, [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    names = {n for r in admin if not r.args for n in r.names}
    assert {"mount", "unshare", "clone", "setns"} <= names


def test_bad_profile_names_the_field() -> None:
    with pytest.raises(seccomp.ProfileError, match="unsupported seccomp action"):
        seccomp.compile_profile({"defaultAction": "SCMP_ACT_NOPE"}, [])


MOUNTINFO_V1 = """\
25 1 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
27 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
"""
MOUNTINFO_V2 = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_parse_mountinfo_v1_hybrid_and_v2() -> None:
    hs = cgroups.parse_mountinfo(MOUNTINFO_V1)
    assert [(h.version, h.mountpoint) for h in hs] == [
        (1, "/sys/fs/cgroup/memory"), (1, "/sys/fs/cgroup/cpu,cpuacct")]
    assert hs[1].controllers == {"cpu", "cpuacct"}
    (v2,) = cgroups.parse_mountinfo(MOUNTINFO_V2)
    assert (v2.version, v2.mountpoint) == (2, "/sys/fs/cgroup")


def test_limits_in_cgroup_files() -> None:
    res = Resources(memory=64 << 20, memory_swap=128 << 20, cpus=1.5, cpu_shares=512,
                    pids_limit=20)
    v1 = cgroups.v1_limits(res, privileged=False)
    assert v1["memory"] == [("memory.limit_in_bytes", str(64 << 20)),
                            ("memory.memsw.limit_in_bytes", str(128 << 20))]
    assert ("cpu.cfs_quota_us", "150000") in v1["cpu"]
    assert v1["pids"] == [("pids.max", "20")]
    assert v1["devices"][0] == ("devices.deny", "a *:* rwm")
    v2 = cgroups.v2_limits(res)
    assert v2["memory"] == [("memory.max", str(64 << 20)), ("memory.swap.max", str(64 << 20))]
    assert v2["cpu"] == [("cpu.max", "150000 100000"), ("cpu.weight", "20")]
    assert cgroups.v1_limits(Resources(), privileged=True)["devices"] == [
        ("devices.allow", "a *:* rwm")]


def test_spec_json_round_trip() -> None:
    spec = ContainerSpec(
        id="abc", root="/r", rootfs=Rootfs(["/l1", "/l2"], "/u", "/w"),
        process=Process(args=["sh"], env=["A=1"], terminal=True, console_size=(24, 80)),
        mounts=[Mount("/data", "bind", "/src", ["ro"])], uid_map=[IdMap(0, 100000, 65536)],
        resources=Resources(memory=1 << 20), rlimits=[Rlimit("nofile", 10, 20)],
        namespaces={"pid": None, "net": "/proc/1/ns/net"})
    back = ContainerSpec.from_json(spec.to_json())
    assert back == spec
    plain = ContainerSpec(id="x", root="/r", rootfs="/dir", process=Process(args=["true"]))
    assert ContainerSpec.from_json(plain.to_json()) == plain


def test_sysctls_only_namespaced() -> None:
    spec = ContainerSpec(id="x", root="/r", rootfs="/d", process=Process(["true"]))
    spec.sysctls = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}
    check_sysctls(spec)
    spec.sysctls = {"vm.swappiness": "1"}
    with pytest.raises(EngineError, match="not namespaced"):
        check_sysctls(spec)
    spec.sysctls = {"net.ipv4.ip_forward": "1"}
    spec.namespaces["net"] = "host"
    with pytest.raises(EngineError, match="host network"):
        check_sysctls(spec)


def test_exit_status_from_wait_status() -> None:
    assert exit_status(3 << 8) == 3
    assert exit_status(9) == 137  # killed by SIGKILL


def test_resolve_user_in_image(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n"
                                         "app:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\napp:x:1000:\nstaff:x:50:app\n")
    r = str(tmp_path)
    assert child.resolve_user("app", [], r) == (1000, 1000, [50], "/home/app")
    assert child.resolve_user("1000:0", [], r) == (1000, 0, [], "/home/app")
    assert child.resolve_user("4242", [7], r) == (4242, 0, [7], "/")
    assert child.resolve_user("app:staff", [], r)[1] == 50
    with pytest.raises(protocol.StepError, match="unable to find user bob"):
        child.resolve_user("bob", [], r)
    with pytest.raises(protocol.StepError, match="unable to find group nope"):
        child.resolve_user("app:nope", [], r)


def test_find_executable_tells_126_from_127(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin/tool"
    exe.write_text("#!/bin/sh\n")
    os.chmod(exe, 0o755)
    (tmp_path / "bin/data").write_text("x")
    r = str(tmp_path)
    assert child.find_executable("tool", "/usr/bin:/bin", r) == "/bin/tool"
    with pytest.raises(protocol.StepError) as e:
        child.find_executable("nosuch", "/bin", r)
    assert protocol.exit_code_for(e.value.step, e.value.errno) == 127
    assert "executable file not found in $PATH" in str(e.value)
    with pytest.raises(protocol.StepError) as e:
        child.find_executable("/bin/data", "/bin", r)
    assert protocol.exit_code_for(e.value.step, e.value.errno) == 126


def test_protocol_packets_carry_fds() -> None:
    import socket

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        protocol.send(a, {"t": "ready", "pid": 7}, [w])
        msg, fds = protocol.recv(b)
        assert msg == {"t": "ready", "pid": 7}
        assert len(fds) == 1
        os.write(fds[0], b"x")  # the received fd is the pipe's write end
        assert os.read(r, 1) == b"x"
        os.close(fds[0])
        a.close()
        assert protocol.recv(b) == (None, [])
    finally:
        b.close()
        os.close(r)
        os.close(w)


def test_device_rules_and_bpf_program() -> None:
    from pycompose.engine.runtime import devices

    assert devices.parse_rule("c 1:3 rwm") == ("c", 1, 3, 7)
    assert devices.parse_rule("c *:* m") == ("c", None, None, 1)
    prog = devices.bpf_program(["c 1:3 rwm", "b *:* m"])
    insns = [prog[i:i + 8] for i in range(0, len(prog), 8)]
    # 6 loads, rule 1: type+major+minor checks, rule 2: type + access subset (3), each
    # rule ends "r0 = 1; exit", then the default "r0 = 0; exit"
    assert len(insns) == 6 + (3 + 2) + (1 + 3 + 2) + 2
    assert insns[-1][0] == 0x95 and insns[-2] == bytes([0xB7, 0, 0, 0, 0, 0, 0, 0])
    # the first rule's failed type check jumps past its own "r0 = 1; exit"
    jne = insns[6]
    assert jne[0] == 0x55 and int.from_bytes(jne[2:4], "little") == 4


def test_bpf_program_cached_on_disk(tmp_path: Path) -> None:
    prof = seccomp.default_profile()
    caps_ = list(DEFAULT_CAPABILITIES)
    seccomp._BPF_CACHE.clear()
    prog = seccomp.bpf_program(prof, caps_, str(tmp_path))
    assert len(prog) % 8 == 0 and len(prog) > 8 * 300
    (cached,) = tmp_path.glob("*.bpf")
    assert cached.read_bytes() == prog
    seccomp._BPF_CACHE.clear()
    cached.write_bytes(b"\x06\x00\x00\x00\x00\x00\xff\x7f")  # what is on disk is used
    assert seccomp.bpf_program(prof, caps_, str(tmp_path)) == cached.read_bytes()
    seccomp._BPF_CACHE.clear()


def test_launcher_imports_stay_light() -> None:
    """Every container start pays the launcher's imports: no typing, json, re,
    subprocess, dataclasses, enum (nor anything heavier) may creep in."""
    import subprocess
    import sys

    import pycompose

    code = ("import sys; before = set(sys.modules)\n"
            "import pycompose.engine.runtime.child\n"
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run(
        [sys.executable, "-S", "-s", "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(Path(pycompose.__file__).resolve().parents[1])}).stdout.split()
    heavy = {"typing", "json", "re", "subprocess", "dataclasses", "enum", "socket", "pathlib",
             "trio", "pydantic", "yaml", "pyroute2"}
    assert "pycompose.engine.runtime.child" in out
    assert not heavy & set(out)


def test_the_restart_back_off_starts_over_after_ten_seconds_of_running() -> None:
    from pycompose.engine.supervisor.holder import backoff_step

    assert [backoff_step(n, 0.2) for n in (0, 1, 5)] == [0, 1, 5]  # doubling on
    assert backoff_step(7, 10.0) == 0 and backoff_step(7, 3600) == 0  # it ran: over

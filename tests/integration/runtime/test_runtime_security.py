"""Hardening equal to docker's defaults, read back from inside the container."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_runtime_basics import run_capture

from pycompose.engine.runtime import Mount
from pycompose.engine.runtime.caps import mask
from pycompose.engine.runtime.spec import DEFAULT_CAPABILITIES

if TYPE_CHECKING:
    from conftest import MakeSpec


def status(out: str, key: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.startswith(key + ":"))


def test_docker_capability_set(make_spec: MakeSpec) -> None:
    _code, out = run_capture(make_spec("cat", "/proc/self/status"))
    want = f"{mask(DEFAULT_CAPABILITIES):016x}"
    assert [status(out, k) for k in ("CapEff", "CapPrm", "CapBnd")] == [want] * 3
    assert status(out, "CapInh") == status(out, "CapAmb") == "0" * 16
    assert status(out, "Seccomp") == "2"
    assert status(out, "NoNewPrivs") == "0"
    assert status(out, "SigIgn") == status(out, "SigBlk") == "0" * 16  # nothing inherited


def test_privileged_and_no_new_privileges(make_spec: MakeSpec) -> None:
    _, out = run_capture(make_spec("/bin/sh", "-c", "mount -t tmpfs none /tmp && echo m=ok; "
                                   "cat /proc/self/status", privileged=True))
    assert "m=ok" in out
    assert status(out, "Seccomp") == "0"
    assert int(status(out, "CapEff"), 16) == int(status(out, "CapBnd"), 16) > mask(
        DEFAULT_CAPABILITIES)
    _, out = run_capture(make_spec("cat", "/proc/self/status", no_new_privileges=True,
                                   capabilities=["CAP_KILL"]))
    assert status(out, "NoNewPrivs") == "1"
    assert status(out, "CapEff") == f"{mask(['CAP_KILL']):016x}"


def test_mount_refused_and_proc_read_only(make_spec: MakeSpec) -> None:
    _code, out = run_capture(make_spec("/bin/sh", "-c",
        "mount -t tmpfs none /mnt; echo m=$?; echo 1 > /proc/sys/kernel/shmmni; echo p=$?; "
        "echo 1 > /proc/sysrq-trigger; echo s=$?; echo 1 > /sys/kernel/profiling; echo y=$?"))
    assert "m=1" in out and "p=1" in out and "s=1" in out and "y=1" in out
    assert "Read-only file system" in out


def test_masked_paths(make_spec: MakeSpec) -> None:
    _code, out = run_capture(make_spec("/bin/sh", "-c",
        "cat /proc/keys | wc -c; ls -A /sys/firmware | wc -l; ls -A /proc/acpi | wc -l; "
        "grep -c . /proc/timer_list"))  # /proc/kcore: not on this kernel
    assert out.split() == ["0", "0", "0", "0"]


def test_device_nodes_and_cgroup(make_spec: MakeSpec) -> None:
    _code, out = run_capture(make_spec("/bin/sh", "-c",
        "ls /dev | tr '\\n' ' '; echo; mknod /tmp/sda b 8 0 && head -c1 /tmp/sda; echo r=$?"))
    assert out.splitlines()[0].split() == sorted(
        ["fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
         "stdout", "tty", "urandom", "zero"])
    assert "r=1" in out  # the node can be made (CAP_MKNOD) but not opened (devices cgroup)


@pytest.fixture(scope="module")
def keyctl_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static binary that calls keyctl(2) and prints the errno (busybox has none)."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed (scripts/setup installs it)")
    d = tmp_path_factory.mktemp("keyctl")
    (d / "k.c").write_text(
        "#include <stdio.h>\n#include <errno.h>\n#include <unistd.h>\n"
        "#include <sys/syscall.h>\n"
        "int main(void){long r=syscall(SYS_keyctl,0,0,0,0,0);"
        "printf(\"%ld %d\\n\",r,r<0?errno:0);return 0;}\n")
    subprocess.run(["gcc", "-static", "-O1", "-o", str(d / "keyctl"), str(d / "k.c")],
                   check=True)
    return d / "keyctl"


def test_seccomp_blocks_keyctl(make_spec: MakeSpec, keyctl_bin: Path) -> None:
    m = [Mount("/keyctl", "bind", str(keyctl_bin), ["bind", "ro"])]
    _, out = run_capture(make_spec("/keyctl", mounts=m))
    assert out.strip() == "-1 1"  # EPERM from the filter
    _, out = run_capture(make_spec("/keyctl", mounts=m, seccomp="unconfined"))
    assert out.strip() != "-1 1"  # the kernel's own answer (EINVAL for a bad op)


def test_seccomp_profile_file(make_spec: MakeSpec, keyctl_bin: Path, tmp_path: Path) -> None:
    import json

    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    (tmp_path / "p.json").write_text(json.dumps(profile))
    m = [Mount("/keyctl", "bind", str(keyctl_bin), ["bind", "ro"])]
    _, out = run_capture(make_spec("/keyctl", mounts=m, seccomp=str(tmp_path / "p.json")))
    assert out.strip() == "-1 13"

"""Limits, signals, pty, init, exec, and the cleanups, against the real kernel."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_runtime_basics import run_capture

from pycompose.engine.errors import CommandNotFound, EngineError, InvalidArgument
from pycompose.engine.runtime import (
    Process,
    Resources,
    cleanup_leftovers,
    create,
    destroy,
    exec_process,
    kill_all,
    oom_killed,
    run,
)
from pycompose.engine.runtime.cgroups import Cgroup, Hierarchy
from pycompose.engine.runtime.container import cgroup_of

if TYPE_CHECKING:
    from conftest import MakeSpec


def read_all(fd: int, timeout: float = 10) -> str:
    """Everything from a pty master until the slave side is gone."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the last process holding the slave exited
            break
        if not chunk:
            break
        out += chunk
    return out.decode()


def test_memory_limit_oom_kills_with_137(make_spec: MakeSpec) -> None:
    mib = 1 << 20
    hog = "a=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived"
    spec = make_spec("/bin/sh", "-c", hog,
                     resources=Resources(memory=32 * mib, memory_swap=32 * mib))
    code, out = run_capture(spec, timeout=60)
    assert code == 137
    assert "survived" not in out
    assert oom_killed(spec)


def test_no_oom_without_pressure(make_spec: MakeSpec) -> None:
    spec = make_spec("true", resources=Resources(memory=32 << 20))
    assert run_capture(spec)[0] == 0
    assert not oom_killed(spec)


def test_pids_limit(make_spec: MakeSpec) -> None:
    spec = make_spec("/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; "
                     "echo done",
                     resources=Resources(pids_limit=5))
    code, out = run_capture(spec)
    assert "can't fork" in out or "Resource temporarily unavailable" in out
    assert "done" not in out  # the shell itself gave up when fork failed
    assert code != 0


def test_limits_written_to_cgroup(make_spec: MakeSpec) -> None:
    spec = make_spec("sleep", "30", resources=Resources(cpus=0.5, cpu_shares=512,
                                                        cpuset_cpus="0", pids_limit=50))
    c = run(spec)
    try:
        files = {os.path.basename(h.mountpoint): p for h, p in cgroup_of(spec).paths}
        if "cpu" in files:
            assert Path(files["cpu"], "cpu.cfs_quota_us").read_text().strip() == "50000"
            assert Path(files["cpu"], "cpu.shares").read_text().strip() == "512"
        assert Path(files["cpuset"], "cpuset.cpus").read_text().strip() == "0"
        assert Path(files["pids"], "pids.max").read_text().strip() == "50"
        assert str(c.pid) in Path(files["pids"], "cgroup.procs").read_text().split()
    finally:
        kill_all(spec)
        assert c.wait() == 137


def test_pty_and_console_size(make_spec: MakeSpec) -> None:
    spec = make_spec(process=Process(args=["/bin/sh", "-c", "tty; stty size; test -t 0 && echo T"],
                                     env=["PATH=/bin"], terminal=True, console_size=(33, 101)))
    c = run(spec)
    assert c.pty_master is not None
    out = read_all(c.pty_master)
    assert c.wait() == 0
    c.close()
    assert out.split() == ["/dev/pts/0", "33", "101", "T"]


def test_interactive_pty_stdin(make_spec: MakeSpec) -> None:
    spec = make_spec(process=Process(args=["/bin/sh", "-c", "read x; echo got:$x"],
                                     env=["PATH=/bin"], terminal=True))
    c = run(spec)
    assert c.pty_master is not None
    os.write(c.pty_master, b"hello\n")
    out = read_all(c.pty_master)
    assert c.wait() == 0
    c.close()
    assert "got:hello" in out


def test_stop_timeout_kills_a_process_ignoring_sigterm(make_spec: MakeSpec) -> None:
    # a shell as PID 1 has no SIGTERM handler: the kernel ignores it (docker's stop case)
    c = run(make_spec("/bin/sh", "-c", "trap '' TERM; sleep 30 & wait"))
    spec = c.spec
    c.kill(signal.SIGTERM)
    time.sleep(0.3)
    assert c.poll() is None
    kill_all(spec, signal.SIGKILL)
    assert c.wait() == 137
    assert cgroup_of(spec).pids() == []


def test_init_forwards_signals_and_reaps(make_spec: MakeSpec) -> None:
    spec = make_spec("/bin/sh", "-c", "sleep 0.1 & exec sleep 30", init=True)
    r, w = os.pipe()
    c = run(spec, stdout=w, stderr=w)
    os.close(w)
    time.sleep(0.5)
    assert Path(f"/proc/{c.pid}/cmdline").read_bytes().startswith(b"/dev/init\0")
    children = [p for p in cgroup_of(spec).pids() if p != c.pid]
    states = [Path(f"/proc/{p}/stat").read_text().split()[2] for p in children]
    assert "Z" not in states  # the short sleep was reaped by tini
    c.kill(signal.SIGTERM)
    assert c.wait() == 143  # tini passed SIGTERM on to sleep, which died of it
    os.close(r)


def test_create_does_not_run_until_start(make_spec: MakeSpec, tmp_path: Path) -> None:
    vol = tmp_path / "v"
    vol.mkdir()
    from pycompose.engine.runtime import Mount

    spec = make_spec("touch", "/v/ran", mounts=[Mount("/v", "bind", str(vol))])
    c = create(spec)
    time.sleep(0.2)
    assert not (vol / "ran").exists()
    c.start()
    assert c.wait() == 0
    assert (vol / "ran").exists()


def test_abandoned_create_runs_nothing(make_spec: MakeSpec) -> None:
    spec = make_spec("true")
    c = create(spec)
    pid = c.pid
    c.close()  # the caller gives up before start: PID 1 is killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    destroy(spec)
    assert not Path(spec.root).exists()


def test_exec_joins_the_container(make_spec: MakeSpec) -> None:
    spec = make_spec("sleep", "30", hostname="execbox")
    c = run(spec)
    try:
        r, w = os.pipe()
        p = exec_process(spec, c.pid, Process(
            args=["/bin/sh", "-c", "hostname; cat /proc/1/cmdline; echo; echo $$; "
                  "grep -E 'CapEff|Seccomp:' /proc/self/status; exit 4"],
            env=["PATH=/bin"]), stdout=w, stderr=w)
        os.close(w)
        with os.fdopen(r) as f:
            out = f.read()
        assert p.wait() == 4
        lines = out.splitlines()
        assert lines[0] == "execbox"
        assert lines[1] == "sleep\0" + "30\0" or lines[1].startswith("sleep")
        assert int(lines[2]) > 1
        assert "CapEff:\t00000000a80425fb" in out and "Seccomp:\t2" in out
        with pytest.raises(CommandNotFound):
            exec_process(spec, c.pid, Process(args=["nosuch"], env=["PATH=/bin"]))
        pt = exec_process(spec, c.pid, Process(args=["tty"], env=["PATH=/bin"], terminal=True,
                                              user="app"))
        assert pt.pty_master is not None
        assert read_all(pt.pty_master).strip().startswith("/dev/pts/")
        assert pt.wait() == 0
        os.close(pt.pty_master)
    finally:
        kill_all(spec)
        c.wait()


def test_pid_1_and_an_exec_are_in_the_cgroup_of_every_hierarchy(make_spec: MakeSpec) -> None:
    """The launcher joins the v1 cgroups by moving its one thread itself (``tasks``:
    no global lock, no RCU grace period), the v2 ones by pid (Cgroup.join_files):
    either way, as the host sees it, PID 1 and an exec'd process are in the
    container's cgroup in each hierarchy, and nowhere else."""
    spec = make_spec("sleep", "30")
    c = run(spec)
    try:
        p = exec_process(spec, c.pid, Process(args=["sleep", "30"], env=["PATH=/bin"]))
        paths = [path for _, path in cgroup_of(spec).paths]
        assert paths
        for path in paths:
            procs = {int(x) for x in Path(path, "cgroup.procs").read_text().split()}
            assert procs == {c.pid, p.pid}, path
        for pid in (c.pid, p.pid):
            mine = Path(f"/proc/{pid}/cgroup").read_text()
            for path in paths:
                assert path.split("/pycompose/", 1)[1] in mine, (path, mine)
    finally:
        kill_all(spec)
        p.wait()  # first: a zombie in its PID namespace keeps PID 1 from being reaped
        c.wait()


def test_cleanup_leftovers_after_a_crash(make_spec: MakeSpec, no_leaks: Path) -> None:
    spec = make_spec("sleep", "30")
    c = run(spec)
    keep = make_spec("sleep", "30")
    k = run(keep)
    # the supervisor "crashed": nobody will destroy spec; a new one keeps `keep`
    removed = cleanup_leftovers(no_leaks, keep={keep.id})
    assert removed == [f"cgroup {spec.cgroup_parent}/{spec.id}"]
    assert c.wait() == 137
    assert k.poll() is None
    destroy(keep)
    assert k.wait() == 137
    destroy(spec)
    destroy(spec)  # idempotent


def test_cgroup_v2_paths_on_the_unified_hierarchy(no_leaks: Path) -> None:
    """This host's cgroup2 mount has no controllers: the v2 code can still make,
    join, kill and remove a cgroup there and enforce the device allowlist (BPF needs
    no controller); limits must be refused clearly."""
    unified = Path("/sys/fs/cgroup/unified")
    if not (unified / "cgroup.procs").exists():
        pytest.skip("no cgroup2 hierarchy mounted")
    from pycompose.util.paths import root_id

    h = Hierarchy(2, str(unified), frozenset((unified / "cgroup.controllers").read_text().split()))
    cg = Cgroup.for_container(f"pycompose/{root_id(no_leaks)}", "v2test", [h])
    with pytest.raises(EngineError, match="has no pids controller"):
        cg.create(Resources(pids_limit=10))
    cg.create(Resources())
    # a host shell moved into the cgroup meets the v2 device allowlist (a BPF program)
    proc = subprocess.Popen(
        ["sh", "-c", "read x; cat /dev/null && echo null=ok; head -c1 /dev/kmsg >/dev/null;"
         " echo kmsg=$?; sleep 30"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    Path(cg.procs_files[0]).write_text(str(proc.pid))
    assert cg.pids() == [proc.pid]
    assert proc.stdin and proc.stdout
    proc.stdin.write("go\n")
    proc.stdin.flush()
    out = "".join(proc.stdout.readline() for _ in range(3))
    assert "null=ok" in out
    assert "kmsg=1" in out and "Operation not permitted" in out
    cg.remove()
    assert proc.wait() == -signal.SIGKILL
    proc.stdin.close()
    proc.stdout.close()
    assert not Path(cg.paths[0][1]).exists()


def test_user_namespace_remap(make_spec: MakeSpec, busybox_dir: Path) -> None:
    """``--userns`` remap: root inside is uid 100000 outside. The image's files must be
    owned by the mapped ids (the image store's job; here a chowned copy), and every
    directory on the way must be searchable by the mapped root."""
    import shutil
    import tempfile

    from pycompose.engine.runtime import IdMap, Rootfs

    base = Path(tempfile.mkdtemp(prefix="pycompose-userns-", dir="/var/tmp"))
    try:
        base.chmod(0o755)
        lower = base / "lower"
        subprocess.run(["cp", "-a", str(busybox_dir), str(lower)], check=True)
        for d in ("upper", "work"):
            (base / d).mkdir()
        subprocess.run(["chown", "-R", "100000:100000", str(lower), str(base / "upper"),
                        str(base / "work")], check=True)
        spec = make_spec("/bin/sh", "-c", "id -u; cat /proc/self/uid_map; touch /f; echo t=$?; "
                         "grep CapEff /proc/self/status",
                         rootfs=Rootfs([str(lower)], str(base / "upper"), str(base / "work")),
                         uid_map=[IdMap(0, 100000, 65536)], gid_map=[IdMap(0, 100000, 65536)],
                         namespaces={"user": None, "pid": None, "mnt": None, "uts": None,
                                     "ipc": None, "net": None, "cgroup": None})
        spec.root = str(base / "run")
        code, out = run_capture(spec)
        assert code == 0, out
        lines = out.split("\n")
        assert lines[0] == "0"
        assert lines[1].split() == ["0", "100000", "65536"]
        assert "t=0" in out
        assert (base / "upper/f").stat().st_uid == 100000
        destroy(spec)
        # exec joins the user namespace first, then the others
        spec.process = Process(args=["sleep", "30"], env=["PATH=/bin"])
        c = run(spec)
        r, w = os.pipe()
        p = exec_process(spec, c.pid, Process(args=["/bin/sh", "-c", "id -u; touch /g"],
                                               env=["PATH=/bin"]), stdout=w, stderr=w)
        os.close(w)
        with os.fdopen(r) as f:
            assert f.read() == "0\n"
        assert p.wait() == 0
        assert (base / "upper/g").stat().st_uid == 100000
        kill_all(spec)
        c.wait()
        destroy(spec)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_own_cgroup_visible_read_only_and_oom_score_adj(make_spec: MakeSpec) -> None:
    spec = make_spec("/bin/sh", "-c",
                     "cat /sys/fs/cgroup/pids/pids.max /proc/self/oom_score_adj; "
                     "echo 1 > /sys/fs/cgroup/pids/pids.max; echo w=$?",
                     resources=Resources(pids_limit=42, oom_score_adj=500))
    code, out = run_capture(spec)
    assert code == 0
    assert out.split()[:2] == ["42", "500"]
    assert "w=1" in out


def test_pty_resize(make_spec: MakeSpec) -> None:
    from pycompose.engine.runtime.container import resize_pty

    spec = make_spec(process=Process(args=["/bin/sh", "-c", "read x; stty size"],
                                     env=["PATH=/bin"], terminal=True, console_size=(10, 20)))
    c = run(spec)
    assert c.pty_master is not None
    resize_pty(c.pty_master, 50, 132)
    os.write(c.pty_master, b"go\n")
    out = read_all(c.pty_master)
    assert c.wait() == 0
    c.close()
    assert out.split()[-2:] == ["50", "132"]


def test_kill_all_catches_a_forking_container(make_spec: MakeSpec) -> None:
    spec = make_spec("/bin/sh", "-c", "while true; do sleep 5 & done")
    c = run(spec)
    time.sleep(0.3)
    assert len(cgroup_of(spec).pids()) > 5
    kill_all(spec, signal.SIGKILL)
    assert c.wait() == 137
    deadline = time.monotonic() + 2
    while cgroup_of(spec).pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cgroup_of(spec).pids() == []


def test_whole_container_on_cgroup_v2(make_spec: MakeSpec,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A container whose only cgroup is on this host's (controller-less) cgroup2
    hierarchy: the cgroup namespace, /sys/fs/cgroup, the BPF device allowlist,
    cgroup.kill and removal all on the v2 code paths."""
    unified = "/sys/fs/cgroup/unified"
    if not Path(unified, "cgroup.procs").exists():
        pytest.skip("no cgroup2 hierarchy mounted")
    monkeypatch.setenv("PYCOMPOSE_CGROUP2_ROOT", unified)
    spec = make_spec("/bin/sh", "-c",
                     "cat /proc/self/cgroup | grep '^0::'; grep ' /sys/fs/cgroup ' /proc/mounts;"
                     " mknod /tmp/kmsg c 1 11 && head -c1 /tmp/kmsg; echo kmsg=$?; exec sleep 30")
    r, w = os.pipe()
    c = run(spec, stdout=w, stderr=w)
    os.close(w)
    (cg_path,) = [p for _, p in cgroup_of(spec).paths]
    assert cg_path.startswith(unified + "/pycompose/")
    assert c.pid in cgroup_of(spec).pids()
    out = ""
    while "kmsg=" not in out:
        chunk = os.read(r, 4096).decode()
        assert chunk, out
        out += chunk
    kill_all(spec)  # cgroup.kill
    assert c.wait() == 137
    os.close(r)
    assert out.startswith("0::/\n")
    assert "cgroup2 /sys/fs/cgroup cgroup2 ro" in out
    assert "Operation not permitted" in out and "kmsg=1" in out
    destroy(spec)
    assert not Path(cg_path).exists()


def test_cleanup_leftovers_unmounts_under_the_state_root(no_leaks: Path) -> None:
    target = no_leaks / "containers" / "crashed" / "rootfs"
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "leftover", str(target)], check=True)
    assert str(target) in Path("/proc/self/mountinfo").read_text()
    assert cleanup_leftovers(no_leaks) == [f"mount {target}"]
    assert str(target) not in Path("/proc/self/mountinfo").read_text()


def test_bad_seccomp_profile_is_a_clear_error(make_spec: MakeSpec, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    spec = make_spec("true", seccomp=str(tmp_path / "bad.json"))
    with pytest.raises(EngineError) as e:
        run(spec)
    assert str(e.value).startswith(f"seccomp profile {tmp_path}/bad.json: not JSON")
    assert isinstance(e.value, InvalidArgument)

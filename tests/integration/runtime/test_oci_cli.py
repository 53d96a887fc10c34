"""``pycompose-runtime`` as another engine (or runtime-tools) drives it: a bundle made
here (busybox rootfs, ``spec``'s config.json), runc's commands through the real
console script, and nothing left behind."""

from __future__ import annotations

import array
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RUNTIME = str(Path(sys.executable).with_name("pycompose-runtime"))


class Oci:
    """One test's runtime: its own --root under the test's state root, bundles made on
    demand, every container deleted at the end."""

    def __init__(self, state_root: Path, busybox_dir: Path, tmp: Path) -> None:
        from pycompose.util.paths import root_id

        self.root = state_root / "oci"
        self.busybox = busybox_dir
        self.tmp = tmp
        self.mark = root_id(state_root)
        self.ids: list[str] = []

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """The command with its output in files, as runtime-tools gives them: a created
        container keeps the stdio of ``create`` (pipes would stay open with it)."""
        tag = uuid.uuid4().hex[:8]
        out, err = self.tmp / f"out-{tag}", self.tmp / f"err-{tag}"
        with open(out, "w+") as o, open(err, "w+") as e:
            p = subprocess.run([RUNTIME, "--root", str(self.root), *args], stdout=o, stderr=e,
                               timeout=timeout, stdin=subprocess.DEVNULL)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read_text(),
                                           err.read_text())

    def bundle(self, *args: str, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
        b = self.tmp / f"bundle-{uuid.uuid4().hex[:8]}"
        b.mkdir()
        shutil.copytree(self.busybox, b / "rootfs", symlinks=True)
        r = subprocess.run([RUNTIME, "spec", "-b", str(b)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cfg = json.loads((b / "config.json").read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = list(args)
        cfg["root"]["readonly"] = False
        # a cgroup carrying the test's mark, so that no_leaks sees it if it is left
        cfg["linux"]["cgroupsPath"] = f"/pycompose-oci-test/{self.mark}-{uuid.uuid4().hex[:8]}"
        if edit is not None:
            edit(cfg)
        (b / "config.json").write_text(json.dumps(cfg))
        return b

    def new_id(self) -> str:
        cid = f"t{uuid.uuid4().hex[:10]}"
        self.ids.append(cid)
        return cid

    def state(self, cid: str) -> dict[str, Any]:
        r = self.cli("state", cid)
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout))

    def wait_status(self, cid: str, status: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            r = self.cli("state", cid)
            s = json.loads(r.stdout) if r.returncode == 0 else {"status": None}
            if s["status"] == status or time.monotonic() > deadline:
                return dict(s)
            time.sleep(0.02)

    def cleanup(self) -> None:
        for cid in self.ids:
            self.cli("delete", "--force", cid)


@pytest.fixture
def oci(no_leaks: Path, busybox_dir: Path, tmp_path: Path) -> Any:
    if not Path(RUNTIME).exists():
        pytest.skip("pycompose-runtime is not installed (scripts/setup)")
    o = Oci(no_leaks, busybox_dir, tmp_path)
    yield o
    o.cleanup()


def test_spec_writes_a_config_that_loads_back(oci: Oci, tmp_path: Path) -> None:
    from pycompose.engine.runtime.oci import parse_config

    r = subprocess.run([RUNTIME, "spec", "-b", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (tmp_path / "rootfs").mkdir()
    cfg = json.loads((tmp_path / "config.json").read_text())
    b = parse_config(cfg, str(tmp_path), "x", str(tmp_path / "rt"))
    assert b.spec.process.args == ["sh"] and b.spec.process.terminal
    assert [m.target for m in b.spec.mounts][:2] == ["/proc", "/dev"]
    again = subprocess.run([RUNTIME, "spec", "-b", str(tmp_path)], capture_output=True,
                           text=True)
    assert again.returncode == 1 and "exists" in again.stderr


def test_create_waits_for_start_then_kill_and_delete(oci: Oci) -> None:
    b = oci.bundle("sh", "-c", "echo ran > /ran; trap 'exit 3' TERM; "
                   "while true; do sleep 0.05; done")
    cid = oci.new_id()
    r = oci.cli("create", "--bundle", str(b), cid)
    assert r.returncode == 0, r.stderr
    s = oci.state(cid)
    assert s["status"] == "created" and s["id"] == cid and s["bundle"] == str(b)
    assert s["ociVersion"] and s["pid"] > 0 and Path(f"/proc/{s['pid']}").exists()
    time.sleep(0.2)
    assert not (b / "rootfs" / "ran").exists(), "the process ran before start"
    r = oci.cli("start", cid)
    assert r.returncode == 0, r.stderr
    assert oci.state(cid)["status"] == "running"
    deadline = time.monotonic() + 10
    while not (b / "rootfs" / "ran").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (b / "rootfs" / "ran").read_text() == "ran\n"
    again = oci.cli("start", cid)
    assert again.returncode == 1 and "not in created state" in again.stderr
    refused = oci.cli("delete", cid)
    assert refused.returncode == 1 and "not stopped" in refused.stderr
    assert oci.cli("kill", cid, "TERM").returncode == 0
    assert oci.wait_status(cid, "stopped")["status"] == "stopped"
    late = oci.cli("kill", cid, "KILL")
    assert late.returncode == 1 and "not running" in late.stderr
    r = oci.cli("delete", cid)
    assert r.returncode == 0, r.stderr
    gone = oci.cli("state", cid)
    assert gone.returncode == 1 and "does not exist" in gone.stderr


def test_run_exits_with_the_process_status(oci: Oci) -> None:
    b = oci.bundle("sh", "-c", "echo out; echo err >&2; exit 7")
    r = oci.cli("run", "--bundle", str(b), oci.new_id())
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")
    cid = oci.new_id()
    with open(oci.tmp / "run.out", "w") as out:
        run = subprocess.Popen([RUNTIME, "--root", str(oci.root), "run", "-b",
                                str(oci.bundle("sleep", "30")), cid], stdout=out, stderr=out)
    try:
        oci.wait_status(cid, "running")
        assert oci.cli("kill", cid, "KILL").returncode == 0
        assert run.wait(10) == 137  # 128 + SIGKILL, as a shell reports it
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    missing = oci.cli("run", "-b", str(oci.bundle("no-such-command")), oci.new_id())
    assert missing.returncode == 1 and "no-such-command" in missing.stderr
    assert oci.cli("list", "-q").stdout == ""  # run removes what it made


def test_pid_file_holds_the_containers_pid(oci: Oci, tmp_path: Path) -> None:
    b = oci.bundle("sleep", "30")
    cid = oci.new_id()
    pid_file = tmp_path / "pid"
    r = oci.cli("create", "-b", str(b), "--pid-file", str(pid_file), cid)
    assert r.returncode == 0, r.stderr
    assert int(pid_file.read_text()) == oci.state(cid)["pid"]
    assert oci.cli("delete", "--force", cid).returncode == 0


def test_console_socket_receives_the_pty_master(oci: Oci, tmp_path: Path) -> None:
    def terminal(cfg: dict[str, Any]) -> None:
        cfg["process"]["terminal"] = True

    b = oci.bundle("sh", "-c", "tty; echo size $(stty size)", edit=terminal)
    path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got: list[int] = []

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            fds = array.array("i")
            _, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:fds.itemsize])
            got.extend(fds)

    t = threading.Thread(target=accept)
    t.start()
    cid = oci.new_id()
    r = oci.cli("create", "-b", str(b), "--console-socket", path, cid)
    t.join(10)
    server.close()
    assert r.returncode == 0, r.stderr
    assert len(got) == 1
    master = got[0]
    assert oci.cli("start", cid).returncode == 0
    out = b""
    deadline = time.monotonic() + 10
    while b"size" not in out or not out.endswith(b"\n"):
        if time.monotonic() > deadline:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert out.startswith(b"/dev/pts/"), out
    refused = oci.cli("create", "-b", str(b), oci.new_id())
    assert refused.returncode == 1 and "--console-socket" in refused.stderr


def test_hooks_run_in_order_with_the_state_on_stdin(oci: Oci) -> None:
    b = oci.bundle("sleep", "30")
    root = b / "rootfs"
    log = "/hooks.log"  # the container's view; the host's is rootfs/hooks.log

    def host(name: str) -> dict[str, Any]:  # in the runtime's namespaces
        return {"path": "/bin/sh",
                "args": ["sh", "-c", f"echo {name} >> {root}{log}; cat > {root}/{name}.state"]}

    cfg = json.loads((b / "config.json").read_text())
    cfg["hooks"] = {
        "prestart": [host("prestart")],
        "createRuntime": [host("createRuntime")],
        # the host's program (static busybox), run in the container's namespaces
        "createContainer": [{"path": "/bin/busybox", "args": [
            "sh", "-c", f"echo createContainer $(hostname) >> {log}"]}],
        # the container's own program
        "startContainer": [{"path": "/bin/sh", "args": [
            "sh", "-c", f"echo startContainer >> {log}"]}],
        "poststart": [host("poststart")],
        "poststop": [host("poststop")],
    }
    cfg["hostname"] = "inside"
    cfg["annotations"] = {"org.example": "yes"}
    (b / "config.json").write_text(json.dumps(cfg))
    cid = oci.new_id()
    assert oci.cli("create", "-b", str(b), cid).returncode == 0
    pid = oci.state(cid)["pid"]
    assert oci.cli("start", cid).returncode == 0
    assert oci.cli("kill", cid, "KILL").returncode == 0
    oci.wait_status(cid, "stopped")
    assert oci.cli("delete", cid).returncode == 0
    lines = (b / "rootfs" / "hooks.log").read_text().split("\n")
    assert lines == ["prestart", "createRuntime", "createContainer inside", "startContainer",
                     "poststart", "poststop", ""]
    for name, status in (("prestart", "created"), ("poststart", "running"),
                         ("poststop", "stopped")):
        state = json.loads((b / "rootfs" / f"{name}.state").read_text())
        assert (state["id"], state["status"], state["bundle"]) == (cid, status, str(b))
        assert state["annotations"] == {"org.example": "yes"}
        if name != "poststop":
            assert state["pid"] == pid


def test_a_failing_prestart_hook_fails_create_and_leaves_nothing(oci: Oci) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]}

    b = oci.bundle("true", edit=edit)
    cid = oci.new_id()
    r = oci.cli("create", "-b", str(b), cid)
    assert r.returncode == 1 and "prestart hook /bin/sh exited with status 4" in r.stderr
    assert oci.cli("state", cid).returncode == 1


def test_exec_list_and_ps(oci: Oci) -> None:
    b = oci.bundle("sleep", "30")
    cid = oci.new_id()
    assert oci.cli("run", "-d", "-b", str(b), cid).returncode == 0
    r = oci.cli("exec", cid, "sh", "-c", "echo in $(hostname); exit 5")
    assert (r.returncode, r.stdout) == (5, "in runc\n"), r.stderr
    listed = json.loads(oci.cli("list", "--format", "json").stdout)
    assert [(s["id"], s["status"]) for s in listed] == [(cid, "running")]
    table = oci.cli("list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"] and cid in table[1]
    pids = json.loads(oci.cli("ps", "--format", "json", cid).stdout)
    assert oci.state(cid)["pid"] in pids
    assert oci.cli("kill", "--all", cid, "KILL").returncode == 0
    oci.wait_status(cid, "stopped")
    assert oci.cli("delete", cid).returncode == 0


def test_unsupported_is_refused_clearly(oci: Oci) -> None:
    r = oci.cli("--systemd-cgroup", "state", "x")
    assert r.returncode == 1 and "systemd" in r.stderr

    def slice_path(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = "system.slice:pycompose:x"

    r = oci.cli("create", "-b", str(oci.bundle("true", edit=slice_path)), oci.new_id())
    assert r.returncode == 1 and "linux.cgroupsPath" in r.stderr and "systemd" in r.stderr
    r = oci.cli("state", "../etc")
    assert r.returncode == 1 and "invalid container id" in r.stderr


def test_no_mount_namespace_is_a_chroot_that_mounts_nothing(oci: Oci) -> None:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["linux"]["namespaces"] = [{"type": "pid"}, {"type": "uts"}]

    b = oci.bundle("sh", "-c", "cat /etc/os-release; ls /proc | wc -l", edit=edit)
    r = oci.cli("run", "-b", str(b), oci.new_id())
    assert r.returncode == 0, r.stderr
    assert "pycompose test busybox" in r.stdout  # the bundle's root, not the host's
    assert r.stdout.splitlines()[-1].strip() == "0"  # and no /proc mounted for it
    assert str(b) not in Path("/proc/self/mountinfo").read_text()


def test_a_mount_namespace_joined_by_path(oci: Oci) -> None:
    holder = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sleep", "30"])
    try:
        deadline = time.monotonic() + 5
        ns = f"/proc/{holder.pid}/ns/mnt"
        while os.stat(ns).st_ino == os.stat("/proc/self/ns/mnt").st_ino:
            assert time.monotonic() < deadline
            time.sleep(0.01)

        def edit(cfg: dict[str, Any]) -> None:
            cfg["linux"]["namespaces"] = [{"type": "pid"}, {"type": "mount", "path": ns}]

        cid = oci.new_id()
        r = oci.cli("create", "-b", str(oci.bundle("sleep", "30", edit=edit)), cid)
        assert r.returncode == 0, r.stderr
        pid = oci.state(cid)["pid"]
        assert os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.stat(ns).st_ino
        assert oci.cli("delete", "--force", cid).returncode == 0
    finally:
        holder.kill()
        holder.wait()


def test_run_passes_signals_on_to_the_process(oci: Oci) -> None:
    b = oci.bundle("sh", "-c", "trap 'echo got TERM; exit 9' TERM; "
                   "while true; do sleep 0.05; done")
    cid = oci.new_id()
    with open(oci.tmp / "run.out", "w") as out:
        run = subprocess.Popen([RUNTIME, "--root", str(oci.root), "run", "-b", str(b), cid],
                               stdout=out, stderr=out)
    try:
        oci.wait_status(cid, "running")
        run.send_signal(15)
        assert run.wait(10) == 9
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert (oci.tmp / "run.out").read_text() == "got TERM\n"

"""pty, exec, limits, hardening, volumes, cp and commit, seen from the CLI."""

from __future__ import annotations

import json
import os
import pty
import select
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pctest.cli import PYCOMPOSE

if TYPE_CHECKING:
    from conftest import Engine


def _read_until(fd: int, want: bytes, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while want not in out and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    return out


def _wait(pid: int, timeout: float = 10) -> int:
    """The exit code of ``pid``; kills it (and fails) if it hangs."""
    import signal

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the client hung")


def _spawn_in_pty(args: list[str], rows: int = 30, cols: int = 100) -> tuple[int, int]:
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.execv(PYCOMPOSE, [PYCOMPOSE, *args])
    return pid, fd


def test_it_gives_a_terminal_its_size_and_the_exit_code(engine: Engine) -> None:
    pid, fd = _spawn_in_pty(["container", "run", "-it", "--rm", "busybox", "sh"])
    try:
        os.write(fd, b"tty; stty size; echo $((6*7))\n")
        out = _read_until(fd, b"42")
        assert b"/dev/pts/0" in out and b"30 100" in out and b"42" in out, out
        os.write(fd, b"exit 5\n")
        _read_until(fd, b"\0", timeout=2)
    finally:
        code = _wait(pid)
        os.close(fd)
    assert code == 5
    assert engine.ok("ls", "-aq") == ""


def test_ctrl_p_ctrl_q_detaches_and_leaves_it_running(engine: Engine) -> None:
    pid, fd = _spawn_in_pty(["container", "run", "-it", "--name", "shell", "busybox", "sh"])
    try:
        os.write(fd, b"echo $((40+2))\n")
        assert b"42" in _read_until(fd, b"42")  # the shell's answer: the client is raw
        os.write(fd, b"\x10\x11")
    finally:
        code = _wait(pid)
        os.close(fd)
    assert code == 0
    assert engine.ok("inspect", "-f", "{{.State.Status}}", "shell").strip() == "running"
    assert engine.ok("exec", "shell", "echo", "still here") == "still here\n"


def test_exec_joins_the_container_with_its_options(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "host", "busybox", "sleep", "60")
    r = engine("exec", "-u", "app", "-w", "/tmp", "-e", "X=y", "host", "sh", "-c",
               "echo $(id -u) $(pwd) $X $$; ls /proc | grep -c '^[0-9]'; exit 4")
    assert r.returncode == 4
    uid, cwd, x, pid, nprocs = r.stdout.split()
    assert (uid, cwd, x) == ("1000", "/tmp", "y")
    assert int(pid) > 1 and int(nprocs) <= 5
    assert "sleep 60" in engine.ok("top", "host")
    r = engine("exec", "host", "/nope")
    assert r.returncode in (126, 127) and "/nope" in r.stderr


def test_memory_limit_kills_at_the_limit_and_says_oomkilled(engine: Engine) -> None:
    r = engine("run", "--name", "hog", "-m", "32m", "--memory-swap", "32m", "busybox",
               "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived")
    assert r.returncode == 137, r.stderr
    assert "survived" not in r.stdout
    assert engine.ok("inspect", "-f", "{{.State.OOMKilled}}", "hog").strip() == "true"


def test_pids_limit_refuses_forks(engine: Engine) -> None:
    script = "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; echo forked all"
    r = engine("run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c", script)
    assert r.returncode != 0 and "can't fork" in r.stderr
    assert "forked all" not in r.stdout
    r = engine("run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c", script)
    assert r.stdout == "forked all\n"


def test_default_hardening(engine: Engine) -> None:
    out = engine.ok("run", "--rm", "busybox", "sh", "-c",
                    "grep CapEff /proc/self/status; "
                    "mount -t tmpfs none /mnt 2>/dev/null && echo mounted; "
                    "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote; "
                    "cat /proc/kcore 2>/dev/null | head -c 1 | wc -c")
    lines = out.split("\n")
    assert lines[0].split() == ["CapEff:", "00000000a80425fb"]  # docker's 14
    assert "mounted" not in out and "wrote" not in out
    assert lines[1].strip() == "0"
    out = engine.ok("run", "--rm", "--cap-drop", "ALL", "--cap-add", "CHOWN", "busybox",
                    "grep", "CapEff", "/proc/self/status")
    assert out.split() == ["CapEff:", "0000000000000001"]
    r = engine("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert r.returncode != 0 and "Read-only" in r.stderr


def test_named_volume_copy_up_and_sharing(engine: Engine) -> None:
    assert engine.cli("volume", "create", "www").stdout == "www\n"
    out = engine.ok("run", "--rm", "-v", "www:/var/www", "busybox", "sh", "-c",
                    "cat /var/www/index.html; echo more > /var/www/b")
    assert out == "hello from busybox\n"
    out = engine.ok("run", "--rm", "-v", "www:/data:ro", "busybox", "sh", "-c",
                    "cat /data/b; touch /data/c 2>/dev/null || echo ro")
    assert out == "more\nro\n"
    vols = engine.cli("volume", "ls", "-q").stdout.split()
    assert vols == ["www"]
    assert engine.cli("volume", "rm", "www").returncode == 0


def test_anonymous_volumes_and_bind_mounts(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("from host\n")
    engine.ok("run", "--name", "anon", "-v", "/scratch", "-v", f"{src}:/h",
              "busybox", "sh", "-c", "cat /h/f; echo x > /scratch/y; echo c > /h/new")
    assert (src / "new").read_text() == "c\n"
    info = json.loads(engine.ok("inspect", "anon"))[0]
    anon = next(m for m in info["Mounts"] if m["Destination"] == "/scratch")
    assert Path(anon["Source"], "y").read_text() == "x\n"
    engine.ok("rm", "-v", "anon")
    assert engine.cli("volume", "ls", "-q").stdout == ""
    assert (src / "f").exists()  # bind sources are never deleted


def test_cp_both_ways_and_commit(engine: Engine, tmp_path: Path) -> None:
    engine.ok("run", "-d", "--name", "box", "busybox", "sleep", "60")
    f = tmp_path / "in.txt"
    f.write_text("copied in\n")
    engine.ok("cp", str(f), "box:/tmp/")
    assert engine.ok("exec", "box", "cat", "/tmp/in.txt") == "copied in\n"
    engine.ok("exec", "box", "sh", "-c", "echo made inside > /root/out.txt")
    engine.ok("cp", "box:/root/out.txt", str(tmp_path))
    assert (tmp_path / "out.txt").read_text() == "made inside\n"
    engine.ok("stop", "-t", "0", "box")
    engine.ok("cp", "box:/etc/passwd", str(tmp_path / "passwd"))
    assert "app:x:1000" in (tmp_path / "passwd").read_text()
    image = engine.ok("commit", "-m", "snap", "box", "snap:1").strip()
    assert image.startswith("sha256:")
    assert engine.ok("run", "--rm", "snap:1", "cat", "/root/out.txt", "/tmp/in.txt") == \
        "made inside\ncopied in\n"


@pytest.mark.parametrize("flag", ["--init"])
def test_init_reaps_and_is_pid_1(engine: Engine, flag: str) -> None:
    out = engine.ok("run", "--rm", flag, "busybox", "sh", "-c", "cat /proc/1/cmdline; echo")
    assert "sh" not in out.split("\0")[0]


def test_cp_never_follows_a_containers_symlink_to_the_host(engine: Engine,
                                                           tmp_path: Path) -> None:
    assert Path("/etc/debian_version").exists()
    engine.ok("run", "-d", "--name", "sly", "busybox", "sh", "-c",
              "ln -s /etc/debian_version /root/leak; ln -s /etc /root/etclink; sleep 60")
    time.sleep(0.3)
    engine.ok("cp", "sly:/root/leak", str(tmp_path / "leak"))
    assert (tmp_path / "leak").is_symlink()  # the link itself, not the host's file
    r = engine("cp", "sly:/root/etclink/debian_version", str(tmp_path / "x"))
    assert r.returncode != 0 and not (tmp_path / "x").exists()
    probe = tmp_path / f"pycompose-cp-probe-{os.getpid()}"
    probe.write_text("p")
    engine.ok("cp", str(probe), "sly:/root/etclink/")
    assert not Path("/etc", probe.name).exists()
    assert engine.ok("exec", "sly", "cat", f"/etc/{probe.name}") == "p"

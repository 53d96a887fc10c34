"""Container logs as a user sees them: they survive a supervisor (or log keeper) killed
with -9, attached runs are logged too, drivers and rotation keep the disk bounded, and
``logs`` reads across rotated and compressed files (--tail, --since, --until, -t, -f)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pctest.cli import PYCOMPOSE

if TYPE_CHECKING:
    from conftest import Engine

#: prints "tick N" every 0.1 s; a child writes once after 3 s and marks that it lived
TICKER = ('(sleep 3; echo child-wrote; touch /child-lived) & '
          'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done')


def ticks(out: str) -> list[int]:
    return [int(line.split()[1]) for line in out.splitlines() if line.startswith("tick ")]


def keeper_pid(root: Path) -> int | None:
    try:
        pid = int((root / "logs.lock").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def wait_until(cond: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_logs_survive_a_supervisor_killed_with_minus_9(engine: Engine) -> None:
    """The guarantee: the keeper, not the supervisor, holds the pipes, so while the
    supervisor is gone nothing is lost and no writer sees EPIPE or SIGPIPE."""
    engine.ok("run", "-d", "--name", "tick", "busybox", "sh", "-c", TICKER)
    engine.ok("run", "-dt", "--name", "ttytick", "busybox", "sh", "-c", TICKER)
    time.sleep(1)
    sup = engine.supervisor_pid()
    assert sup
    os.kill(sup, signal.SIGKILL)
    time.sleep(3)  # no supervisor at all while the child writes and PID 1 ticks on
    assert engine.supervisor_pid() is None
    engine.ok("ls")  # the next command starts a supervisor, which adopts the container
    assert engine.supervisor_pid() not in (None, sup)
    time.sleep(1)
    out = engine.ok("logs", "tick")
    n = ticks(out)
    assert n == list(range(len(n))), "a tick is missing or repeated"
    assert len(n) >= 40  # before (10), during (30) and after (10) the supervisor's absence
    assert "child-wrote" in out
    assert engine.ok("inspect", "-f", "{{.State.Status}}", "tick").strip() == "running"
    r = engine("exec", "tick", "ls", "/child-lived")
    assert r.returncode == 0, "the child died at its write (SIGPIPE)"
    engine.ok("stop", "-t", "0", "tick")
    assert ticks(engine.ok("logs", "tick"))[-1] >= n[-1]
    # a terminal's master is held by the keeper too: no hang-up reached the container
    assert engine.ok("inspect", "-f", "{{.State.Status}}", "ttytick").strip() == "running"
    n = ticks(engine.ok("logs", "ttytick").replace("\r", ""))
    assert n == list(range(len(n))) and len(n) >= 40


def test_a_killed_log_keeper_is_replaced_and_loses_nothing(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "tick", "busybox", "sh", "-c", TICKER)
    time.sleep(0.5)
    old = keeper_pid(engine.root)
    assert old
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: keeper_pid(engine.root) not in (None, old))
    time.sleep(3)
    out = engine.ok("logs", "tick")
    n = ticks(out)
    assert n == list(range(len(n))) and len(n) >= 30
    assert "child-wrote" in out
    assert engine("exec", "tick", "ls", "/child-lived").returncode == 0


def test_an_attached_run_is_in_logs_too(engine: Engine) -> None:
    r = engine("run", "--name", "att", "busybox", "sh", "-c",
               "echo out; echo err >&2; echo more; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\nmore\n", "err\n")
    r = engine("logs", "att")
    assert (r.stdout, r.stderr) == ("out\nmore\n", "err\n")


def test_an_attached_terminal_is_in_logs_too(engine: Engine) -> None:
    master, slave = os.openpty()
    p = subprocess.Popen([PYCOMPOSE, "container", "run", "-t", "--name", "tty", "busybox",
                          "sh", "-c", "tty; echo seen"],
                         stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    assert p.wait(30) == 0
    os.close(master)
    assert b"/dev/pts/0" in got and b"seen" in got
    assert engine.ok("logs", "tty").replace("\r", "") == "/dev/pts/0\nseen\n"


def test_rotation_bounds_the_disk_and_logs_reads_across_files(engine: Engine) -> None:
    cid = engine.ok("run", "-d", "--name", "chatty", "--log-opt", "max-size=10k",
                    "--log-opt", "max-file=3", "busybox", "sh", "-c",
                    "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done").strip()
    assert engine.ok("wait", "chatty").strip() == "0"
    info = json.loads(engine.ok("inspect", "chatty"))[0]
    assert info["HostConfig"]["LogConfig"] == {
        "Type": "json-file", "Config": {"max-size": "10k", "max-file": "3"}}
    cdir = engine.root / "containers" / cid
    assert info["LogPath"] == str(cdir / f"{cid}-json.log")
    logs = sorted(p.name for p in cdir.iterdir() if "json.log" in p.name)
    assert logs == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    assert all((cdir / n).stat().st_size < 10_000 + 200 for n in logs)
    lines = engine.ok("logs", "chatty").splitlines()
    numbers = [int(x.split()[1]) for x in lines]
    assert numbers == list(range(numbers[0], 3000)) and 200 < len(numbers) < 3000
    assert engine.ok("logs", "--tail", "3", "chatty").split("\n") == [
        "line 2997", "line 2998", "line 2999", ""]


def test_compressed_rotation_and_the_local_driver(engine: Engine) -> None:
    cid = engine.ok("run", "-d", "--name", "gz", "--log-opt", "max-size=4k",
                    "--log-opt", "max-file=4", "--log-opt", "compress=true", "busybox", "sh",
                    "-c", "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done").strip()
    assert engine.ok("wait", "gz").strip() == "0"
    cdir = engine.root / "containers" / cid
    assert sorted(p.name for p in cdir.glob("*.gz")) == [
        f"{cid}-json.log.{i}.gz" for i in (1, 2, 3)]
    numbers = [int(x.split()[1]) for x in engine.ok("logs", "gz").splitlines()]
    assert numbers == list(range(numbers[0], 2000))
    # local: docker's binary format and defaults, no LogPath shown
    cid = engine.ok("run", "-d", "--name", "loc", "--log-driver", "local", "busybox", "sh",
                    "-c", "echo one; echo two >&2").strip()
    engine.ok("wait", "loc")
    info = json.loads(engine.ok("inspect", "loc"))[0]
    assert info["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {}}
    assert info["LogPath"] == ""
    assert (engine.root / "containers" / cid / "local-logs" / "container.log").stat().st_size
    r = engine("logs", "loc")
    assert (r.stdout, r.stderr) == ("one\n", "two\n")


def test_follow_goes_on_across_rotations(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "slow", "--log-opt", "max-size=2k", "--log-opt",
              "max-file=2", "busybox", "sh", "-c",
              "sleep 1; i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); "
              "[ $((i % 20)) = 0 ] && sleep 0.05; done")
    out = engine.ok("logs", "-f", "slow", timeout=60)
    numbers = [int(x.split()[1]) for x in out.splitlines()]
    assert numbers == list(range(400))  # ~10 rotations, none lost to the follower


def test_since_until_and_timestamps(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "clock", "busybox", "sh", "-c",
              "echo early; sleep 1.5; echo late")
    engine.ok("wait", "clock")
    stamped = engine.ok("logs", "-t", "clock").splitlines()
    (t_early, early), (t_late, late) = (line.split(" ", 1) for line in stamped)
    assert (early, late) == ("early", "late") and t_early.endswith("Z")
    assert engine.ok("logs", "--since", t_late, "clock") == "late\n"
    assert engine.ok("logs", "--until", t_early, "clock") == "early\n"
    assert engine.ok("logs", "--since", "1h", "clock") == "early\nlate\n"
    assert engine.ok("logs", "--since", "2999-01-01T00:00:00Z", "clock") == ""
    r = engine("logs", "--since", "yesterday", "clock")
    assert r.returncode != 0 and "yesterday" in r.stderr


def test_the_none_driver_says_dockers_words(engine: Engine) -> None:
    r = engine("run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n")  # attached: still shown
    engine.ok("run", "-d", "--name", "quiet2", "--log-driver", "none", "busybox", "echo", "x")
    engine.ok("wait", "quiet2")
    for name in ("quiet", "quiet2"):
        r = engine("logs", name)
        assert r.returncode == 1
        assert "configured logging driver does not support reading" in r.stderr
    assert engine.ok("inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "quiet").strip() == \
        "none"


@pytest.mark.parametrize(("flags", "words"), [
    (["--log-driver", "syslog"], "not supported"),
    (["--log-opt", "max-size=lots"], "invalid size"),
    (["--log-opt", "nonsense=1"], "unknown log opt 'nonsense'"),
])
def test_bad_log_flags_are_refused_at_create(engine: Engine, flags: list[str],
                                             words: str) -> None:
    r = engine("run", "--rm", *flags, "busybox", "true")
    assert r.returncode != 0 and words in r.stderr
    assert engine.ok("ls", "-aq") == ""


def test_an_interactive_session_is_logged_before_and_after_a_detach(engine: Engine) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.execv(PYCOMPOSE, [PYCOMPOSE, "container", "run", "-it", "--name", "shell",
                             "busybox", "sh"])
    try:
        os.write(fd, b"echo $((40+2))\n")
        got = b""
        deadline = time.monotonic() + 10
        while b"42" not in got and time.monotonic() < deadline:
            got += os.read(fd, 4096)
        os.write(fd, b"\x10\x11")  # ctrl-p ctrl-q
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        os.close(fd)
    # after the detach the keeper goes on reading the terminal: nothing blocks, all logged
    engine.ok("exec", "shell", "sh", "-c", "echo after-detach > /proc/1/fd/1")
    wait_until(lambda: "after-detach" in engine.ok("logs", "shell"))
    logs = engine.ok("logs", "shell")
    assert "echo $((40+2))" in logs and "42" in logs


def test_follow_ends_when_the_container_dies_while_no_supervisor_holds_it(
        engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "lonely", "busybox", "sh", "-c", TICKER)
    pid = int(engine.ok("inspect", "-f", "{{.State.Pid}}", "lonely"))
    follower = subprocess.Popen([PYCOMPOSE, "container", "logs", "-f", "lonely"],
                                stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    sup = engine.supervisor_pid()
    assert sup
    os.kill(sup, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)  # the record still says running; nobody watches it
    out, _ = follower.communicate(timeout=20)  # the follower asks for the truth and ends
    assert follower.returncode == 0 and ticks(out)[:3] == [0, 1, 2]
    assert engine.ok("inspect", "-f", "{{.State.Status}}", "lonely").strip() == "exited"

"""Detached containers: logs, stop with its timeout, kill, restart policies, wait, and
a supervisor killed with -9 whose successor repairs the state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from pctest.cli import PYCOMPOSE

if TYPE_CHECKING:
    from conftest import Engine

TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"


def test_detached_logs_in_json_file_with_tail_and_timestamps(engine: Engine) -> None:
    cid = engine.ok("run", "-d", "--name", "talk", "busybox", "sh", "-c",
                    "echo one; echo two >&2; echo three").strip()
    assert engine.ok("wait", "talk").strip() == "0"
    log_path = engine.root / "containers" / cid / f"{cid}-json.log"
    entries = [json.loads(x) for x in log_path.read_text().splitlines()]
    assert {(e["log"], e["stream"]) for e in entries} == {
        ("one\n", "stdout"), ("two\n", "stderr"), ("three\n", "stdout")}
    r = engine("logs", "talk")
    assert "one\n" in r.stdout and "three\n" in r.stdout and r.stderr == "two\n"
    r = engine("logs", "--tail", "1", "-t", "talk")  # the last line: either stream
    stamp, text = (r.stdout + r.stderr).split(" ", 1)
    assert stamp.endswith("Z") and text in ("three\n", "two\n")


def test_a_detached_terminal_is_logged_too(engine: Engine) -> None:
    engine.ok("run", "-dt", "--name", "dt", "busybox", "sh", "-c", "tty; echo done")
    assert engine.ok("wait", "dt").strip() == "0"
    assert engine.ok("logs", "dt").replace("\r", "") == "/dev/pts/0\ndone\n"


def test_logs_follow_ends_when_the_container_does(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "f", "busybox", "sh", "-c",
              "for i in 1 2 3; do echo l$i; sleep 0.2; done")
    out = engine.ok("logs", "-f", "f", timeout=15)
    assert out.split() == ["l1", "l2", "l3"]


def test_run_d_survives_the_cli_and_stop_waits_then_kills(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "stubborn", "busybox", "sh", "-c",
              f"trap '' TERM; {TICKER}")
    time.sleep(0.3)
    assert engine.ok("inspect", "-f", "{{.State.Status}}", "stubborn").strip() == "running"
    t0 = time.monotonic()
    engine.ok("stop", "-t", "1", "stubborn")
    took = time.monotonic() - t0
    assert 0.9 < took < 5, took
    assert engine.ok("inspect", "-f", "{{.State.ExitCode}}", "stubborn").strip() == "137"


def test_stop_signal_reaches_a_handler(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "polite", "--stop-signal", "USR1", "busybox", "sh",
              "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done")
    time.sleep(0.3)
    t0 = time.monotonic()
    engine.ok("stop", "polite")
    assert time.monotonic() - t0 < 5
    assert engine.ok("inspect", "-f", "{{.State.ExitCode}}", "polite").strip() == "42"


def test_kill_with_a_signal_and_start_again(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "k", "busybox", "sh", "-c",
              "trap 'exit 7' HUP; while true; do sleep 0.1; done")
    time.sleep(0.3)
    engine.ok("kill", "-s", "HUP", "k")
    assert engine.ok("wait", "k").strip() == "7"
    engine.ok("start", "k")
    engine.wait_for("k", "running")
    engine.ok("kill", "k")
    assert engine.ok("wait", "k").strip() == "137"
    r = engine("rm", "k")
    assert r.returncode == 0
    assert engine.ok("ls", "-aq") == ""


def test_rm_of_a_running_container_needs_force(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "busy", "busybox", "sleep", "30")
    r = engine("rm", "busy")
    assert r.returncode == 1 and "Stop the container" in r.stderr
    engine.ok("rm", "-f", "busy")
    assert engine.ok("ls", "-aq") == ""


def test_on_failure_restart_policy_counts_retries(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox",
              "sh", "-c", "echo try; exit 1")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = json.loads(engine.ok("inspect", "flaky"))[0]
        if info["RestartCount"] == 2 and info["State"]["Status"] == "exited":
            break
        time.sleep(0.1)
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 1
    assert engine.ok("logs", "flaky").count("try") == 3


def test_attached_run_forwards_sigterm(engine: Engine) -> None:
    p = subprocess.Popen([PYCOMPOSE, "container", "run", "--name", "fwd", "busybox", "sh",
                          "-c", "trap 'echo got; exit 9' TERM; while true; do sleep 0.1; done"],
                         stdout=subprocess.PIPE, text=True)
    engine.wait_for("fwd", "running")
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    assert (p.returncode, out) == (9, "got\n")


def test_a_killed_supervisor_is_repaired_by_the_next_command(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "survivor", "busybox", "sleep", "60")
    engine.ok("run", "-d", "--name", "victim", "busybox", "sleep", "60")
    victim_pid = int(engine.ok("inspect", "-f", "{{.State.Pid}}", "victim"))
    sup = engine.supervisor_pid()
    assert sup
    os.kill(sup, signal.SIGKILL)
    os.kill(victim_pid, signal.SIGKILL)  # dies while nobody holds it
    time.sleep(0.2)
    out = engine.ok("ls", "-a", "--format", "{{.Names}} {{.State}}")
    assert sorted(out.splitlines()) == ["survivor running", "victim exited"]
    assert engine.supervisor_pid() not in (None, sup)
    info = json.loads(engine.ok("inspect", "victim"))[0]["State"]
    assert info["ExitCode"] == 255 and "unknown" in info["Error"]
    engine.ok("stop", "-t", "0", "survivor")
    assert engine.ok("inspect", "-f", "{{.State.ExitCode}}", "survivor").strip() == "137"


def test_healthcheck_turns_healthy_then_unhealthy(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "doc", "--health-cmd", "test -e /tmp/ok",
              "--health-interval", "200ms", "--health-retries", "2", "busybox", "sh", "-c",
              "touch /tmp/ok; sleep 1; rm /tmp/ok; sleep 30")

    def health() -> str:
        return engine.ok("inspect", "-f", "{{.State.Health.Status}}", "doc").strip()
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline and "unhealthy" not in seen:
        h = health()
        if not seen or seen[-1] != h:
            seen.append(h)
        time.sleep(0.05)
    assert seen[-2:] == ["healthy", "unhealthy"], seen
    assert "(unhealthy)" in engine.ok("ls")


def test_a_killed_cli_leaves_the_container_running_and_rm_still_removes(
        engine: Engine) -> None:
    p = subprocess.Popen([PYCOMPOSE, "container", "run", "--rm", "--name", "orphan",
                          "busybox", "sh", "-c", "sleep 1; echo done"],
                         stdout=subprocess.DEVNULL)
    engine.wait_for("orphan", "running")
    p.kill()
    p.wait()
    assert engine.ok("inspect", "-f", "{{.State.Status}}", "orphan").strip() == "running"
    deadline = time.monotonic() + 10
    while engine.ok("ls", "-aq") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.ok("ls", "-aq") == ""  # exited, and --rm removed it


def test_stop_and_rm_at_once_on_one_container(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "contested", "busybox", "sleep", "60")
    procs = [subprocess.Popen([PYCOMPOSE, "container", *args, "contested"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in (["stop", "-t", "1"], ["rm", "-f"], ["kill"], ["stop", "-t", "0"])]
    for p in procs:
        p.wait(30)
        assert "internal error" not in (p.stderr.read() if p.stderr else "")
    assert engine.ok("ls", "-aq") == ""
    r = engine("inspect", "contested")
    assert r.returncode == 1 and "No such container" in r.stderr


def test_restart_always_comes_back_after_a_supervisor_crash(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "phoenix", "--restart", "always", "busybox",
              "sleep", "60")
    pid = int(engine.ok("inspect", "-f", "{{.State.Pid}}", "phoenix"))
    sup = engine.supervisor_pid()
    assert sup
    os.kill(sup, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    engine.ok("ls")  # the next command starts a supervisor, which repairs and restarts
    engine.wait_for("phoenix", "running")
    assert int(engine.ok("inspect", "-f", "{{.State.Pid}}", "phoenix")) != pid


def test_a_refusal_crosses_the_socket_as_its_kind(engine: Engine) -> None:
    """The supervisor's NotFound reaches the client as NotFound, so a caller can
    ``suppress(NotFound)`` a container that vanished behind its back (review D1)."""
    import contextlib

    from pycompose.engine import client
    from pycompose.engine.errors import NotFound

    with pytest.raises(NotFound, match="No such container"):
        client.request(engine.root, {"op": "rm", "id": "0123456789ab", "force": True})
    with contextlib.suppress(NotFound):
        client.request(engine.root, {"op": "stop", "id": "0123456789ab"})


def test_gc_keeps_the_layers_of_a_running_container_whatever_its_image_says(
        engine: Engine) -> None:
    """An image removed with -f while a container runs on it, whose config blob is then
    damaged: gc must keep the container's lowerdirs (review D2: in doubt, keep)."""
    import glob

    engine.cli("image", "tag", "busybox:latest", "gcvictim:1")
    cid = engine.ok("run", "-d", "gcvictim:1", "sleep", "60").strip()
    lower = json.loads(engine.ok("inspect", "-f", "{{json .GraphDriver.Data.LowerDir}}", cid))
    image_id = engine.ok("inspect", "-f", "{{.Image}}", cid).strip()
    assert engine.cli("image", "rm", "-f", "gcvictim:1").returncode == 0
    assert engine.cli("image", "rm", "-f", "busybox:latest").returncode == 0
    for blob in glob.glob(str(engine.root / "images" / "blobs" / "*" / image_id.split(":")[1])) \
            + glob.glob(str(engine.root / "images" / "blobs" / image_id.split(":")[1])):
        with open(blob, "w") as f:
            f.write("{ damaged")
    assert engine.cli("image", "prune", "-a", "-f").returncode == 0
    for d in lower.split(":"):
        assert os.path.isdir(d), f"gc removed {d}, a lowerdir of a running container"
    assert engine.ok("exec", cid, "ls", "/bin/sh").strip() == "/bin/sh"
    engine.ok("rm", "-f", cid)

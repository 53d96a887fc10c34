"""Signals: a container's PID 1 and every exec'd process start with every signal at its
default disposition and none blocked, as runc gives them, whatever the caller had
(``nohup`` ignores SIGHUP; cron, CI runners and trio's threads block or ignore others).
A shell ignores for good what it was started with ignored, so without this ``trap ...
HUP`` silently never fires."""

from __future__ import annotations

import signal
import subprocess
from typing import TYPE_CHECKING

from pctest.cli import PYCOMPOSE

if TYPE_CHECKING:
    from conftest import Engine

CATCHABLE = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]


def _hostile_caller() -> None:
    """What the worst caller hands down: every signal ignored and every one blocked."""
    for s in CATCHABLE:
        try:
            signal.signal(s, signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_BLOCK, CATCHABLE)


def hostile(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYCOMPOSE, "container", *args], capture_output=True, text=True,
                          timeout=60, preexec_fn=_hostile_caller)


def _sig_fields(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())
            if k in ("SigBlk", "SigIgn")}


def test_pid1_starts_with_default_signals_under_a_hostile_caller(engine: Engine) -> None:
    assert engine.supervisor_pid() is None  # the hostile caller starts the supervisor too
    r = hostile("run", "--rm", "busybox", "grep", "^Sig", "/proc/1/status")
    assert r.returncode == 0, r.stderr
    assert _sig_fields(r.stdout) == {"SigBlk": "0" * 16, "SigIgn": "0" * 16}, r.stdout
    sup = engine.supervisor_pid()
    assert sup is not None
    with open(f"/proc/{sup}/status") as f:
        own = _sig_fields(f.read())
    assert int(own["SigBlk"], 16) == 0
    # Python itself ignores SIGPIPE and SIGXFSZ; nothing else stays ignored
    assert int(own["SigIgn"], 16) & ~(1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1)) \
        == 0, own


def test_trap_hup_fires_when_run_under_nohup(engine: Engine) -> None:
    r = subprocess.run(["nohup", PYCOMPOSE, "container", "run", "--rm", "busybox", "sh", "-c",
                        "trap 'echo got HUP' HUP; kill -HUP $$; echo after"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["got HUP", "after"], r.stdout


def test_exec_starts_with_default_signals_under_a_hostile_caller(engine: Engine) -> None:
    assert hostile("run", "-d", "--name", "sigs", "busybox", "sleep", "60").returncode == 0
    r = hostile("exec", "sigs", "grep", "^Sig", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert _sig_fields(r.stdout) == {"SigBlk": "0" * 16, "SigIgn": "0" * 16}, r.stdout
    r = hostile("exec", "sigs", "sh", "-c", "trap 'echo trapped' TERM; kill -TERM $$")
    assert r.stdout == "trapped\n", r.stderr

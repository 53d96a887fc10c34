"""Requests that find no supervisor start one between them. A compose ``up`` of 30
services sends its creates at once; each started a supervisor of its own (an
interpreter and the engine's imports each: 3.5 s and 6.8 s of CPU for a cold ``up`` of
30 on two cores) for one of them to win the lock."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from pctest.engine import stop_supervisors

from pycompose.engine import client

CLIENT = ("import sys; from pathlib import Path; from pycompose.engine import client; "
          "print(client.request(Path(sys.argv[1]), {'op': 'ping'}).get('ok'))")



def _supervisors(root: Path) -> set[tuple[int, int]]:
    """(pid, parent pid) of the processes of ``root`` that run the supervisor now
    (also its children between their fork and exec: the caller leaves them out)."""
    mark = f"PYCOMPOSE_ROOT={root}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if b"pycompose.engine.supervisor" not in f.read():
                    continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            found.add((int(entry), ppid))
    return found


def test_many_requests_at_once_start_one_supervisor(no_leaks: Path) -> None:
    root = no_leaks
    assert not client.running(root)
    errors: list[str] = []
    answers: list[object] = []
    seen: set[tuple[int, int]] = set()
    done = threading.Event()

    def watch() -> None:  # a second one lives ~0.1 s at least: its imports
        while not done.is_set():
            seen.update(_supervisors(root))
            time.sleep(0.002)

    def one() -> None:
        try:
            answers.append(client.request(root, {"op": "ping"}).get("ok"))
        except BaseException as e:  # each is reported below
            errors.append(f"{type(e).__name__}: {e}")

    # three other processes and twelve threads of this one, all finding none
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT, str(root)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    threads = [threading.Thread(target=one) for _ in range(12)]
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        outs = [p.communicate(timeout=60) for p in procs]
        done.set()
        watcher.join()
        pids = {pid for pid, _ in seen}
        started = sorted(pid for pid, ppid in seen if ppid not in pids)  # not its forks
        assert len(started) == 1, f"supervisors started: {started}"
        assert not errors, errors
        assert answers == [True] * 12
        got = [(p.returncode, out.strip()) for p, (out, _) in zip(procs, outs, strict=True)]
        assert got == [(0, "True")] * 3, outs
        log = (root / "supervisor.log").read_text()
        assert log.count(" serving ") == 1, log
        assert "this one exits" not in log, log  # no second supervisor was started
        mode = stat.S_IMODE((root / "supervisor.start").stat().st_mode)
        assert mode == 0o600, oct(mode)
    finally:
        done.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        stop_supervisors(root)

"""Compose's ``logging:`` reaches the engine as --log-driver/--log-opt would, ``logs``
reads rotated files, and after the supervisor is killed ``ps`` never shows a dead
container as Up while ``logs`` keeps every line of a live one."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pctest.stack import Stack


def test_logging_options_rotate_and_logs_reads_across_files(stack: Stack) -> None:
    stack.write("""
services:
  chatty:
    image: busybox
    command: ["sh", "-c", "i=0; while [ $$i -lt 2000 ]; do echo line $$i; i=$$((i+1)); done;
               sleep 300"]
    logging:
      driver: json-file
      options: {max-size: 8k, max-file: "2", compress: "false"}
  quiet:
    image: busybox
    command: ["sleep", "300"]
    logging: {driver: none}
""")
    stack.ok("up", "-d")
    name = f"{stack.name}-chatty-1"
    deadline = time.monotonic() + 20
    while "line 1999" not in stack.ok("logs", "--tail", "1", "chatty"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cfg = json.loads(stack.inspect(name, "{{json .HostConfig.LogConfig}}"))
    assert cfg == {"Type": "json-file",
                   "Config": {"max-size": "8k", "max-file": "2", "compress": "false"}}
    lines = stack.ok("logs", "--no-log-prefix", "chatty").splitlines()
    numbers = [int(x.split()[1]) for x in lines]
    assert numbers == list(range(numbers[0], 2000)) and numbers[0] > 0  # rotated away
    assert stack.ok("logs", "--no-log-prefix", "--since", "1h", "chatty").splitlines() == lines
    assert stack.ok("logs", "--until", "2000-01-01T00:00:00Z", "chatty") == ""
    assert stack.inspect(f"{stack.name}-quiet-1", "{{.HostConfig.LogConfig.Type}}") == "none"
    assert "does not support reading" in stack.ok("logs", "quiet")


def test_ps_after_a_supervisor_crash_shows_the_truth(stack: Stack) -> None:
    stack.write("""
services:
  live:
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 0.1; done"]
  doomed:
    image: busybox
    command: ["sleep", "300"]
""")
    stack.ok("up", "-d")
    doomed = int(stack.inspect(f"{stack.name}-doomed-1", "{{.State.Pid}}"))
    sup = int((stack.root / "supervisor.lock").read_text().split()[0])
    os.kill(sup, signal.SIGKILL)
    os.kill(doomed, signal.SIGKILL)  # dies while nobody holds it
    time.sleep(0.5)
    rows = {r["Service"]: r for r in stack.ps("-a")}
    assert rows["doomed"]["State"] == "exited", rows["doomed"]
    assert rows["live"]["State"] == "running"
    time.sleep(0.5)
    ticks = [int(x.split()[-1]) for x in stack.ok("logs", "--no-log-prefix", "live").splitlines()]
    assert ticks == list(range(len(ticks))) and len(ticks) >= 8

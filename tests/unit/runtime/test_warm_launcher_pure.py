"""The spare launcher's entry point stays as light as the launcher itself, and ends
quietly when its caller drops it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pycompose

PYTHONPATH = str(Path(pycompose.__file__).resolve().parents[1])


def test_the_warm_entry_point_imports_nothing_heavy() -> None:
    code = ("import sys; before = set(sys.modules)\n"
            "import pycompose.engine.runtime.warm\n"
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-s", "-c", code], capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": PYTHONPATH}).stdout.split()
    heavy = {"typing", "json", "re", "subprocess", "dataclasses", "enum", "socket", "pathlib",
             "threading", "trio", "pydantic", "yaml", "pyroute2"}
    assert "pycompose.engine.runtime.child" in out
    assert not heavy & set(out)


def test_a_dropped_spare_exits_at_once_doing_nothing() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(
        [sys.executable, "-S", "-s", "-m", "pycompose.engine.runtime.warm",
         str(theirs.fileno())], pass_fds=(theirs.fileno(),), env={"PYTHONPATH": PYTHONPATH},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    theirs.close()
    ours.close()
    out, err = proc.communicate(timeout=10)
    assert (proc.returncode, out, err) == (0, b"", b"")

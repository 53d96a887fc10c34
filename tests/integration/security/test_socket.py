"""Hole 5, E2 of issue 16: the supervisor's socket lets no other local user in: it is
0600 in a 0700 state root whatever the umask, and the supervisor checks SO_PEERCRED
(root, or the state root's owner), answering anyone else with one refusal."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from pctest.users import as_nobody, cli_as_nobody, umask0

if TYPE_CHECKING:
    from conftest import Engine

CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-refused", e.errno)
    sys.exit(0)
s.send(json.dumps({"op": "hello"}).encode())
print("reply", s.recv(65536).decode())
try:
    s.send(json.dumps({"op": "ping"}).encode())
    data = s.recv(65536)
    print("reply2", data.decode() if data else "(closed)")
except OSError as e:
    print("closed", e.errno)
"""


def test_nobody_cannot_use_the_supervisor(engine: Engine) -> None:
    r = umask0("container", "run", "-d", "--name", "s", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    sock = engine.root / "supervisor.sock"
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(engine.root).st_mode) == 0o700
    r = as_nobody(CLIENT, str(sock))
    assert r.stdout.split()[:2] == ["connect-refused", "13"], r.stdout + r.stderr  # EACCES
    for args in (["container", "ls"], ["container", "run", "--rm", "busybox", "true"]):
        r = cli_as_nobody(*args)  # the real CLI: one line saying why and what to do
        assert r.returncode == 1 and r.stderr.startswith("error: permission denied: "), \
            r.stderr
        assert "is its owner's only" in r.stderr and len(r.stderr.splitlines()) == 1
    # even when someone opens the way (modes loosened by hand), the peer check holds
    os.chmod(engine.root, 0o755)
    os.chmod(sock, 0o666)
    r = as_nobody(CLIENT, str(sock))
    lines = r.stdout.splitlines()
    assert lines, r.stderr
    assert lines[0].startswith("reply ") and '"ok": false' in lines[0], r.stdout + r.stderr
    assert "permission denied: uid 65534" in lines[0]
    assert lines[1:] in (["reply2 (closed)"], ["closed 32"], ["closed 104"]), r.stdout + r.stderr
    assert engine.ok("ls", "-q") != ""  # root still is served

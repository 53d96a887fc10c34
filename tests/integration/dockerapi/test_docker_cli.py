"""The docker CLI against the service: each docker CLI this machine has (Debian's
``docker.io`` 20.10 client, and a 28.x one), with docker's own output as users read it."""

from __future__ import annotations

import os
import pty
import select
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pctest.dockerapi import DOCKER_CLIS

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.skipif(not DOCKER_CLIS, reason="no docker CLI on this machine")
clis = pytest.mark.parametrize("cli", DOCKER_CLIS, ids=lambda p: Path(p).parent.name)


@clis
def test_run_rm_echo_and_exit_codes(api: Service, cli: str) -> None:
    r = api.docker("run", "--rm", "busybox", "echo", "hi", cli=cli)
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = api.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3",
                   cli=cli)
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert api.docker_ok("run", "--rm", "-i", "busybox", "cat", cli=cli,
                         input="piped\n") == "piped\n"
    r = api.docker("run", "--rm", "busybox", "/no/such/binary", cli=cli)
    assert r.returncode == 127 and "/no/such/binary" in r.stderr
    assert api.docker_ok("ps", "-aq", cli=cli) == ""


@clis
def test_run_detached_with_a_port_ps_logs_exec(api: Service, cli: str) -> None:
    cid = api.docker_ok("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "busybox",
                        "sh", "-c", "echo starting; exec httpd -f -p 80 -h /var/www",
                        cli=cli).strip()
    assert len(cid) == 64
    port = api.docker_ok("port", "web", "80", cli=cli).strip().rsplit(":", 1)[1]
    deadline = time.monotonic() + 10
    while True:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert body == b"hello from busybox\n"
    ps = api.docker_ok("ps", cli=cli).splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "ID"]
    row = ps[1]
    assert cid[:12] in row and "busybox" in row and "Up " in row and "web" in row
    assert f"127.0.0.1:{port}->80/tcp" in row
    assert api.docker_ok("ps", "--format", "{{.Names}} {{.Status}}", cli=cli).startswith(
        "web Up")
    assert api.docker_ok("logs", "web", cli=cli) == "starting\n"
    assert api.docker_ok("exec", "web", "cat", "/var/www/index.html", cli=cli) == \
        "hello from busybox\n"
    r = api.docker("exec", "web", "sh", "-c", "exit 9", cli=cli)
    assert r.returncode == 9
    assert api.docker_ok("inspect", "-f", "{{.State.Status}} {{.Name}}", "web",
                         cli=cli) == "running /web\n"
    api.docker_ok("stop", "-t", "1", "web", cli=cli)
    assert "Exited" in api.docker_ok("ps", "-a", cli=cli)
    api.docker_ok("rm", "web", cli=cli)


@clis
def test_logs_follow_ends_with_the_container(api: Service, cli: str) -> None:
    api.docker_ok("run", "-d", "--name", "talker", "busybox", "sh", "-c",
                  "for i in 1 2 3; do echo line $i; sleep 0.2; done", cli=cli)
    r = api.docker("logs", "-f", "talker", cli=cli, timeout=20)
    assert r.stdout == "line 1\nline 2\nline 3\n"
    assert api.docker_ok("logs", "--tail", "1", "talker", cli=cli) == "line 3\n"
    api.docker_ok("rm", "talker", cli=cli)


@clis
def test_cp_both_ways(api: Service, cli: str, tmp_path: Path) -> None:
    api.docker_ok("run", "-d", "--name", "box", "busybox", "sleep", "30", cli=cli)
    (tmp_path / "f.txt").write_text("hello\n")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "y").write_text("y\n")
    api.docker_ok("cp", str(tmp_path / "f.txt"), "box:/tmp/", cli=cli)
    api.docker_ok("cp", str(tmp_path / "dir"), "box:/tmp/copied", cli=cli)
    assert api.docker_ok("exec", "box", "cat", "/tmp/f.txt", "/tmp/copied/sub/y",
                         cli=cli) == "hello\ny\n"
    out = tmp_path / "out"
    out.mkdir()
    api.docker_ok("cp", "box:/etc/passwd", str(out), cli=cli)
    api.docker_ok("cp", "box:/tmp/copied", str(out / "back"), cli=cli)
    assert (out / "passwd").read_text().startswith("root:")
    assert (out / "back" / "sub" / "y").read_text() == "y\n"
    r = api.docker("cp", "box:/no/such", str(out), cli=cli)
    assert r.returncode != 0 and "no/such" in r.stderr
    api.docker_ok("rm", "-f", "box", cli=cli)


@clis
def test_volume_and_network_create(api: Service, cli: str) -> None:
    api.docker_ok("volume", "create", "clivol", cli=cli)
    assert "clivol" in api.docker_ok("volume", "ls", "-q", cli=cli).split()
    api.docker_ok("run", "--rm", "-v", "clivol:/data", "busybox", "sh", "-c",
                  "echo persisted > /data/f", cli=cli)
    assert api.docker_ok("run", "--rm", "-v", "clivol:/data", "busybox", "cat", "/data/f",
                         cli=cli) == "persisted\n"
    assert api.docker_ok("volume", "inspect", "-f", "{{.Driver}}", "clivol",
                         cli=cli) == "local\n"
    api.docker_ok("volume", "rm", "clivol", cli=cli)
    nid = api.docker_ok("network", "create", "clinet", cli=cli).strip()
    assert nid
    assert "clinet" in api.docker_ok("network", "ls", "--format", "{{.Name}}", cli=cli)
    api.docker_ok("run", "-d", "--name", "peer", "--network", "clinet", "--network-alias",
                  "svc", "busybox", "sleep", "30", cli=cli)
    out = api.docker_ok("run", "--rm", "--network", "clinet", "busybox", "ping", "-c1",
                        "-W2", "svc", cli=cli)
    assert "1 packets received" in out
    api.docker_ok("rm", "-f", "peer", cli=cli)
    api.docker_ok("network", "rm", "clinet", cli=cli)


@clis
def test_build_and_images(api: Service, cli: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY msg /msg\nCMD cat /msg\n")
    (tmp_path / "msg").write_text("from the context\n")
    r = api.docker("build", "-t", "clibuilt:1", str(tmp_path), cli=cli)
    assert r.returncode == 0, r.stderr
    assert "Successfully tagged clibuilt:1" in r.stdout
    assert api.docker_ok("run", "--rm", "clibuilt:1", cli=cli) == "from the context\n"
    images = api.docker_ok("images", "--format", "{{.Repository}}:{{.Tag}}", cli=cli)
    assert "clibuilt:1" in images.split()
    assert api.docker_ok("history", "-q", "clibuilt:1", cli=cli).strip()
    api.docker_ok("rmi", "clibuilt:1", cli=cli)


def _pty_session(api: Service, cli: str, args: list[str], keys: list[tuple[bytes, bytes]]
                 ) -> tuple[bytes, int]:
    """Run the docker CLI in a pty; for each (wait-for, send) pair, wait for the bytes
    in its output, then type. Returns everything it printed and its exit status."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(cli, [cli, *args], api.env())
    out = b""

    def read_until(pattern: bytes, timeout: float = 15) -> None:
        nonlocal out
        deadline = time.monotonic() + timeout
        while pattern not in out and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                out += data
    try:
        for wait_for, send in keys:
            read_until(wait_for)
            assert wait_for in out, out
            os.write(fd, send)
        read_until(b"\0", 5)  # to its end
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


@clis
def test_run_it_through_a_pty(api: Service, cli: str) -> None:
    out, code = _pty_session(api, cli, ["run", "--rm", "-it", "busybox", "sh"],
                             [(b"# ", b"echo $((6*7)); tty\r"), (b"42", b"exit 5\r")])
    assert code == 5
    assert b"42" in out and b"/dev/pts/0" in out
    assert api.docker_ok("ps", "-aq", cli=cli) == ""


@clis
def test_exec_it_and_detach_keys(api: Service, cli: str) -> None:
    api.docker_ok("run", "-d", "--name", "shell", "busybox", "sleep", "30", cli=cli)
    out, code = _pty_session(api, cli, ["exec", "-it", "shell", "sh"],
                             [(b"# ", b"echo in-$((2+3))\r"), (b"in-5", b"exit 0\r")])
    assert code == 0 and b"in-5" in out
    # a -it container left with ctrl-p ctrl-q goes on running
    out, code = _pty_session(api, cli, ["run", "-it", "--name", "detachable", "busybox",
                                        "sh"], [(b"# ", b"\x10\x11")])
    assert code == 0
    # and still after a moment: the CLI takes the keys itself and half-closes, and an
    # EOF passed on to the terminal ends sh a few ms after the CLI has left
    time.sleep(0.5)
    assert api.docker_ok("inspect", "-f", "{{.State.Status}}", "detachable",
                         cli=cli) == "running\n"
    api.docker_ok("rm", "-f", "shell", "detachable", cli=cli)


@clis
def test_attach_to_a_stopped_container_is_refused_and_the_service_goes_on(
        api: Service, cli: str) -> None:
    api.docker_ok("create", "--name", "idle", "busybox", "true", cli=cli)
    api.docker_ok("start", "idle", cli=cli)
    api.docker_ok("wait", "idle", cli=cli)
    r = api.docker("attach", "idle", cli=cli)
    assert r.returncode == 1 and "You cannot attach to a stopped container" in r.stderr
    r = api.docker("start", "-a", "idle", cli=cli)  # attach, then start: a run again
    assert r.returncode == 0
    assert api.docker_ok("run", "--rm", "busybox", "echo", "still-serving", cli=cli) == \
        "still-serving\n"
    api.docker_ok("rm", "idle", cli=cli)

"""``pycompose system service [--time SECONDS] [URI]``: the Docker Engine API on a
unix socket (podman's shape), so that ``DOCKER_HOST=unix:///run/pycompose/docker.sock``
lets the docker CLI, docker-py and testcontainers drive pycompose.

It serves in the foreground until ``--time`` seconds pass without a request (0: never)
or it is stopped (SIGTERM, SIGINT). While it serves, ``$ROOT/dockerapi.json`` says where
and how: when it exited because it was idle, the next pycompose command of that state
root starts it again in the background (:func:`wake`, the daemonless stand-in for
socket activation); a service that was stopped on purpose removes the file and stays
stopped. Only :func:`wake` runs on every command: one ``stat`` when no service was
asked for.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # wake() runs on every command: no argparse, no pathlib here
if TYPE_CHECKING:
    import argparse
    from pathlib import Path

MARKER = "dockerapi.json"
DEFAULT_IDLE = 5.0  # podman's default


def default_uri() -> str:
    if os.geteuid() == 0:
        return "unix:///run/pycompose/docker.sock"
    run = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"unix://{run}/pycompose/docker.sock"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("service", help="Serve the Docker Engine API on a unix socket")
    s.add_argument("-t", "--time", type=float, default=DEFAULT_IDLE, metavar="SECONDS",
                   help="exit after this many idle seconds (0: never; default 5)")
    s.add_argument("uri", nargs="?", metavar="URI",
                   help=f"where to listen (default {default_uri()})")
    s.set_defaults(handler=cmd_service)


def cmd_service(args: argparse.Namespace) -> int:
    import logging
    import signal

    import trio

    from pycompose.dockerapi.server import serve, socket_path
    from pycompose.util.fs import atomic_write_json
    from pycompose.util.paths import private_dir, state_root

    if args.time < 0:
        from pycompose.engine.api import InvalidArgument

        raise InvalidArgument("--time must be 0 (never exit) or a number of seconds")
    uri = args.uri or default_uri()
    path = socket_path(uri)
    root = private_dir(state_root())
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s dockerapi[%(process)d] %(levelname)s %(message)s")
    if os.environ.get("PYCOMPOSE_DEBUG"):  # each request (not pyroute2's netlink chatter)
        logging.getLogger("pycompose").setLevel(logging.DEBUG)
    marker = root / MARKER
    atomic_write_json(marker, {"uri": uri, "time": args.time, "pid": os.getpid()})
    stopped = False
    idle_exit = False

    async def main() -> None:
        nonlocal stopped
        async with trio.open_nursery() as n:
            async def signals() -> None:
                nonlocal stopped
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as sigs:
                    async for _ in sigs:
                        stopped = True
                        n.cancel_scope.cancel()
                        return

            n.start_soon(signals)
            await serve(root, path, args.time)
            n.cancel_scope.cancel()
    try:
        trio.run(main)
        idle_exit = not stopped
    finally:
        if not idle_exit:  # stopped on purpose, or it failed: not to be woken again
            _forget(marker)
    return 0


def _forget(marker: Path) -> None:
    import json

    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return
    if data.get("pid") == os.getpid():
        marker.unlink(missing_ok=True)


def wake(argv: list[str]) -> None:
    """Start the API service again if it exited idle (see the module's docstring)."""
    from pycompose.util.paths import state_root_text

    root = state_root_text()
    marker = os.path.join(root, MARKER)
    if not os.path.exists(marker):
        return
    from pycompose.util import wirejson

    try:
        with open(marker, "rb") as f:
            data = wirejson.loads(f.read())
        uri = str(data["uri"])
        idle = float(data["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if argv[:2] == ["system", "service"] or _answers(uri):
        return
    _spawn(root, uri, idle)


def _answers(uri: str) -> bool:
    import _socket

    path = uri.removeprefix("unix://")
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _spawn(root: str, uri: str, idle: float) -> None:
    """``system service`` in the background: double fork, setsid, stdio to its log."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        fd = os.open(os.path.join(root, "dockerapi.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.closerange(3, 1 << 16)
        os.chdir("/")
        env = dict(os.environ, PYCOMPOSE_ROOT=root)
        os.execve(sys.executable, [sys.executable, "-m", "pycompose", "system", "service",
                                   "--time", str(idle), uri], env)
    finally:
        os._exit(127)

"""The project lifecycle commands, as docker compose has them: ``up``, ``down``, ``ps``,
``logs``, ``start``, ``stop``, ``restart``, ``kill``, ``rm``, ``exec``, ``port``.

They load the project like ``config`` does, then call ``pycompose.compose.orchestrate``
on the engine's face (heavy imports inside the handlers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .project import load_project


def _root() -> Path:
    from pycompose.util.paths import state_root

    return state_root()


def register(p: argparse.ArgumentParser, command: str) -> None:
    a = p.add_argument
    if command == "up":
        a("-d", "--detach", action="store_true", help="run in the background")
        a("--force-recreate", action="store_true")
        a("--no-recreate", action="store_true")
        a("--no-deps", action="store_true", help="don't start linked services")
        a("--no-start", action="store_true", help="create, don't start")
        a("--remove-orphans", action="store_true")
        a("-t", "--timeout", type=float, help="shutdown timeout in seconds")
        a("--scale", action="append", default=[], metavar="SERVICE=NUM")
        a("--wait", action="store_true",
          help="wait for services to be running and healthy (implies -d)")
        a("--wait-timeout", type=float, metavar="SECONDS",
          help="give up on --wait after this long")
        a("--pull", choices=["always", "missing", "never"],
          help="pull images first: always, when missing, never (default: each "
               "service's pull_policy)")
        b = p.add_mutually_exclusive_group()
        b.add_argument("--build", action="store_true",
                       help="build the services' images before starting them")
        b.add_argument("--no-build", action="store_true",
                       help="don't build images, even those that are missing")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=up)
    elif command == "down":
        a("-v", "--volumes", action="store_true", help="remove named and anonymous volumes")
        a("--rmi", choices=["local", "all"],
          help="remove images: local (those built without an image: name) or all")
        a("--remove-orphans", action="store_true")
        a("-t", "--timeout", type=float)
        p.set_defaults(handler=down)
    elif command == "ps":
        a("-a", "--all", action="store_true", help="show stopped containers too")
        a("-q", "--quiet", action="store_true", help="only ids")
        a("--services", action="store_true", help="only service names")
        a("--format", default="table", help="table or json")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=ps)
    elif command == "logs":
        a("-f", "--follow", action="store_true")
        a("-n", "--tail", default="all")
        a("-t", "--timestamps", action="store_true")
        a("--since", help="logs since a time (2013-01-02T13:23:37Z) or a duration (42m)")
        a("--until", help="logs before a time or a duration before now")
        a("--no-log-prefix", action="store_true")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=logs)
    elif command in ("start", "stop", "restart", "kill", "rm"):
        if command in ("stop", "restart"):
            a("-t", "--timeout", type=float)
        if command == "kill":
            a("-s", "--signal", default="SIGKILL")
        if command == "rm":
            a("-f", "--force", action="store_true", help="don't ask (always true here)")
            a("-s", "--stop", action="store_true", help="stop the containers first")
            a("-v", "--volumes", action="store_true", help="remove anonymous volumes")
        if command == "restart":
            a("--no-deps", action="store_true", help="don't restart dependent services")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=simple, verb=command)
    elif command == "exec":
        a("-d", "--detach", action="store_true")
        a("-T", "--no-TTY", dest="no_tty", action="store_true")
        a("-u", "--user")
        a("-w", "--workdir")
        a("-e", "--env", action="append", default=[])
        a("--index", type=int, default=1)
        a("service", metavar="SERVICE")
        a("command", nargs=argparse.REMAINDER, metavar="COMMAND")
        p.set_defaults(handler=exec_)
    elif command == "port":
        a("--protocol", default="tcp")
        a("--index", type=int, default=1)
        a("service", metavar="SERVICE")
        a("port", metavar="PRIVATE_PORT")
        p.set_defaults(handler=port)


def _project_lock(name: str) -> Any:
    """One ``up``/``down`` of a project at a time (two at once would race to create the
    same containers); a killed command's flock dies with it."""
    from pycompose.util.fs import locked

    return locked(_root() / "projects" / f"{name}.lock")


def _progress() -> Any:
    from pycompose.compose.execute import Progress

    return Progress(lambda line: print(line, file=sys.stderr, flush=True))


def _engine() -> Any:
    from pycompose.engine.api import Engine

    return Engine(_root())


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def up(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose import orchestrate as O
    from pycompose.compose.attach import run_attached
    from pycompose.compose.errors import ComposeError

    project = load_project(args)
    scale: dict[str, int] = {}
    for item in args.scale:
        name, sep, num = item.partition("=")
        if not sep or not num.isdigit():
            raise ComposeError(f"invalid --scale {item!r}: use SERVICE=NUMBER")
        scale[name] = int(num)
    opts = O.UpOptions(services=args.services, detach=args.detach,
                       force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                       no_deps=args.no_deps, no_start=args.no_start,
                       remove_orphans=args.remove_orphans, timeout=args.timeout,
                       wait=args.wait, wait_timeout=args.wait_timeout, scale=scale,
                       pull=args.pull,
                       build="always" if args.build else "never" if args.no_build
                       else "missing")
    if args.detach or args.no_start or args.wait:
        up_detached(project, opts)
        return 0
    return trio.run(run_attached, project, _engine(), opts, _write, _progress(), _builds())


def _builds() -> Any:
    """How builds started by ``up`` show their progress (compose's plain lines)."""
    from .build import ServiceProgress

    return ServiceProgress(sys.stderr)


def up_detached(project: Any, opts: Any) -> None:
    """``up -d`` of a validated project (``kube play`` runs its projects here too)."""
    import trio

    from pycompose.compose import orchestrate as O

    engine, progress = _engine(), _progress()
    with _project_lock(project.name):
        trio.run(lambda: O.up(project, engine, opts, progress, on_build=_builds()))


def down_project(project: Any, *, volumes: bool = False, remove_orphans: bool = False,
                 timeout: float | None = None, rmi: str | None = None) -> None:
    """``down`` of a validated project (and of what ``kube play`` made)."""
    import trio

    from pycompose.compose import orchestrate as O

    with _project_lock(project.name):
        trio.run(lambda: O.down(project, _engine(), volumes=volumes,
                                remove_orphans=remove_orphans, timeout=timeout, rmi=rmi,
                                progress=_progress()))


def down(args: argparse.Namespace) -> int:
    down_project(load_project(args), volumes=args.volumes,
                 remove_orphans=args.remove_orphans, timeout=args.timeout, rmi=args.rmi)
    return 0


def _rows(args: argparse.Namespace, all_: bool) -> tuple[Any, list[Any]]:
    from pycompose.compose.orchestrate import container_rows

    project = load_project(args)
    return project, container_rows(project, _engine(), all_=all_,
                                   services=getattr(args, "services", []))


def ps(args: argparse.Namespace) -> int:
    import json

    from pycompose.compose import translate as T

    from .render import status_line

    _, rows = _rows(args, args.all)
    if args.quiet:
        for r in rows:
            print(r.id)
        return 0
    if args.services:
        for s in dict.fromkeys(r.labels.get(T.LABEL_SERVICE, "") for r in rows):
            print(s)
        return 0

    def ports(r: Any) -> str:
        out = []
        for ctr, binds in r.ports.items():
            for b in binds or []:
                out.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{ctr}")
        return ", ".join(out)

    def command(r: Any) -> str:
        text = " ".join(r.command)
        return f'"{text[:20]}…"' if len(text) > 20 else f'"{text}"'

    table = [{"Name": r.name, "Image": r.labels.get(T.LABEL_IMAGE, ""),
              "Command": command(r), "Service": r.labels.get(T.LABEL_SERVICE, ""),
              "Created": r.created, "Status": status_line(r.raw),
              "State": r.status.value, "Ports": ports(r), "ID": r.id} for r in rows]
    if args.format == "json":
        print(json.dumps(table))
        return 0
    cols = ["Name", "Image", "Command", "Service", "Status", "Ports"]
    widths = {c: max([len(c), *(len(str(t[c])) for t in table)]) for c in cols}
    print("   ".join(c.upper().ljust(widths[c]) for c in cols).rstrip())
    for t in table:
        print("   ".join(str(t[c]).ljust(widths[c]) for c in cols).rstrip())
    return 0


def logs(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose.attach import follow_logs

    from .container import log_window

    _, rows = _rows(args, True)
    w = log_window(args.tail, args.since, args.until)
    trio.run(lambda: follow_logs(_engine(), rows, _write, follow=args.follow, tail=w.tail,
                                 timestamps=args.timestamps, prefix=not args.no_log_prefix,
                                 since=w.since, until=w.until))
    return 0


def simple(args: argparse.Namespace) -> int:
    """start, stop, restart, kill, rm."""
    import trio

    from pycompose.compose import orchestrate as O

    project = load_project(args)
    engine, progress = _engine(), _progress()
    services = list(args.services)
    timeout = getattr(args, "timeout", None)
    if args.verb == "start":
        trio.run(lambda: O.start(project, engine, services, progress))
    elif args.verb == "stop":
        trio.run(lambda: O.stop(project, engine, services, timeout=timeout, progress=progress))
    elif args.verb == "restart":
        trio.run(lambda: O.restart(project, engine, services, timeout=timeout,
                                   no_deps=getattr(args, "no_deps", False), progress=progress))
    elif args.verb == "kill":
        trio.run(lambda: O.kill(project, engine, services, signal=args.signal,
                                progress=progress))
    else:
        trio.run(lambda: O.rm(project, engine, services, stop_first=args.stop,
                              volumes=args.volumes, timeout=timeout, progress=progress))
    return 0


def _running_container(args: argparse.Namespace) -> Any:
    """Container ``--index`` of ``args.service``, which must be running."""
    from pycompose.compose import translate as T
    from pycompose.compose.errors import ComposeError

    _, rows = _rows(args, False)
    for r in rows:
        if r.labels.get(T.LABEL_SERVICE) == args.service and \
                r.labels.get(T.LABEL_NUMBER) == str(args.index):
            return r
    raise ComposeError(f"service {args.service!r} is not running")


def exec_(args: argparse.Namespace) -> int:
    """``exec SERVICE CMD``: the engine's ``container exec`` on the service's container."""
    from pycompose.cli import main as cli_main
    from pycompose.compose.errors import ComposeError

    container = _running_container(args)
    argv = ["container", "exec"]
    if args.detach:
        argv.append("-d")
    interactive = not args.no_tty and sys.stdin.isatty()
    if interactive:
        argv += ["-i", "-t"]
    if args.user:
        argv += ["-u", args.user]
    if args.workdir:
        argv += ["-w", args.workdir]
    for e in args.env:
        argv += ["-e", e]
    if not args.command:
        raise ComposeError("exec needs a command: pycompose exec SERVICE COMMAND [ARGS...]")
    return cli_main([*argv, container.name, *args.command])


def port(args: argparse.Namespace) -> int:
    from pycompose.compose.errors import ComposeError

    container = _running_container(args)
    key = f"{args.port}/{args.protocol}"
    binds = container.ports.get(key) or []
    if not binds:
        raise ComposeError(f"no port {key} published for service {args.service!r}")
    for b in binds:
        print(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
    return 0

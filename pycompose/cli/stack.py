"""The project lifecycle commands, as docker compose has them: ``up``, ``down``, ``ps``,
``logs``, ``start``, ``stop``, ``restart``, ``kill``, ``rm``, ``exec``, ``port``.

They load the project like ``config`` does, then call ``pycompose.compose.orchestrate``
(heavy imports inside the handlers)."""

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
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=up)
    elif command == "down":
        a("-v", "--volumes", action="store_true", help="remove named and anonymous volumes")
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
    from pycompose.compose.orchestrate import Progress

    return Progress(lambda line: print(line, file=sys.stderr, flush=True))


def _engine() -> Any:
    from pycompose.compose.orchestrate import Engine

    return Engine(_root())


def up(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose.errors import ComposeError
    from pycompose.compose.orchestrate import Orchestrator, UpOptions, run_attached

    project = load_project(args)
    scale: dict[str, int] = {}
    for item in args.scale:
        name, sep, num = item.partition("=")
        if not sep or not num.isdigit():
            raise ComposeError(f"invalid --scale {item!r}: use SERVICE=NUMBER")
        scale[name] = int(num)
    opts = UpOptions(services=args.services, detach=args.detach,
                     force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                     no_deps=args.no_deps, no_start=args.no_start,
                     remove_orphans=args.remove_orphans, timeout=args.timeout,
                     wait=args.wait, wait_timeout=args.wait_timeout, scale=scale)
    if args.detach or args.no_start or args.wait:
        up_detached(project, opts)
        return 0
    orch = Orchestrator(project, _engine(), _progress())

    def write(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    return trio.run(run_attached, orch, opts, write)


def up_detached(project: Any, opts: Any) -> None:
    """``up -d`` of a validated project (``kube play`` runs its projects here too)."""
    import trio

    from pycompose.compose.orchestrate import Orchestrator

    orch = Orchestrator(project, _engine(), _progress())
    with _project_lock(project.name):
        trio.run(orch.up, opts)


def down_project(project: Any, *, volumes: bool = False, remove_orphans: bool = False,
                 timeout: float | None = None) -> None:
    """``down`` of a validated project (and of what ``kube play`` made)."""
    import trio

    from pycompose.compose.orchestrate import down as do_down

    with _project_lock(project.name):
        trio.run(lambda: do_down(project, _engine(), volumes=volumes,
                                 remove_orphans=remove_orphans, timeout=timeout,
                                 progress=_progress()))


def down(args: argparse.Namespace) -> int:
    down_project(load_project(args), volumes=args.volumes,
                 remove_orphans=args.remove_orphans, timeout=args.timeout)
    return 0


def _rows(args: argparse.Namespace, all_: bool) -> tuple[Any, list[dict[str, Any]]]:
    from pycompose.compose.orchestrate import container_rows

    project = load_project(args)
    return project, container_rows(project.name, _engine(), all_=all_,
                                   services=getattr(args, "services", []))


def ps(args: argparse.Namespace) -> int:
    import json

    from pycompose.compose import translate as T
    from pycompose.compose.orchestrate import labels_of, short_name, status_of
    from pycompose.engine.containers import status_line

    _, rows = _rows(args, args.all)
    if args.quiet:
        for r in rows:
            print(r["Id"])
        return 0
    if args.services:
        for s in dict.fromkeys(labels_of(r).get(T.LABEL_SERVICE, "") for r in rows):
            print(s)
        return 0

    def ports(r: dict[str, Any]) -> str:
        out = []
        for ctr, binds in ((r.get("NetworkSettings") or {}).get("Ports") or {}).items():
            for b in binds or []:
                out.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{ctr}")
        return ", ".join(out)

    def command(r: dict[str, Any]) -> str:
        cfg = r.get("Config") or {}
        text = " ".join([*(cfg.get("Entrypoint") or []), *(cfg.get("Cmd") or [])])
        return f'"{text[:20]}…"' if len(text) > 20 else f'"{text}"'

    table = [{"Name": short_name(r), "Image": labels_of(r).get(T.LABEL_IMAGE, ""),
              "Command": command(r), "Service": labels_of(r).get(T.LABEL_SERVICE, ""),
              "Created": r.get("Created", ""), "Status": status_line(r),
              "State": status_of(r), "Ports": ports(r), "ID": r["Id"]} for r in rows]
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

    from pycompose.compose.errors import ComposeError
    from pycompose.compose.orchestrate import follow_logs

    _, rows = _rows(args, True)
    tail = None
    if args.tail != "all":
        if not args.tail.isdigit():
            raise ComposeError(f"invalid --tail {args.tail!r}: a number or 'all'")
        tail = int(args.tail)

    def write(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    trio.run(lambda: follow_logs(_engine(), rows, write, follow=args.follow, tail=tail,
                                 timestamps=args.timestamps, prefix=not args.no_log_prefix))
    return 0


def simple(args: argparse.Namespace) -> int:
    from pycompose.compose.orchestrate import short_name, status_of

    verb = args.verb
    _, rows = _rows(args, True)
    engine = _engine()
    progress = _progress()
    done = {"start": "Started", "stop": "Stopped", "restart": "Restarted",
            "kill": "Killed", "rm": "Removed"}[verb]
    if verb in ("stop", "kill", "restart", "rm"):
        rows = list(reversed(rows))
    for r in rows:
        running = status_of(r) in ("running", "restarting")
        msg: dict[str, Any] = {"op": verb, "id": r["Id"]}
        if verb == "start" and running:
            continue
        if verb in ("stop", "kill") and not running:
            continue
        if verb == "rm":
            if running and not args.stop:
                continue
            msg.update(force=True, volumes=args.volumes)
        if getattr(args, "timeout", None) is not None:
            msg["timeout"] = args.timeout
        if verb == "kill":
            msg["signal"] = args.signal
        engine.call(msg)
        progress("Container", short_name(r), done)
    return 0


def _running_container(args: argparse.Namespace) -> dict[str, Any]:
    """Container ``--index`` of ``args.service``, which must be running."""
    from pycompose.compose import translate as T
    from pycompose.compose.errors import ComposeError
    from pycompose.compose.orchestrate import labels_of

    _, rows = _rows(args, False)
    for r in rows:
        labels = labels_of(r)
        if labels.get(T.LABEL_SERVICE) == args.service and \
                labels.get(T.LABEL_NUMBER) == str(args.index):
            return r
    raise ComposeError(f"service {args.service!r} is not running")


def exec_(args: argparse.Namespace) -> int:
    """``exec SERVICE CMD``: the engine's ``container exec`` on the service's container."""
    from pycompose.cli import main as cli_main
    from pycompose.compose.errors import ComposeError
    from pycompose.compose.orchestrate import short_name

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
    return cli_main([*argv, short_name(container), *args.command])


def port(args: argparse.Namespace) -> int:
    from pycompose.compose.errors import ComposeError

    container = _running_container(args)
    key = f"{args.port}/{args.protocol}"
    binds = ((container.get("NetworkSettings") or {}).get("Ports") or {}).get(key) or []
    if not binds:
        raise ComposeError(f"no port {key} published for service {args.service!r}")
    for b in binds:
        print(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
    return 0

"""The project lifecycle commands, as docker compose has them: ``up``, ``down``, ``ps``,
``logs``, ``start``, ``stop``, ``restart``, ``kill``, ``rm``, ``exec``, ``port``
(``ps`` and the other looking commands are in ``compose_info.py``).

They load the project like ``config`` does, then call ``pycompose.compose.orchestrate``
on the engine's face (heavy imports inside the handlers)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, ClassVar

from . import compose_common as C


def register(p: argparse.ArgumentParser, command: str) -> None:
    a = p.add_argument
    if command == "up":
        a("-d", "--detach", action="store_true", help="run in the background")
        a("--pull", choices=["always", "missing", "never"],
          help="pull images first: always, when missing, never (default: each "
               "service's pull_policy)")
        b = p.add_mutually_exclusive_group()
        b.add_argument("--build", action="store_true",
                       help="build the services' images before starting them")
        b.add_argument("--no-build", action="store_true",
                       help="don't build images, even those that are missing")
        a("--force-recreate", action="store_true")
        a("--no-recreate", action="store_true")
        a("--always-recreate-deps", action="store_true", help="recreate dependent containers")
        a("--no-deps", action="store_true", help="don't start linked services")
        a("--no-start", action="store_true", help="create, don't start")
        a("--remove-orphans", action="store_true")
        a("-V", "--renew-anon-volumes", action="store_true",
          help="recreate anonymous volumes instead of reusing their data")
        a("-t", "--timeout", type=float, help="shutdown timeout in seconds")
        a("--scale", action="append", default=[], metavar="SERVICE=NUM")
        a("--wait", action="store_true",
          help="wait for services to be running and healthy (implies -d)")
        a("--wait-timeout", type=float, metavar="SECONDS",
          help="give up on --wait after this long")
        a("--abort-on-container-exit", action="store_true",
          help="stop all containers if any container was stopped")
        a("--abort-on-container-failure", action="store_true",
          help="stop all containers if any container exited with failure")
        a("--exit-code-from", metavar="SERVICE",
          help="return the exit code of the selected service container "
               "(implies --abort-on-container-exit)")
        a("--attach", action="append", default=None, metavar="SERVICE",
          help="restrict attaching to the specified services")
        a("--no-attach", action="append", default=[], metavar="SERVICE",
          help="do not attach (stream logs) to the specified services")
        a("--attach-dependencies", action="store_true",
          help="automatically attach to log output of dependent services")
        a("--no-color", action="store_true", help="produce monochrome output")
        a("--no-log-prefix", action="store_true", help="don't print prefix in logs")
        a("--timestamps", action="store_true", help="show timestamps")
        a("--quiet-pull", action="store_true", help="pull without printing progress")
        a("--quiet-build", action="store_true", help="suppress the build output")
        a("-y", "--yes", action="store_true", help="assume yes to all prompts")
        a("--menu", action="store_true", help="enable interactive shortcuts (ignored: "
          "pycompose has none)")
        a("-w", "--watch", action="store_true",
          help="watch source code and rebuild/refresh containers when files are updated")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=up)
    elif command == "down":
        a("-v", "--volumes", action="store_true", help="remove named and anonymous volumes")
        a("--rmi", choices=["local", "all"],
          help="remove images: local (those built without an image: name) or all")
        a("--remove-orphans", action="store_true")
        a("-t", "--timeout", type=float)
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=down)
    elif command == "logs":
        a("-f", "--follow", action="store_true")
        a("-n", "--tail", default="all")
        a("-t", "--timestamps", action="store_true")
        a("--since", help="logs since a time (2013-01-02T13:23:37Z) or a duration (42m)")
        a("--until", help="logs before a time or a duration before now")
        a("--no-log-prefix", action="store_true")
        a("--no-color", action="store_true", help="produce monochrome output")
        a("--index", type=int, default=None, help="index of the container if the service "
          "has multiple replicas")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=logs)
    elif command in ("start", "stop", "restart", "kill", "rm"):
        if command in ("stop", "restart"):
            a("-t", "--timeout", type=float)
        if command == "start":
            a("--wait", action="store_true",
              help="wait for services to be running and healthy")
            a("--wait-timeout", type=float, metavar="SECONDS",
              help="give up on --wait after this long")
        if command == "kill":
            a("-s", "--signal", default="SIGKILL")
            a("--remove-orphans", action="store_true")
        if command == "rm":
            a("-f", "--force", action="store_true", help="don't ask (always true here)")
            a("-s", "--stop", action="store_true", help="stop the containers first")
            a("-v", "--volumes", action="store_true", help="remove anonymous volumes")
            a("-a", "--all", action="store_true", help=argparse.SUPPRESS)
        if command == "restart":
            a("--no-deps", action="store_true", help="don't restart dependent services")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=simple, verb=command)
    elif command == "exec":
        a("-d", "--detach", action="store_true")
        a("-T", "--no-tty", "--no-TTY", dest="no_tty", action="store_true",
          help="disable pseudo-TTY allocation (default: a TTY when stdin is one)")
        a("-i", "--interactive", action="store_true", default=True, help=argparse.SUPPRESS)
        a("-t", "--tty", action="store_true", help=argparse.SUPPRESS)
        a("--privileged", action="store_true", help="give extended privileges to the process")
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


def _finish(progress: Any) -> None:
    from .compose_progress import close

    close(progress)


def _colour(args: argparse.Namespace) -> bool:
    ansi = C.global_opt(args, "ansi", "auto")
    if getattr(args, "no_color", False) or ansi == "never":
        return False
    import os

    return ansi == "always" or (sys.stdout.isatty() and not os.environ.get("NO_COLOR"))


def up(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose import orchestrate as O
    from pycompose.compose.attach import AttachOptions, run_attached
    from pycompose.compose.errors import ComposeError

    from .compose_run import parse_scale

    project = C.load_project(args)
    if args.detach and (args.abort_on_container_exit or args.abort_on_container_failure
                        or args.exit_code_from):
        raise ComposeError("--abort-on-container-exit, --abort-on-container-failure and "
                           "--exit-code-from cannot be combined with --detach")
    if args.abort_on_container_exit and args.abort_on_container_failure:
        raise ComposeError("--abort-on-container-exit and --abort-on-container-failure "
                           "are incompatible")
    every = project.all_services()
    for name in [*(args.attach or []), *args.no_attach,
                 *([args.exit_code_from] if args.exit_code_from else [])]:
        if name not in every:
            raise ComposeError(f"no such service: {name}")
    opts = O.UpOptions(services=args.services, detach=args.detach,
                       force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                       always_recreate_deps=args.always_recreate_deps,
                       no_deps=args.no_deps, no_start=args.no_start,
                       remove_orphans=args.remove_orphans,
                       renew_anon_volumes=args.renew_anon_volumes, timeout=args.timeout,
                       wait=args.wait, wait_timeout=args.wait_timeout,
                       scale=parse_scale(args.scale), pull=args.pull,
                       build="always" if args.build else "never" if args.no_build
                       else "missing")
    if C.dry_run(args):
        from .compose_dry import dry_up

        return dry_up(args, project, opts)
    engine, progress = C.engine(args), C.progress(args)
    try:
        if args.detach or args.no_start or args.wait:
            with C.project_lock(project.name):
                trio.run(lambda: O.up(project, engine, opts, progress, on_build=_builds()))
            if args.watch:
                _finish(progress)
                from .compose_watch import watch_project

                return watch_project(args, project, quiet=False)
            return 0
        att = AttachOptions(attach=args.attach, no_attach=args.no_attach,
                            attach_dependencies=args.attach_dependencies,
                            abort_on_exit=args.abort_on_container_exit
                            or bool(args.exit_code_from),
                            abort_on_failure=args.abort_on_container_failure,
                            exit_code_from=args.exit_code_from, colour=_colour(args),
                            prefix=not args.no_log_prefix, timestamps=args.timestamps)
        return int(trio.run(run_attached, project, engine, opts, C.write, progress, att,
                            _builds()))
    finally:
        _finish(progress)


def _builds() -> Any:
    """How builds started by ``up`` show their progress (compose's plain lines)."""
    from .build import ServiceProgress

    return ServiceProgress(sys.stderr)


def up_detached(project: Any, opts: Any) -> None:
    """``up -d`` of a validated project (``kube play`` runs its projects here too)."""
    import trio

    from pycompose.compose import orchestrate as O

    engine, progress = C.engine(), C.progress(argparse.Namespace())
    try:
        with C.project_lock(project.name):
            trio.run(lambda: O.up(project, engine, opts, progress, on_build=_builds()))
    finally:
        _finish(progress)


def down_project(project: Any, *, volumes: bool = False, remove_orphans: bool = False,
                 timeout: float | None = None, rmi: str | None = None) -> None:
    """``down`` of a validated project (and of what ``kube play`` made)."""
    import trio

    from pycompose.compose import orchestrate as O

    progress = C.progress(argparse.Namespace())
    try:
        with C.project_lock(project.name):
            trio.run(lambda: O.down(project, C.engine(), volumes=volumes,
                                    remove_orphans=remove_orphans, timeout=timeout, rmi=rmi,
                                    progress=progress))
    finally:
        _finish(progress)


def _engine() -> Any:
    """The engine of the state root (``stack_registry`` uses it)."""
    return C.engine()


def _progress() -> Any:
    return C.progress(argparse.Namespace())


def down(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose import orchestrate as O

    project = C.load_project(args)
    if args.services:
        project = project.selected(list(args.services))
    if C.dry_run(args):
        from .compose_dry import dry_down

        return dry_down(args, project, volumes=args.volumes,
                        remove_orphans=args.remove_orphans, rmi=args.rmi)
    progress = C.progress(args, "Running")
    try:
        with C.project_lock(project.name):
            trio.run(lambda: O.down(project, C.engine(args), volumes=args.volumes,
                                    remove_orphans=args.remove_orphans,
                                    timeout=args.timeout, rmi=args.rmi,
                                    progress=progress))
    finally:
        _finish(progress)
    return 0


def logs(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose import translate as T
    from pycompose.compose.attach import follow_logs

    from .container import log_window

    _, rows = C.rows(args, True)
    if args.index is not None:
        rows = [r for r in rows if r.labels.get(T.LABEL_NUMBER) == str(args.index)]
    window = log_window(args.tail, args.since, args.until)
    trio.run(lambda: follow_logs(C.engine(), rows, C.write, follow=args.follow,
                                 tail=window.tail, timestamps=args.timestamps,
                                 prefix=not args.no_log_prefix, since=window.since,
                                 until=window.until, colour=_colour(args)))
    return 0


def simple(args: argparse.Namespace) -> int:
    """start, stop, restart, kill, rm."""
    import trio

    from pycompose.compose import orchestrate as O

    project = C.load_project(args)
    engine = C.engine(args)
    services = list(args.services)
    timeout = getattr(args, "timeout", None)
    if C.dry_run(args):
        from pycompose.compose.execute import Progress

        engine = _DryEngine(engine)
        progress: Any = Progress(lambda line: print(f"DRY-RUN MODE - {line}",
                                                    file=sys.stderr, flush=True))
    else:
        progress = C.progress(args, {"stop": "Stopping", "kill": "Killing",
                                     "rm": "Removing", "restart": "Restarting"}.get(
                                         args.verb, "Running"))
    try:
        if args.verb == "start":
            trio.run(lambda: O.start(project, engine, services, progress, wait=args.wait,
                                     wait_timeout=args.wait_timeout))
        elif args.verb == "stop":
            trio.run(lambda: O.stop(project, engine, services, timeout=timeout,
                                    progress=progress))
        elif args.verb == "restart":
            trio.run(lambda: O.restart(project, engine, services, timeout=timeout,
                                       no_deps=getattr(args, "no_deps", False),
                                       progress=progress))
        elif args.verb == "kill":
            trio.run(lambda: O.kill(project, engine, services, signal=args.signal,
                                    progress=progress))
            if args.remove_orphans:
                _remove_orphans(project, engine, progress)
        else:
            trio.run(lambda: O.rm(project, engine, services, stop_first=args.stop,
                                  volumes=args.volumes, timeout=timeout, progress=progress))
    finally:
        _finish(progress)
    return 0


def _remove_orphans(project: Any, engine: Any, progress: Any) -> None:
    """``kill --remove-orphans``: the project's containers of services its files no
    longer declare go too."""
    from pycompose.compose import translate as T
    from pycompose.engine.api import NotFound

    every = project.all_services()
    for rec in engine.containers(labels={T.LABEL_PROJECT: project.name}):
        if rec.labels.get(T.LABEL_SERVICE) in every or \
                rec.labels.get(T.LABEL_ONEOFF) == "True":
            continue
        try:
            engine.remove(rec.id, force=True)
        except NotFound:
            continue
        progress("Container", rec.name, "Removed")


class _DryEngine:
    """The engine for ``--dry-run`` of start/stop/restart/kill/rm: it reads, and
    every change is only said."""

    CHANGES: ClassVar[set[str]] = {*C.Limited.LIMITED, "ensure_volume", "remove_volume"}

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        if name == "exec":  # a hook (post_start, pre_stop): said, never run
            return lambda ref, req, *a, **kw: (0, b"")
        if name == "networks":
            return _DryNetworks(self._engine.networks)
        if name in self.CHANGES:
            return lambda ref, *a, **kw: ref
        return getattr(self._engine, name)


class _DryNetworks:
    """The engine's networks for ``--dry-run``: listed as they are, never changed."""

    def __init__(self, door: Any) -> None:
        self._door = door

    def __getattr__(self, name: str) -> Any:
        if name in ("ensure", "remove", "connect", "disconnect", "prune"):
            return lambda *a, **kw: False
        return getattr(self._door, name)


def exec_(args: argparse.Namespace) -> int:
    """``exec SERVICE CMD``: the engine's exec on the service's container; a terminal
    when stdin is one (``-T``/``--no-tty`` to go without), as docker compose does."""
    import os

    from pycompose.cli import main as cli_main
    from pycompose.compose.errors import ComposeError

    C.refuse_dry_run(args, "exec")
    container = C.service_container(args, args.service, args.index)
    argv = ["container", "exec"]
    if args.detach:
        argv.append("-d")
    tty = not args.no_tty and (args.tty or os.isatty(0))
    if args.interactive and not args.detach:
        argv.append("-i")
    if tty and not args.detach:
        argv.append("-t")
    if args.privileged:
        argv.append("--privileged")
    if args.user:
        argv += ["-u", args.user]
    if args.workdir:
        argv += ["-w", args.workdir]
    for e in args.env:
        argv += ["-e", e]
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise ComposeError("exec needs a command: pycompose exec SERVICE COMMAND [ARGS...]")
    return cli_main([*argv, container.name, *cmd])


def port(args: argparse.Namespace) -> int:
    from pycompose.compose.errors import ComposeError

    container = C.service_container(args, args.service, args.index)
    key = args.port if "/" in args.port else f"{args.port}/{args.protocol}"
    binds = container.ports.get(key) or []
    if not binds:
        raise ComposeError(f"no port {key} published for service {args.service!r}")
    for b in binds:
        print(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
    return 0

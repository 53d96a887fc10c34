"""``run`` (a one-off command on a service), ``create``, ``scale`` and ``wait``.

``run`` makes a one-off container as docker compose does: named
``PROJECT-SERVICE-run-ID`` (ID: 12 hex digits of a random slug, the label
``com.docker.compose.slug`` holding it whole), labelled ``oneoff=True``, with the
service's configuration and the command line's changes; its dependencies are brought
up first (``--no-deps`` skips that); ports are published only with
``--service-ports`` or ``-p``. Attached, the command's exit status is ``run``'s.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import compose_common as C

LABEL_SLUG = "com.docker.compose.slug"


def register(p: argparse.ArgumentParser, command: str) -> None:
    a = p.add_argument
    if command == "run":
        a("-d", "--detach", action="store_true", help="run container in background")
        a("--rm", action="store_true", help="remove the container when it exits")
        a("-e", "--env", action="append", default=[], metavar="KEY=VAL")
        a("--env-from-file", action="append", default=[], metavar="FILE")
        a("-l", "--label", action="append", default=[], metavar="KEY=VAL")
        a("--entrypoint", help="override the entrypoint of the image")
        a("--name", help="assign a name to the container")
        a("--no-deps", action="store_true", help="don't start linked services")
        a("-p", "--publish", action="append", default=[], help="publish a port")
        a("-P", "--service-ports", action="store_true",
          help="run with the service's ports enabled and mapped to the host")
        a("--use-aliases", action="store_true",
          help="use the service's network aliases in the networks it joins")
        a("-u", "--user", help="run as this user")
        a("-v", "--volume", action="append", default=[], help="bind mount a volume")
        a("-w", "--workdir", help="working directory inside the container")
        a("-T", "--no-TTY", "--no-tty", dest="no_tty", action="store_true",
          help="disable pseudo-TTY allocation (default: auto-detected)")
        a("-t", "--tty", action="store_true", help=argparse.SUPPRESS)
        a("-i", "--interactive", action="store_true", default=True,
          help="keep STDIN open even if not attached")
        a("--build", action="store_true", help="build the image before starting")
        a("--pull", choices=["always", "missing", "never"], default="missing")
        a("--cap-add", action="append", default=[])
        a("--cap-drop", action="append", default=[])
        a("--remove-orphans", action="store_true")
        a("-q", "--quiet", action="store_true")
        a("--quiet-pull", action="store_true")
        a("--quiet-build", action="store_true")
        a("service", metavar="SERVICE")
        a("command", nargs=argparse.REMAINDER, metavar="COMMAND")
        p.set_defaults(handler=run)
    elif command == "create":
        a("--build", action="store_true", help="build images before starting containers")
        a("--no-build", action="store_true", help="don't build an image")
        a("--force-recreate", action="store_true")
        a("--no-recreate", action="store_true")
        a("--pull", choices=["always", "missing", "never", "build"], default="missing")
        a("--quiet-pull", action="store_true")
        a("--remove-orphans", action="store_true")
        a("--scale", action="append", default=[], metavar="SERVICE=NUM")
        a("-y", "--yes", action="store_true", help="assume yes to all prompts")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=create)
    elif command == "scale":
        a("--no-deps", action="store_true", help="don't start linked services")
        a("pairs", nargs="+", metavar="SERVICE=REPLICAS")
        p.set_defaults(handler=scale)
    elif command == "wait":
        a("--down-project", action="store_true",
          help="drop the project when the first container stops")
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=wait)


def parse_scale(items: list[str]) -> dict[str, int]:
    from pycompose.compose.errors import ComposeError

    scale: dict[str, int] = {}
    for item in items:
        name, sep, num = item.partition("=")
        if not sep or not num.isdigit():
            raise ComposeError(f"invalid scale {item!r}: use SERVICE=NUMBER")
        scale[name] = int(num)
    return scale


# -- run ----------------------------------------------------------------------------------
def one_off_request(project: Any, args: argparse.Namespace, slug: str) -> Any:
    """The engine's request of ``run``'s container: the service's, with the command
    line's changes (text becomes types here, through the container CLI's parsers)."""
    from pycompose.compose import translate as T
    from pycompose.compose.errors import ComposeError

    from .flags import environment, publish, volume

    svc = project.all_services()[args.service]
    req = T.create_request(project, args.service, svc, 1)
    name = args.name or f"{project.name}-{args.service}-run-{slug[:12]}"
    req.name = name
    req.labels = {**T.labels_for(project, args.service, svc, 1, oneoff=True),
                  LABEL_SLUG: slug}
    for item in args.label:
        k, _, v = item.partition("=")
        req.labels[k] = v
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if cmd:
        req.command = cmd
    if args.entrypoint is not None:
        import shlex

        req.entrypoint = shlex.split(args.entrypoint) if args.entrypoint else []
        if not cmd:
            req.command = []
    extra = environment(args.env, args.env_from_file)
    if extra:
        keys = {e.partition("=")[0] for e in extra}
        req.env = [e for e in req.env if e.partition("=")[0] not in keys] + extra
    if args.user:
        req.user = args.user
    if args.workdir:
        req.workdir = args.workdir
    if not args.service_ports:
        req.ports = []
    for p in args.publish:
        req.ports = [*req.ports, *publish(p)]
    for v in args.volume:
        try:
            req.mounts = [*req.mounts, volume(v)]
        except ValueError as e:
            raise ComposeError(f"invalid --volume {v!r}: {e}")
    req.cap_add = [*req.cap_add, *args.cap_add]
    req.cap_drop = [*req.cap_drop, *args.cap_drop]
    if not args.use_aliases:
        for ep in req.endpoints:
            ep.aliases = []
    req.restart = type(req.restart)()  # a one-off is never restarted
    req.auto_remove = bool(args.rm)
    attach = not args.detach
    req.tty = bool(attach and (args.tty or (not args.no_tty and os.isatty(0)
                                            and os.isatty(1))))
    req.open_stdin = bool(attach and args.interactive)
    req.attach = attach
    return req


def run(args: argparse.Namespace) -> int:
    import secrets

    import trio

    from pycompose.compose import orchestrate as O
    from pycompose.compose import plan as P
    from pycompose.compose.errors import ComposeError
    from pycompose.engine.api import session

    C.refuse_dry_run(args, "run")
    project = C.load_project(args)
    if args.service not in project.all_services():
        raise ComposeError(f"no such service: {args.service}")
    project = P.enable(project, [args.service])
    engine = C.engine(args)
    deps = [s for s in P.selected_services(project, [args.service], True)
            if s != args.service]
    progress = C.progress(args)
    try:
        with C.project_lock(project.name):
            if deps and not args.no_deps:
                trio.run(O.up, project, engine,
                         O.UpOptions(services=deps, detach=True,
                                     remove_orphans=args.remove_orphans), progress)
            trio.run(O.ensure_resources, project, engine, [args.service], progress)
    finally:
        from .compose_progress import close

        close(progress)
    req = one_off_request(project, args, secrets.token_hex(32))
    if args.detach:
        cid = engine.create(req)
        engine.start(cid)
        print(req.name)
        return 0
    _, code = session.run(C.root(), req, detach=False, interactive=req.open_stdin)
    return code


# -- create -------------------------------------------------------------------------------
def create(args: argparse.Namespace) -> int:
    """``up --no-start``: networks, volumes and containers, nothing started."""
    import trio

    from pycompose.compose import orchestrate as O

    from .compose_progress import close

    project = C.load_project(args)
    opts = O.UpOptions(services=args.services, detach=True, no_start=True,
                       force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                       remove_orphans=args.remove_orphans, scale=parse_scale(args.scale))
    if C.dry_run(args):
        from .compose_dry import dry_up

        return dry_up(args, project, opts)
    progress = C.progress(args)
    try:
        with C.project_lock(project.name):
            trio.run(O.up, project, C.engine(args), opts, progress)
    finally:
        close(progress)
    return 0


# -- scale --------------------------------------------------------------------------------
def scale(args: argparse.Namespace) -> int:
    """``scale web=3``: ``up -d --scale`` of just those services."""
    import trio

    from pycompose.compose import orchestrate as O
    from pycompose.compose.errors import ComposeError

    from .compose_progress import close

    C.refuse_dry_run(args, "scale")
    project = C.load_project(args)
    counts = parse_scale(args.pairs)
    for name in counts:
        if name not in project.all_services():
            raise ComposeError(f"no such service: {name}")
    opts = O.UpOptions(services=list(counts), detach=True, no_deps=args.no_deps,
                       scale=counts)
    progress = C.progress(args)
    try:
        with C.project_lock(project.name):
            trio.run(O.up, project, C.engine(args), opts, progress)
    finally:
        close(progress)
    return 0


# -- wait ---------------------------------------------------------------------------------
def wait(args: argparse.Namespace) -> int:
    """Until the services' containers stop; print each exit code as it comes, exit
    with the first one (docker compose). ``--down-project``: down once one stops."""
    import trio

    from pycompose.compose import orchestrate as O
    from pycompose.compose.errors import ComposeError

    project, recs = C.rows(args, True)  # one that exited already answers at once
    if not recs:
        raise ComposeError("no containers to wait for (are the services created?)")
    engine = C.engine(args)
    codes: list[int] = []

    async def main() -> None:
        async with trio.open_nursery() as n:
            async def one(cid: str) -> None:
                code = await trio.to_thread.run_sync(engine.wait, cid, abandon_on_cancel=True)
                print(code, flush=True)
                codes.append(code)
                if args.down_project:
                    n.cancel_scope.cancel()
            for r in recs:
                n.start_soon(one, r.id)
        if args.down_project:
            from .compose_progress import close

            progress = C.progress(args)
            try:
                with C.project_lock(project.name):
                    await O.down(project, engine, progress=progress)
            finally:
                close(progress)
    trio.run(main)
    sys.stdout.flush()
    return codes[0] if codes else 0

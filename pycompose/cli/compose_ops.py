"""Compose commands on a service's containers: ``pause``, ``unpause``, ``cp``,
``commit``, ``export``, ``attach``. Each picks the service's container(s) by
``--index`` and drives it through the engine's face."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from . import compose_common as C


def register(p: argparse.ArgumentParser, command: str) -> None:
    a = p.add_argument
    if command in ("pause", "unpause"):
        a("services", nargs="*", metavar="SERVICE")
        p.set_defaults(handler=pause, verb=command)
    elif command == "cp":
        a("--all", action="store_true", help="include containers created by the run command")
        a("-a", "--archive", action="store_true", help="archive mode (copy all uid/gid "
          "information)")
        a("-L", "--follow-link", action="store_true",
          help="always follow symbol link in SRC_PATH")
        a("--index", type=int, default=None, help="index of the container if the service "
          "has multiple replicas")
        a("src", metavar="SRC")
        a("dst", metavar="DEST")
        p.set_defaults(handler=cp)
    elif command == "commit":
        a("-a", "--author", default="", help="author")
        a("-c", "--change", action="append", default=[],
          help="apply Dockerfile instruction to the created image")
        a("-m", "--message", default="", help="commit message")
        a("-p", "--pause", default="true", choices=["true", "false"], nargs="?",
          const="true", help="pause the container during commit (default true)")
        a("--index", type=int, default=None)
        a("service", metavar="SERVICE")
        a("repository", nargs="?", metavar="REPOSITORY[:TAG]")
        p.set_defaults(handler=commit)
    elif command == "export":
        a("--index", type=int, default=None)
        a("-o", "--output", help="write to a file, instead of STDOUT")
        a("service", metavar="SERVICE")
        p.set_defaults(handler=export)
    elif command == "attach":
        a("--detach-keys", default="ctrl-p,ctrl-q", help="override the key sequence for "
          "detaching from a container")
        a("--index", type=int, default=None)
        a("--no-stdin", action="store_true", help="do not attach STDIN")
        a("--sig-proxy", default="true", choices=["true", "false"], nargs="?",
          const="true", help="proxy all received signals to the process")
        a("service", metavar="SERVICE")
        p.set_defaults(handler=attach)


def pause(args: argparse.Namespace) -> int:
    from pycompose.engine.api import Conflict

    from .compose_progress import close

    paused = args.verb == "pause"
    _, recs = C.rows(args, False)
    engine = C.engine(args)
    progress = C.progress(args, "Pausing" if paused else "Unpausing")
    failed = None
    try:
        for r in recs:
            if C.dry_run(args):
                progress("Container", r.name, "Paused" if paused else "Unpaused")
                continue
            if (paused and r.status.value == "paused") or \
                    (not paused and r.status.value != "paused"):
                continue
            progress("Container", r.name, "Pausing" if paused else "Unpausing")
            try:
                (engine.pause if paused else engine.unpause)(r.id)
            except Conflict as e:
                progress("Container", r.name, str(e), ok=False)
                failed = e
                continue
            progress("Container", r.name, "Paused" if paused else "Unpaused")
    finally:
        close(progress)
    if failed is not None:
        raise failed
    return 0


def _split(text: str) -> tuple[str | None, str]:
    """``SERVICE:PATH`` or a local path (one that starts with / or . is local)."""
    if ":" in text and not text.startswith(("/", ".")):
        service, _, path = text.partition(":")
        return service, path
    return None, text


def cp(args: argparse.Namespace) -> int:
    from pycompose.compose import translate as T
    from pycompose.compose.errors import ComposeError

    C.refuse_dry_run(args, "cp")
    (ssvc, spath), (dsvc, dpath) = _split(args.src), _split(args.dst)
    if (ssvc is None) == (dsvc is None):
        raise ComposeError("copying between services or between local paths is not "
                           "supported: exactly one of SRC and DEST must be SERVICE:PATH")
    if "-" in (spath, dpath) and ((spath == "-" and ssvc is None) or (dpath == "-" and
                                  dsvc is None)):
        raise ComposeError("cp from or to a tar stream ('-') is not supported yet: use a "
                           "path")
    engine = C.engine(args)
    service = ssvc or dsvc
    assert service is not None
    _, recs = C.rows(args, True, [service], oneoff=False)
    if args.all:
        _, oneoffs = C.rows(args, True, [service], oneoff=True)
        recs += oneoffs
    if not args.all:
        idx = str(args.index or 1)
        recs = [r for r in recs if r.labels.get(T.LABEL_NUMBER) == idx]
    if not recs:
        raise ComposeError(f"service {service!r} has no container"
                           + (f" with index {args.index}" if args.index else ""))
    if ssvc is not None:
        engine.copy_from(recs[0].id, spath, dpath, follow_link=args.follow_link)
        return 0
    for r in recs:
        engine.copy_to(r.id, spath, dpath, follow_link=args.follow_link,
                       archive=args.archive)
    return 0


def commit(args: argparse.Namespace) -> int:
    C.refuse_dry_run(args, "commit")
    rec = C.service_container(args, args.service, args.index, running=False)
    image_id = C.engine(args).commit(rec.id, args.repository, message=args.message,
                                     author=args.author, changes=args.change,
                                     pause=args.pause != "false")
    print(image_id)
    return 0


def export(args: argparse.Namespace) -> int:
    from pycompose.compose.errors import ComposeError

    C.refuse_dry_run(args, "export")
    rec = C.service_container(args, args.service, args.index, running=False)
    engine = C.engine(args)
    if args.output:
        from pathlib import Path

        out = Path(args.output)
        tmp = out.with_name(f".{out.name}.part")
        try:
            with open(tmp, "wb") as f:
                engine.export(rec.id, f)
            tmp.replace(out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return 0
    if sys.stdout.isatty():
        raise ComposeError("refusing to export to terminal: use -o FILE or redirect "
                           "standard output")
    engine.export(rec.id, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


def attach(args: argparse.Namespace) -> int:
    """The service's container's output from now on, until it exits (its exit code);
    signals go to the container with ``--sig-proxy`` (the default). Its input stays
    where ``up`` put it: a detached container's stdin is not held open to attach to."""
    import signal

    import trio

    from pycompose.compose.attach import follow_logs
    from pycompose.engine.api import EngineError

    C.refuse_dry_run(args, "attach")
    rec = C.service_container(args, args.service, args.index)
    engine = C.engine(args)
    since = __import__("time").time_ns()

    async def main() -> int:
        async with trio.open_nursery() as n:
            if args.sig_proxy != "false":
                async def proxy() -> None:
                    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as sigs:
                        async for s in sigs:
                            with contextlib.suppress(EngineError):
                                await trio.to_thread.run_sync(engine.kill, rec.id,
                                                              signal.Signals(s).name)
                n.start_soon(proxy)

            async def output() -> None:
                await follow_logs(engine, [rec], C.write, follow=True, prefix=False,
                                  since=since)
                n.cancel_scope.cancel()
            n.start_soon(output)
        now: Any = await trio.to_thread.run_sync(engine.container, rec.id)
        return int(now.exit_code)
    return trio.run(main)

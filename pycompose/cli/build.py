"""``pycompose image build`` (and ``pycompose build PATH``, the docker CLI's shape): a
Dockerfile into an image, with docker's flags and progress output.

The builder (``engine.builder``) yields typed events; this module renders them:
``--progress plain`` (docker's ``#N`` lines with RUN output and times), ``tty`` (a live
view of the running steps), ``quiet`` (nothing), ``auto`` (tty on a terminal, else
plain). Progress goes to stderr; ``-q`` prints only the image id on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from pycompose.engine.api.build import BuildRequest, Event


def add_build_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("context", metavar="PATH|URL|-", help="the build context: a folder, or - (a "
      "Dockerfile, or a tar of the context, on standard input)")
    a("-t", "--tag", action="append", default=[], dest="tags", metavar="NAME[:TAG]",
      help="name the image (repeatable)")
    a("-f", "--file", metavar="PATH", help="the Dockerfile (default: PATH/Dockerfile; - "
      "reads it from standard input)")
    a("--build-arg", action="append", default=[], dest="build_args", metavar="KEY[=VALUE]",
      help="set a build argument (KEY alone takes the caller's value)")
    a("--target", default="", help="build this stage and what it needs, not the last one")
    a("--label", action="append", default=[], dest="labels", metavar="KEY=VALUE",
      help="set a label on the image")
    a("--no-cache", action="store_true", help="do not use the layer cache")
    a("--pull", action="store_true", help="always look for a newer base image")
    a("--cache-from", action="append", default=[], metavar="IMAGE",
      help="use the layers of IMAGE as a cache source")
    a("--secret", action="append", default=[], dest="secrets",
      metavar="id=ID[,src=PATH|,env=VAR]", help="a secret for RUN --mount=type=secret")
    a("--network", default="default", help="RUN's network: default (NAT), none or host")
    a("--add-host", action="append", default=[], dest="add_hosts", metavar="HOST:IP",
      help="an /etc/hosts entry for RUN steps")
    a("--shm-size", help="size of /dev/shm in RUN steps (e.g. 64m)")
    a("-q", "--quiet", action="store_true", help="print only the image id")
    a("--progress", default="auto", choices=["auto", "plain", "tty", "quiet", "rawjson"],
      help="progress output (default auto)")
    a("--iidfile", metavar="FILE", help="write the image id to FILE")
    a("--platform", default="", help="only this machine's platform can be built")
    a("--build-context", action="append", default=[], dest="build_contexts",
      metavar="NAME=PATH", help="an additional named context (COPY --from=NAME)")
    a("--rm", action="store_true", default=True, help=argparse.SUPPRESS)
    a("--force-rm", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_build)


def hook(sub: Any) -> None:
    """``image build``: its ~25 flags are added only when the verb is used."""
    s = sub.add_parser("build", help="Build an image from a Dockerfile")
    s.fill = add_build_flags


def register(p: argparse.ArgumentParser, command: str) -> None:
    """``pycompose build``: the docker CLI's ``build PATH`` or, in a compose project,
    ``docker compose build [SERVICE...]``; ``pycompose builder prune``."""
    if command == "builder":
        sub = p.add_subparsers(dest="verb", metavar="COMMAND")
        s = sub.add_parser("prune", help="Remove the build cache")
        s.add_argument("-a", "--all", action="store_true",
                       help="accepted for docker compatibility (everything is removed)")
        s.add_argument("-f", "--force", action="store_true", help="do not ask")
        s.set_defaults(handler=cmd_prune)
        return
    p.epilog = ("forms: pycompose build [--no-cache] [--pull] [--build-arg K=V] [-q] "
                "[--with-dependencies] [SERVICE...] (the project's services), or "
                "pycompose build [-t NAME] [-f FILE] ... PATH|- (a Dockerfile, as "
                "pycompose image build; see pycompose image build --help)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="[SERVICE...] | PATH")
    p.set_defaults(handler=cmd_top)


def cmd_prune(args: argparse.Namespace) -> int:
    """``builder prune``: the cached layers no image uses, the images RUN steps ran in,
    and the cache mounts; docker's output."""
    from pycompose.engine.api.build import prune_cache

    records, mounts = prune_cache()
    print(f"Deleted build cache objects: {records + mounts}")
    return 0


def cmd_top(args: argparse.Namespace) -> int:
    """Dispatch ``pycompose build ...`` to the docker-CLI form or the compose form."""
    from pycompose.cli.parsing import _Parser

    argv = list(args.args)
    if _is_docker_form(argv):
        p = _Parser(prog="pycompose build", description="Build an image from a Dockerfile")
        add_build_flags(p)
        sub = p.parse_args(argv)
        sub.global_options = args.global_options
        return cmd_build(sub)
    p = _Parser(prog="pycompose build", description="Build the project's services (or, "
                "with a PATH, an image from a Dockerfile: pycompose build PATH)")
    add_compose_build_flags(p)
    sub = p.parse_args(argv)
    sub.global_options = args.global_options
    for k, v in vars(args.global_options).items():
        if not hasattr(sub, k):
            setattr(sub, k, v)
    return compose_build(sub)


def add_compose_build_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("services", nargs="*", metavar="SERVICE")
    a("--no-cache", action="store_true", help="do not use the layer cache")
    a("--pull", action="store_true", help="always look for newer base images")
    a("--build-arg", action="append", default=[], dest="build_args", metavar="KEY[=VALUE]",
      help="set a build argument for every service's build")
    a("-q", "--quiet", action="store_true", help="no output")
    a("--progress", default="plain", choices=["auto", "plain", "tty", "quiet"],
      help="progress output (default plain)")
    a("--with-dependencies", action="store_true",
      help="also build the services the named ones depend on")
    a("--parallel", action="store_true", help=argparse.SUPPRESS)  # always in parallel


class ServiceProgress:
    """The progress of several builds at once (compose), one line at a time, each
    prefixed with its service. Thread-safe: the builds run in worker threads."""

    def __init__(self, out: TextIO, quiet: bool = False) -> None:
        import threading

        self.out = out
        self.quiet = quiet
        self.lock = threading.Lock()
        self.renderers: dict[str, PlainProgress] = {}
        self.width = 0

    def __call__(self, service: str, ev: Event) -> None:
        if self.quiet:
            return
        with self.lock:
            r = self.renderers.get(service)
            if r is None:
                out: Any = _Prefixed(self.out, service)
                r = self.renderers[service] = PlainProgress(out)
            r(ev)


class _Prefixed:
    """A text stream that writes ``SERVICE  `` before every non-empty line."""

    def __init__(self, out: TextIO, service: str) -> None:
        self.out = out
        self.prefix = f"{service} "

    def write(self, text: str) -> int:
        for line in text.splitlines(keepends=True):
            if line.strip():
                self.out.write(self.prefix + line)
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return False


def ensure_built(project: Any, engine: Any, names: list[str], policy: str) -> None:
    """Build what ``names`` need before compose creates their containers (``run``,
    ``create``): by ``policy`` (``always``: --build, ``never``: --no-build, else the
    missing images); the progress on stderr."""
    import trio

    from pycompose.compose import build as B
    from pycompose.compose import translate as T

    every = project.all_services()
    images = {T.image_of(project, n, every[n]): engine.image_id(T.image_of(project, n,
                                                                             every[n]))
              for n in names}
    todo = B.plan_builds(project, names, images, policy)
    if todo:
        trio.run(lambda: B.build_services(project, todo, B.BuildOptions(),
                                          ServiceProgress(sys.stderr),
                                          root=getattr(engine, "root", None)))


def compose_build(args: argparse.Namespace) -> int:
    """``pycompose build [SERVICE...]``: the project's services with ``build:``, all at
    once, as docker compose builds them."""
    import trio

    from pycompose.compose import build as B
    from pycompose.compose import plan as P

    from .project import load_project

    project = load_project(args)
    names = P.selected_services(P.enable(project, args.services), args.services,
                                args.with_dependencies)
    every = project.all_services()
    names = [n for n in names if B.buildable(every[n])]
    if args.services:
        for n in args.services:
            if not B.buildable(every[n]):
                print(f"{n} uses an image, skipping", file=sys.stderr)
    opts = B.BuildOptions(no_cache=args.no_cache, pull=args.pull,
                          build_args=parse_build_args(args.build_args))
    render = ServiceProgress(sys.stderr, quiet=args.quiet or args.progress == "quiet")
    trio.run(lambda: B.build_services(P.enable(project, args.services), names, opts, render))
    return 0


def _is_docker_form(argv: list[str]) -> bool:
    """``build PATH``, ``build -``, ``build -t x .``: the docker CLI; anything else (no
    argument, or service names) is the compose command."""
    positional = []
    skip = False
    with_value = {"-t", "--tag", "-f", "--file", "--build-arg", "--target", "--label",
                  "--cache-from", "--secret", "--network", "--add-host", "--shm-size",
                  "--progress", "--iidfile", "--platform", "--build-context", "--ssh",
                  "-m", "--memory", "--builder"}
    docker_only = {"-t", "--tag", "-f", "--file", "--target", "--label", "--secret",
                   "--network", "--add-host", "--shm-size", "--iidfile", "--cache-from",
                   "--platform", "--build-context", "--progress"}
    seen_docker_flag = False
    for a in argv:
        if skip:
            skip = False
            continue
        flag = a.split("=", 1)[0]
        if flag in with_value and "=" not in a:
            skip = True
        if flag in docker_only:
            seen_docker_flag = True
        if not a.startswith("-") or a == "-":
            positional.append(a)
    if len(positional) != 1:
        return bool(seen_docker_flag and positional)
    word = positional[0]
    if word == "-" or word.startswith((".", "/", "~")) or "/" in word or "://" in word:
        return True
    if Path(word).is_dir():
        return not _is_service(word)
    return seen_docker_flag


def _is_service(name: str) -> bool:
    """Whether a compose project here has a service ``name`` (the compose form wins)."""
    for f in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"):
        p = Path(f)
        if p.is_file():
            try:
                text = p.read_text(errors="replace")
            except OSError:
                return False
            import re

            return re.search(rf"(?m)^\s+{re.escape(name)}\s*:", text) is not None
    return False


# -- the request ---------------------------------------------------------------------------
def _env_value(key: str) -> str | None:
    return os.environ.get(key)


def parse_build_args(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not k:
            from pycompose.engine.errors import InvalidArgument

            raise InvalidArgument(f"--build-arg {item!r}: give KEY=VALUE or KEY")
        if eq:
            out[k] = v
        else:
            value = _env_value(k)
            if value is not None:  # docker: a bare KEY takes the caller's value, if set
                out[k] = value
    return out


def parse_secret(text: str) -> Any:
    """``id=x,src=path`` | ``id=x,env=VAR`` | ``id=x`` (the env var or file named x)."""
    from pycompose.engine.api.build import Secret
    from pycompose.engine.errors import InvalidArgument

    fields: dict[str, str] = {}
    for part in text.split(","):
        k, eq, v = part.partition("=")
        if not eq:
            raise InvalidArgument(f"--secret {text!r}: use id=ID,src=PATH or id=ID,env=VAR")
        fields[k.strip().lower()] = v
    sid = fields.get("id", "")
    if not sid:
        raise InvalidArgument(f"--secret {text!r}: id= is required")
    typ = fields.get("type", "")
    src = fields.get("src") or fields.get("source") or ""
    env = fields.get("env", "")
    if typ == "env" and not env:
        env = src or sid
        src = ""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise InvalidArgument(f"--secret {text!r}: the environment variable {env} is "
                                  "not set")
        return Secret(sid, value=value.encode())
    if not src:
        if sid in os.environ:
            return Secret(sid, value=os.environ[sid].encode())
        src = sid
    path = Path(src).expanduser()
    if not path.is_file():
        raise InvalidArgument(f"--secret {text!r}: {src}: no such file")
    return Secret(sid, path=str(path.absolute()))


def make_request(args: argparse.Namespace) -> BuildRequest:
    from pycompose.engine.api.build import BuildRequest
    from pycompose.engine.errors import InvalidArgument
    from pycompose.util.units import parse_size

    req = BuildRequest()
    ctx = args.context
    stdin_used = False
    if "://" in ctx and not ctx.startswith("file://"):
        raise InvalidArgument(f"context {ctx}: remote contexts (git, http) are not "
                              "supported; clone or download it and give the folder")
    if ctx == "-":
        stdin_used = True
        data = sys.stdin.buffer.read()
        if _looks_like_tar(data):
            import io

            req.context_tar = io.BytesIO(data)
        else:
            req.dockerfile_text = data.decode(errors="replace")
    else:
        req.context = Path(ctx).expanduser().absolute()
        if not req.context.is_dir():
            raise InvalidArgument(f"unable to prepare context: path {ctx!r} not found or "
                                  "not a directory")
    if args.file == "-":
        if stdin_used:
            raise InvalidArgument("-f - and a context of - both want standard input")
        req.dockerfile_text = sys.stdin.read()
    elif args.file:
        req.dockerfile = Path(args.file).expanduser().absolute()
    req.tags = list(args.tags)
    req.build_args = parse_build_args(args.build_args)
    req.target = args.target
    for item in args.labels:
        k, _, v = item.partition("=")
        req.labels[k] = v
    req.no_cache = args.no_cache
    req.pull = args.pull
    req.cache_from = list(args.cache_from)
    req.secrets = [parse_secret(s) for s in args.secrets]
    if args.network not in ("default", "none", "host", "bridge"):
        raise InvalidArgument(f"--network {args.network}: a build can use default, none or "
                              "host")
    req.network = args.network
    for h in args.add_hosts:
        if ":" not in h and "=" not in h:
            raise InvalidArgument(f"--add-host {h!r}: use HOST:IP")
        req.extra_hosts.append(h.replace("=", ":", 1) if "=" in h else h)
    if args.shm_size:
        try:
            req.shm_size = parse_size(args.shm_size)
        except ValueError as e:
            raise InvalidArgument(f"--shm-size: {e}") from None
    req.platform = args.platform
    for item in args.build_contexts:
        name, eq, path = item.partition("=")
        if not eq or not name:
            raise InvalidArgument(f"--build-context {item!r}: use NAME=PATH")
        req.additional_contexts[name] = Path(path).expanduser().absolute()
    return req


def _looks_like_tar(data: bytes) -> bool:
    if data[:2] == b"\x1f\x8b" or data[:4] == b"\x28\xb5\x2f\xfd" or data[:3] == b"BZh" \
            or data[:6] == b"\xfd7zXZ\x00":
        return True
    return len(data) >= 262 and data[257:262] == b"ustar"


# -- progress ------------------------------------------------------------------------------
class PlainProgress:
    """docker buildx's ``--progress plain``: ``#N`` lines, RUN output with its time."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.partial: dict[int, bytes] = {}
        self.started: set[int] = set()

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _flush(self, v: int, seconds: float | None = None) -> None:
        rest = self.partial.pop(v, b"")
        if rest:
            t = f"{seconds:.3f} " if seconds is not None else ""
            self._line(f"#{v} {t}{rest.decode(errors='replace')}")

    def __call__(self, ev: Event) -> None:
        from pycompose.engine.api.build import events as E

        if isinstance(ev, E.StepStarted):
            self._line("")
            self._line(f"#{ev.vertex} {ev.name}")
        elif isinstance(ev, E.StepOutput):
            buf = self.partial.get(ev.vertex, b"") + ev.data
            *lines, rest = buf.split(b"\n")
            for ln in lines:
                self._line(f"#{ev.vertex} {ev.seconds:.3f} "
                           f"{ln.decode(errors='replace').rstrip(chr(13))}")
            self.partial[ev.vertex] = rest
        elif isinstance(ev, E.StepCached):
            self._flush(ev.vertex)
            self._line(f"#{ev.vertex} CACHED")
        elif isinstance(ev, E.StepDone):
            self._flush(ev.vertex)
            self._line(f"#{ev.vertex} DONE {ev.seconds:.1f}s")
        elif isinstance(ev, E.StepFailed):
            self._flush(ev.vertex)
            self._line(f"#{ev.vertex} ERROR: {ev.message}")
        elif isinstance(ev, E.Note):
            prefix = f"#{ev.vertex} " if ev.vertex else ""
            self._line(f"{prefix}{'WARNING: ' if ev.warning else ''}{ev.message}")


class TtyProgress:
    """A live view: finished steps stay as one line each (with CACHED or their time);
    the running steps are redrawn under them with their last lines of output."""

    TAIL = 6

    def __init__(self, out: TextIO) -> None:
        import time

        self.out = out
        self.t0 = time.monotonic()
        self.names: dict[int, str] = {}
        self.tails: dict[int, list[str]] = {}
        self.partial: dict[int, bytes] = {}
        self.running: list[int] = []
        self.drawn = 0
        self.total = 0
        self.finished = 0
        try:
            self.width = os.get_terminal_size(out.fileno()).columns
        except (OSError, ValueError):
            self.width = 100

    def _clip(self, s: str) -> str:
        return s if len(s) < self.width else s[: self.width - 1]

    def _erase(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}F\x1b[J")
        self.drawn = 0

    def _draw(self) -> None:
        import time

        lines = [f"[+] Building {time.monotonic() - self.t0:.1f}s "
                 f"({self.finished}/{self.total})"]
        for v in self.running:
            lines.append(f" => {self.names[v]}")
            for t in self.tails.get(v, [])[-self.TAIL:]:
                lines.append(f"\x1b[2m => => # {t}\x1b[0m")
        self.out.write("".join(self._clip(ln) + "\n" for ln in lines))
        self.drawn = len(lines)
        self.out.flush()

    def _finish(self, v: int, status: str) -> None:
        self._erase()
        if v in self.running:
            self.running.remove(v)
        self.finished += 1
        self.out.write(self._clip(f" => {self.names.get(v, '')}  {status}") + "\n")
        self._draw()

    def __call__(self, ev: Event) -> None:
        from pycompose.engine.api.build import events as E

        if isinstance(ev, E.StepStarted):
            self.total += 1
            self.names[ev.vertex] = ev.name
            self.running.append(ev.vertex)
            self._erase()
            self._draw()
        elif isinstance(ev, E.StepOutput):
            buf = self.partial.get(ev.vertex, b"") + ev.data
            *lines, rest = buf.split(b"\n")
            self.partial[ev.vertex] = rest
            if lines:
                self.tails.setdefault(ev.vertex, []).extend(
                    ln.decode(errors="replace").rstrip("\r") for ln in lines)
                self._erase()
                self._draw()
        elif isinstance(ev, E.StepCached):
            self._finish(ev.vertex, "CACHED")
        elif isinstance(ev, E.StepDone):
            self._finish(ev.vertex, f"{ev.seconds:.1f}s")
        elif isinstance(ev, E.StepFailed):
            rest = self.partial.pop(ev.vertex, b"")
            if rest:
                self.tails.setdefault(ev.vertex, []).append(rest.decode(errors="replace"))
            tail = self.tails.get(ev.vertex, [])
            self._finish(ev.vertex, "ERROR")
            self._erase()
            for t in tail[-20:]:
                self.out.write(f" > {t}\n")
            self._draw()
        elif isinstance(ev, E.Note):
            self._erase()
            self.out.write(("WARNING: " if ev.warning else " => ") + ev.message + "\n")
            self._draw()
        elif isinstance(ev, E.Finished):
            self._erase()
            self.out.write(f"[+] Building {ev.seconds:.1f}s ({self.finished}/{self.total}) "
                           "FINISHED\n")
            self.out.flush()


def renderer(mode: str, quiet: bool, out: TextIO) -> Any:
    if quiet or mode == "quiet":
        return lambda ev: None
    if mode == "auto":
        mode = "tty" if out.isatty() and os.environ.get("TERM", "dumb") != "dumb" else "plain"
    if mode == "rawjson":
        import json

        from pycompose.util.plain import to_plain

        def raw(ev: Event) -> None:
            d = to_plain(ev)
            d["type"] = type(ev).__name__
            if isinstance(d.get("data"), bytes):
                d["data"] = d["data"].decode(errors="replace")
            out.write(json.dumps(d) + "\n")
            out.flush()
        return raw
    return TtyProgress(out) if mode == "tty" else PlainProgress(out)


def cmd_build(args: argparse.Namespace) -> int:
    from pycompose.engine.api.build import build

    req = make_request(args)
    emit = renderer(args.progress, args.quiet, sys.stderr)
    result = build(req, emit)
    if args.iidfile:
        Path(args.iidfile).write_text(result.image_id)
    if args.quiet:
        print(result.image_id)
    return 0

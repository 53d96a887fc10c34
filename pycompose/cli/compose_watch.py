"""``watch`` (and ``up --watch``): follow ``develop.watch`` of the services.

Each rule names a ``path`` on the host and an ``action``: ``sync`` copies a changed
file into the running container at ``target`` (through the engine's confined copy,
never by joining paths), ``sync+restart`` also restarts the container, ``restart``
only restarts it, ``rebuild`` takes the service through ``up`` again (its image is
built by ``up --build`` where builds exist); ``ignore`` patterns (and the
``.dockerignore``-like defaults: ``.git``, ``__pycache__``, editor swap files) are
skipped. Changes arrive from the kernel (inotify, one watch per folder, folders made
later added as they appear), not by polling; a burst of events is gathered for a short
quiet time (docker compose's debounce) and acted on once.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import fnmatch
import os
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import compose_common as C

IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_ISDIR, IN_NONBLOCK, IN_CLOEXEC = 0x400, 0x40000000, 0o4000, 0o2000000
MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB \
    | IN_MODIFY | IN_DELETE_SELF
DEBOUNCE = 0.2
DEFAULT_IGNORE = (".git", ".git/*", "*/.git/*", "__pycache__", "*/__pycache__/*", "*.swp",
                  "*.swx", "*~", ".#*", "4913")


def register(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument("--no-up", action="store_true", help="do not build & start services "
                   "before watching")
    p.add_argument("--prune", action="store_true", help="prune dangling images on rebuild")
    p.add_argument("--quiet", action="store_true", help="hide build output")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(handler=watch)


class Inotify:
    """The kernel's inotify, through libc (no extra package): a recursive watch
    of folders; :meth:`read` returns the changed paths."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            e = ctypes.get_errno()
            from pycompose.compose.errors import ComposeError

            raise ComposeError(f"watch: inotify_init1 failed: {os.strerror(e)} (see "
                               "fs.inotify.max_user_instances)")
        self.dirs: dict[int, Path] = {}

    def add_tree(self, top: Path) -> None:
        if top.is_file():
            self._watch(top.parent)
            return
        for folder, subdirs, _ in os.walk(top):
            subdirs[:] = [d for d in subdirs if d not in (".git", "__pycache__")]
            self._watch(Path(folder))

    def _watch(self, folder: Path) -> None:
        wd = self._add(self.fd, os.fsencode(folder), MASK)
        if wd < 0:
            e = ctypes.get_errno()
            from pycompose.compose.errors import ComposeError

            raise ComposeError(f"watch: cannot watch {folder}: {os.strerror(e)} (see "
                               "fs.inotify.max_user_watches)")
        self.dirs[wd] = folder

    def read(self) -> list[Path]:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out: list[Path] = []
        i = 0
        while i + 16 <= len(data):
            wd, mask, _cookie, length = struct.unpack_from("iIII", data, i)
            name = data[i + 16:i + 16 + length].rstrip(b"\0")
            i += 16 + length
            base = self.dirs.get(wd)
            if base is None:
                continue
            path = base / os.fsdecode(name) if name else base
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                with contextlib.suppress(Exception):
                    self.add_tree(path)
            out.append(path)
        return out

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class Rule:
    service: str
    path: Path
    action: str
    target: str | None
    ignore: list[str] = field(default_factory=list)
    initial_sync: bool = False

    def covers(self, changed: Path) -> str | None:
        """The path of ``changed`` relative to the rule's, if the rule covers it."""
        try:
            rel = changed.relative_to(self.path)
        except ValueError:
            return None
        text = rel.as_posix()
        for pat in [*DEFAULT_IGNORE, *self.ignore]:
            if fnmatch.fnmatch(text, pat) or fnmatch.fnmatch(changed.name, pat) or \
                    any(fnmatch.fnmatch(part, pat) for part in rel.parts):
                return None
        return text


def rules_of(project: Any, services: list[str]) -> list[Rule]:
    from pycompose.compose.errors import ComposeError

    out = []
    every = project.all_services()
    for name in services or sorted(project.services):
        svc = every.get(name)
        if svc is None:
            raise ComposeError(f"no such service: {name}")
        for w in (svc.develop.watch if svc.develop and svc.develop.watch else []):
            path = Path(w.path)
            if not path.is_absolute():
                path = Path(project.working_dir) / path
            if w.action in ("sync", "sync+restart") and not w.target:
                raise ComposeError(f"services.{name}.develop.watch: action {w.action} "
                                   "needs a target")
            if w.action == "sync+exec":
                raise ComposeError(f"services.{name}.develop.watch: action sync+exec is "
                                   "not supported yet (sync, sync+restart, restart, "
                                   "rebuild are)")
            out.append(Rule(name, path.resolve(), w.action, w.target, list(w.ignore or []),
                            bool(w.initial_sync)))
    if not out:
        raise ComposeError("none of the selected services is configured for watch, "
                           "consider setting a 'develop' section")
    return out


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _apply(args: argparse.Namespace, project: Any, rule: Rule, changes: list[str],
           quiet: bool) -> None:
    """Carry one rule's gathered changes out on the service's running containers."""
    import posixpath

    from pycompose.engine.api import EngineError

    engine = C.engine(args)
    _, recs = C.rows(args, False, [rule.service])
    if rule.action == "rebuild":
        import trio

        from pycompose.compose import orchestrate as O

        _say(f"Rebuilding service {rule.service!r} after changes were detected...")
        progress = C.progress(args)
        try:
            trio.run(O.up, project, engine, O.UpOptions(services=[rule.service],
                                                        detach=True, no_deps=True,
                                                        force_recreate=True), progress)
        finally:
            from .compose_progress import close

            close(progress)
        return
    for rec in recs:
        if rule.action in ("sync", "sync+restart"):
            assert rule.target is not None
            for rel in changes:
                src = rule.path / rel if rel != "." else rule.path
                dest = posixpath.join(rule.target, rel) if rel != "." else rule.target
                try:
                    if src.is_dir():
                        continue  # its files come as their own events
                    if src.exists():
                        try:
                            engine.copy_to(rec.id, str(src), dest)
                        except EngineError:
                            # a folder missing on the way: the rule's whole tree
                            # (docker cp of DIR/. makes the target and its folders)
                            engine.copy_to(rec.id, f"{rule.path}/.", rule.target)
                    else:
                        _say(f"watch: {src} was removed (removing in the container is "
                             "not done)")
                        continue
                except EngineError as e:
                    _say(f"watch: syncing {src} to {rec.name}:{dest} failed: {e}")
                    continue
            if not quiet:
                _say(f"Syncing service {rule.service!r} after {len(changes)} changed "
                     "files were detected")
        if rule.action in ("restart", "sync+restart"):
            _say(f"Restarting service {rule.service!r} after changes were detected")
            engine.restart(rec.id)


def watch_project(args: argparse.Namespace, project: Any, *, quiet: bool) -> int:
    """Until Ctrl-C: the kernel's change events, gathered and acted on."""
    import select

    rules = rules_of(project, list(getattr(args, "services", []) or []))
    ino = Inotify()
    try:
        for r in rules:
            if not r.path.exists():
                from pycompose.compose.errors import ComposeError

                raise ComposeError(f"services.{r.service}.develop.watch: path {r.path} "
                                   "does not exist")
            ino.add_tree(r.path)
        for r in rules:  # initial_sync: what is there now, before any change
            if r.initial_sync and r.action in ("sync", "sync+restart"):
                files = [p.relative_to(r.path).as_posix() for p in sorted(r.path.rglob("*"))
                         if p.is_file()] if r.path.is_dir() else ["."]
                hits = [f for f in files if f == "." or r.covers(r.path / f) is not None]
                if hits:
                    _apply(args, project, Rule(r.service, r.path, "sync", r.target, r.ignore),
                           hits, quiet)
        _say("Watch enabled")
        try:
            while True:
                select.select([ino.fd], [], [])
                changed = ino.read()
                deadline = time.monotonic() + DEBOUNCE
                while (left := deadline - time.monotonic()) > 0:  # gather a burst
                    r2, _, _ = select.select([ino.fd], [], [], left)
                    if r2:
                        changed += ino.read()
                for rule in rules:
                    hits = sorted({h for c in changed if (h := rule.covers(c)) is not None})
                    if hits:
                        _apply(args, project, rule, hits, quiet)
        except KeyboardInterrupt:
            return 0
    finally:
        ino.close()


def watch(args: argparse.Namespace) -> int:
    import trio

    from pycompose.compose import orchestrate as O

    C.refuse_dry_run(args, "watch")
    project = C.load_project(args)
    rules_of(project, list(args.services))  # refuse a project with nothing to watch
    if not args.no_up:
        progress = C.progress(args)
        try:
            with C.project_lock(project.name):
                trio.run(O.up, project, C.engine(args),
                         O.UpOptions(services=list(args.services), detach=True), progress)
        finally:
            from .compose_progress import close

            close(progress)
    return watch_project(args, project, quiet=args.quiet)

"""A COPY from the build context prepared while the RUN before it runs.

Why: a RUN that installs packages keeps one core busy for seconds, and the COPY of
the application's files that usually follows it (``RUN apt-get install ...`` then
``COPY . /app``) waited for it to end before reading a byte. What a plain COPY writes
does not depend on the image below it, only where it lands does: so while the RUN
runs, its files are copied into a staging tree of the build's workspace, on the same
filesystem as the step's upper directory, owners and modes as COPY gives them.

When the COPY's turn comes, :func:`land` checks that the staging is what the step
would write now (the same expanded sources, destination, owner and mode, and the same
content digest) and that the destination can take the staged entries without a merge:
the destination is made through the overlay of the parent (so the copy-ups, opaque
marks and owners are the kernel's), its path as written has no symlink (so it is the
same path in the upper directory), and none of the staged names exists there yet. Then
the overlay is closed and the staged entries are renamed into the upper directory:
the data is not copied a second time. Anything else (a name already there, a symlink on
the way, a changed file, a failed copy) falls back to the ordinary copy through the
overlay, which gives the same layer.

Only the simplest COPY qualifies: from the context, no ``--from``, ``--link``,
``--exclude``, heredoc or ADD, a destination ending in ``/``, and ``--chown`` by
number (a name is looked up in the image, which is not made yet).
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import shutil
import threading
from pathlib import Path

from pycompose.util.records import record

from ..confined import kernel as K
from .context import Context
from .copy import Target, copy_sources, parse_chmod
from .dockerfile import Add, Copy, Instruction
from .state import State

log = logging.getLogger("pycompose.build")

_NO_LINKS = K.RESOLVE_NO_SYMLINKS | K.RESOLVE_BENEATH | K.RESOLVE_NO_MAGICLINKS


@record(frozen=True)
class Plan:
    """What a COPY writes, as far as it is known before its parent is made."""

    dest: str  # expanded, ends with /
    rels: tuple[str, ...]  # the context paths the sources resolve to
    owner: tuple[int, int] | None  # --chown by number
    chmod: int | None
    many: bool


def _numeric_owner(spec: str) -> tuple[int, int] | None:
    user, sep, group = spec.partition(":")
    if not user.isdigit() or (sep and group and not group.isdigit()):
        return None
    uid = int(user)
    return uid, int(group) if sep and group else uid


def plan_for(dockerfile: object, state: State, ins: Instruction, context: Context,
             ) -> Plan | None:
    """The plan of ``ins`` if it is a COPY that can be staged, else None. Never
    raises: an instruction with an error is left to its step to report."""
    if not isinstance(ins, Copy) or isinstance(ins, Add) or ins.from_ or ins.link \
            or ins.contents or ins.exclude or context.root is None:
        return None
    df = dockerfile
    try:
        env = state.expansion_env()
        dest = df.expand(ins.dest, env, ins.line)  # type: ignore[attr-defined]
        if not dest.endswith("/"):
            return None  # a file source's name would depend on the image below
        sources = [df.expand(s, env, ins.line) for s in ins.sources]  # type: ignore[attr-defined]
        owner = None
        if ins.chown:
            owner = _numeric_owner(df.expand(ins.chown, env, ins.line))  # type: ignore[attr-defined]
            if owner is None:
                return None
        chmod = None
        if ins.chmod:
            chmod = parse_chmod(df.expand(ins.chmod, env, ins.line), "COPY")  # type: ignore[attr-defined]
        rels: list[str] = []
        for s in sources:
            if s.startswith(("http://", "https://")):
                return None
            rels += context.resolve(s, "COPY")
    except Exception as e:  # the step itself reports what is wrong
        log.debug("COPY at line %s not staged: %s", ins.line, e)
        return None
    if not rels:
        return None
    return Plan(dest, tuple(rels), owner, chmod, len(sources) > 1 or len(rels) > 1)


def _top_names(context: Context, rels: tuple[str, ...]) -> set[str]:
    """The names a COPY of ``rels`` writes into its destination (a superset: ignored
    ones too, which only makes the check below more careful)."""
    names: set[str] = set()
    for rel in rels:
        e = context.entry(rel, follow=True)
        if e.kind == "dir":
            fd = context.open_path(rel, os.O_RDONLY | os.O_DIRECTORY)
            try:
                names.update(os.listdir(fd))
            finally:
                os.close(fd)
        else:
            names.add(posixpath.basename(rel))
    return names


def _taken(below: Below, names: set[str]) -> bool:
    """Whether the image the RUN starts from has one of ``names`` in the COPY's
    destination already: then the step will merge, and staging would be wasted."""
    from ..confined import Root
    from .overlay import mounted

    with mounted(below.lowers, empty=below.empty) as fd:
        root = Root(os.dup(fd))  # closes its own fd
        try:
            try:
                dfd = root.opendir(below.dest_abs.strip("/") or ".")
            except OSError:
                return False  # not there yet (or no directory: the step tells)
            try:
                return bool(names & set(os.listdir(dfd)))
            finally:
                os.close(dfd)
        finally:
            root.close()


@record(frozen=True)
class Below:
    """The image a RUN starts from, and where the COPY after it writes in it."""

    lowers: list[str]
    empty: str
    dest_abs: str


class Staged:
    """One COPY's files being copied into ``tree`` by a thread of their own (unless
    the image below has names of theirs at the destination already)."""

    def __init__(self, plan: Plan, context: Context, scratch: Path,
                 below: Below | None = None) -> None:
        self.plan = plan
        self._below = below
        self.tree = scratch / "tree"
        self.tree.mkdir()
        self.names: list[str] | None = None
        self.digest = ""  # of the sources, as the step's cache key has it
        self._context = context
        self._thread = threading.Thread(target=self._copy, daemon=True,
                                        name="pycompose-build-prefetch")
        self._thread.start()

    def _copy(self) -> None:
        if self._below is not None:
            try:
                if _taken(self._below, _top_names(self._context, self.plan.rels)):
                    return  # names None: the step copies as usual
            except Exception as e:  # the step copies, and reports what is wrong
                log.debug("COPY to %s not staged: %s", self._below.dest_abs, e)
                return
        fd = os.open(self.tree, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.digest = self._context.digest(list(self.plan.rels), "COPY")
            target = Target(fd, self.plan.owner, self.plan.chmod)
            try:
                copy_sources(self._context, target, list(self.plan.rels), "/", workdir="/",
                             what="COPY", many=self.plan.many)
            finally:
                target.close()
            self.names = sorted(os.listdir(self.tree))
        except Exception as e:  # the step copies again, and reports what is wrong
            log.debug("staging %s failed: %s", self.plan.dest, e)
            self.names = None
        finally:
            os.close(fd)

    def wait(self) -> None:
        self._thread.join()

    def take(self, plan: Plan | None, digest: str) -> list[str] | None:
        """The staged top-level names if the staging is ``plan``'s, of the sources
        whose digest is ``digest``, and complete; else None (and it is removed)."""
        self.wait()
        if plan != self.plan or self.names is None or digest != self.digest:
            self.discard()
            return None
        return self.names

    def discard(self) -> None:
        self.wait()
        shutil.rmtree(self.tree, ignore_errors=True)


def make_room(target: Target, root_fd: int, dest_abs: str, names: list[str]) -> bool:
    """Make the destination ``dest_abs`` through the overlay mounted at ``root_fd``
    (with ``target``'s owner) and copy it up; True when the staged ``names`` can be
    renamed into the upper directory at the same path: no symlink on the way, and no
    entry of those names there yet."""
    rel = dest_abs.strip("/") or "."
    try:
        dfd = target.dir_fd(dest_abs)
    except OSError:
        return False  # the ordinary copy says why
    try:
        try:
            nfd = K.openat2(root_fd, rel, os.O_RDONLY | os.O_DIRECTORY, resolve=_NO_LINKS)
        except OSError:
            return False  # a symlink on the way: the upper has it elsewhere
        try:
            a, b = os.fstat(dfd), os.fstat(nfd)
            if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
                return False
        finally:
            os.close(nfd)
        for n in names:
            try:
                os.lstat(n, dir_fd=dfd)
                return False  # a merge: the ordinary copy does it
            except FileNotFoundError:
                continue
        # the same owner again: overlayfs copies the directory (and its parents) up,
        # so that it is in the upper directory to rename into
        os.fchown(dfd, a.st_uid, a.st_gid)
        return True
    except OSError as e:
        log.debug("COPY to %s: staged files not used: %s", dest_abs, e)
        return False
    finally:
        os.close(dfd)


def move_in(staged: Staged, names: list[str], upper: Path, dest_abs: str) -> None:
    """Rename the staged entries into ``upper`` at ``dest_abs`` (the overlay that made
    it is closed: the upper directory is a plain directory again)."""
    ufd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        rel = dest_abs.strip("/") or "."
        dfd = K.openat2(ufd, rel, os.O_RDONLY | os.O_DIRECTORY, resolve=_NO_LINKS)
    finally:
        os.close(ufd)
    sfd = os.open(staged.tree, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for n in names:
            os.rename(n, n, src_dir_fd=sfd, dst_dir_fd=dfd)
    finally:
        os.close(sfd)
        os.close(dfd)
    with contextlib.suppress(OSError):
        os.rmdir(staged.tree)


def dest_abs_of(dest: str, workdir: str) -> str:
    d = posixpath.normpath(posixpath.join(workdir or "/", dest))
    return d if d.startswith("/") else "/" + d

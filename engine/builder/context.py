"""The build context: the files a build may read, and nothing else.

A context is a folder (``image build DIR``), a tar read from standard input (unpacked
once, with the image store's safe unpacking, into a private folder under the state
root), or nothing at all (``image build -``: a Dockerfile on stdin, no files).

Guarantees:

- read only: the builder opens files here with ``O_RDONLY``; nothing is ever written;
- never outside the folder: a source path that climbs out lexically (``COPY ../x``) is
  refused naming the Dockerfile's line; symlinks are resolved by the kernel *inside* the
  folder (``openat2(RESOLVE_IN_ROOT)``), so ``link -> /etc`` means ``<context>/etc``;
  inside copied directories symlinks are copied as symlinks, never followed;
- ``.dockerignore`` hides what it names from every source, glob and checksum.

Checksums: what COPY/ADD read is summed (path, type, mode, content or link target) into
one digest, an input of the layer cache's key. File contents are hashed once; the
digests are remembered per context folder by (size, mtime, ctime, inode), so a rebuild
hashes only what changed (as git's index does).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import posixpath
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from pycompose.util.records import field, record

from ..confined import kernel as confined
from ..errors import InvalidArgument, NotFound
from .ignore import IgnoreError, Matcher, read_patterns

__all__ = ["Context", "Entry", "SumCache", "escapes_context", "glob_match"]


@record(frozen=True)
class Entry:
    """One file of the context, as a COPY sees it."""

    rel: str  # slash path relative to the context root ("" is the root)
    kind: str  # "file", "dir", "symlink", "other"
    mode: int  # permission bits (and setuid/sticky)
    size: int
    mtime_ns: int
    link: str = ""  # a symlink's target
    #: (size, mtime, ctime, inode): what the digest cache trusts a file's sum by
    stamp: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def name(self) -> str:
        return posixpath.basename(self.rel)


def _kind(st: os.stat_result) -> str:
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    return "other"


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def escapes_context(path: str) -> bool:
    """Whether ``path`` climbs out of the context lexically (``../x``, ``a/../../b``)."""
    norm = posixpath.normpath(path.lstrip("/") or ".")
    return norm == ".." or norm.startswith("../")


_MAGIC = re.compile(r"[*?\[\\]")


def has_glob(pattern: str) -> bool:
    return bool(_MAGIC.search(pattern))


def glob_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one path component (``*``, ``?``, ``[...]``, ``\\``)."""
    rx: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            rx.append("[^/]*")
        elif ch == "?":
            rx.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            rx.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise InvalidArgument(f"syntax error in pattern {pattern!r}")
            body = pattern[i + 1:end]
            neg = body.startswith("^")
            rx.append("[" + ("^" if neg else "") + body[1 if neg else 0:].replace("\\", "\\\\")
                      + "]")
            i = end
        else:
            rx.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(rx), name, re.DOTALL) is not None


class SumCache:
    """Content digests of a context's files, remembered between builds by stat.

    Stored at ``$ROOT/build/sums/<hash of the folder>.json`` (0600). An entry is trusted
    when size, mtime, ctime and inode are unchanged; a file modified in the last two
    seconds is hashed again next time too (a write within one timestamp tick)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list[int | str]] = {}
        self.dirty = False
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_bytes())
                if isinstance(data, dict):
                    self.entries = data
        self.now = time.time_ns()

    def known(self, rel: str, stamp: tuple[int, int, int, int]) -> str | None:
        """The digest remembered for ``rel`` if its stamp is unchanged."""
        got = self.entries.get(rel)
        if got is not None and tuple(got[:4]) == stamp:
            return str(got[4])
        return None

    def digest(self, rel: str, st: os.stat_result, open_fd: int) -> str:
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        got = self.entries.get(rel)
        if got is not None and got[:4] == key:
            return str(got[4])
        h = hashlib.sha256()
        with open(open_fd, "rb", closefd=False) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        value = h.hexdigest()
        if self.now - max(st.st_mtime_ns, st.st_ctime_ns) > 2_000_000_000:
            self.entries[rel] = [*key, value]
            self.dirty = True
        return value

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        from pycompose.util.fs import atomic_write

        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self.path, json.dumps(self.entries, separators=(",", ":")).encode(),
                         mode=0o600)
        self.dirty = False


@record
class Context:
    """A build context folder (or none), opened read-only, with its ignore rules."""

    root: Path | None  # None: no context (``image build -``)
    matcher: Matcher = field(default_factory=Matcher)
    sums: SumCache = field(default_factory=lambda: SumCache(None))
    _fd: int = -1

    @classmethod
    def open(cls, root: Path | None, *, dockerfile: Path | None = None,
             state_root: Path | None = None) -> Context:
        """Open ``root`` (a folder) with its ignore file: ``<Dockerfile>.dockerignore``
        next to the Dockerfile, else ``<root>/.dockerignore``."""
        ctx = cls(root)
        if root is None:
            return ctx
        try:
            ctx._fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"unable to prepare context: path {str(root)!r} not found")
        except NotADirectoryError:
            raise InvalidArgument(f"unable to prepare context: {root} is not a directory")
        ignore_text = None
        candidates = []
        if dockerfile is not None:
            candidates.append(Path(str(dockerfile) + ".dockerignore"))
        candidates.append(root / ".dockerignore")
        for c in candidates:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                ignore_text = c.read_text(errors="replace")
                where = c
                break
        if ignore_text is not None:
            try:
                ctx.matcher = Matcher.of(read_patterns(ignore_text))
            except IgnoreError as e:
                raise InvalidArgument(f"{where}: {e}")
        if state_root is not None:
            key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
            ctx.sums = SumCache(state_root / "build" / "sums" / f"{key}.json")
        return ctx

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.sums.save()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- finding sources -------------------------------------------------------------
    def _need(self, what: str) -> None:
        if self._fd < 0:
            raise InvalidArgument(f"{what}: there is no build context (the Dockerfile came "
                                  "from standard input); give a folder instead of -")

    def excluded(self, rel: str) -> bool:
        return bool(self.matcher) and rel not in ("", ".") and self.matcher.excluded(rel)

    def open_path(self, rel: str, flags: int = os.O_PATH) -> int:
        """An fd of ``rel`` resolved inside the context (symlinks followed inside)."""
        self._need(rel)
        return confined.open_in_root(self._fd, rel or ".", flags)

    def stat(self, rel: str) -> os.stat_result:
        fd = self.open_path(rel)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def resolve(self, source: str, what: str) -> list[str]:
        """The context paths a COPY/ADD source names: itself, or what its glob matches
        (never an ignored one). Raises NotFound naming ``what`` when nothing matches."""
        self._need(what)
        if escapes_context(source):
            raise InvalidArgument(f"{what}: {source!r} is outside the build context (a "
                                  "build reads only the folder it was given)")
        rel = posixpath.normpath(source.lstrip("/")) if source.strip("/") else ""
        rel = "" if rel == "." else rel
        if not has_glob(rel):
            if self.excluded(rel):
                raise NotFound(f"{what}: {source!r} is excluded by .dockerignore")
            try:
                self.stat(rel)
            except FileNotFoundError:
                raise NotFound(f"{what}: {source!r} not found in the build context")
            except NotADirectoryError:
                raise NotFound(f"{what}: {source!r} not found in the build context")
            return [rel]
        found = [p for p in self._glob(rel.split("/"), "") if not self.excluded(p)]
        if not found:
            raise NotFound(f"{what}: no source files were specified: {source!r} matches "
                           "nothing in the build context")
        return sorted(found)

    def _glob(self, parts: list[str], base: str) -> Iterator[str]:
        head, rest = parts[0], parts[1:]
        if not has_glob(head):
            rel = posixpath.join(base, head) if base else head
            if not rest:
                with contextlib.suppress(OSError):
                    self.stat(rel)
                    yield rel
                return
            yield from self._glob(rest, rel)
            return
        try:
            fd = self.open_path(base, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            names = sorted(os.listdir(fd))
        finally:
            os.close(fd)
        for name in names:
            if glob_match(head, name):
                rel = posixpath.join(base, name) if base else name
                if rest:
                    yield from self._glob(rest, rel)
                else:
                    yield rel

    # -- reading -----------------------------------------------------------------------
    def entry(self, rel: str, *, follow: bool = True) -> Entry:
        if follow:
            st = self.stat(rel)
            link = ""
        else:
            parent, name = posixpath.split(rel)
            pfd = self.open_path(parent, os.O_PATH | os.O_DIRECTORY)
            try:
                st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                link = os.readlink(name, dir_fd=pfd) if stat.S_ISLNK(st.st_mode) else ""
            finally:
                os.close(pfd)
        return Entry(rel, _kind(st), stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns,
                     link, _stamp(st))

    def walk(self, rel: str) -> Iterator[Entry]:
        """``rel`` (followed if a symlink, as a COPY source is) and, for a directory,
        everything below it not ignored, parents before children, names sorted.
        Symlinks below are reported, never followed."""
        top = self.entry(rel, follow=True)
        yield top
        if top.kind != "dir":
            return
        fd = self.open_path(rel, os.O_RDONLY | os.O_DIRECTORY)
        try:
            yield from self._walk_fd(fd, rel)
        finally:
            os.close(fd)

    def _walk_fd(self, dfd: int, rel: str) -> Iterator[Entry]:
        with os.scandir(dfd) as it:
            items = sorted(it, key=lambda e: e.name)
        for e in items:
            sub = posixpath.join(rel, e.name) if rel else e.name
            excluded = self.excluded(sub)
            st = e.stat(follow_symlinks=False)
            kind = _kind(st)
            if excluded and not (kind == "dir" and self.matcher.has_exclusions):
                continue
            if not excluded:
                link = os.readlink(e.name, dir_fd=dfd) if kind == "symlink" else ""
                yield Entry(sub, kind, stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns,
                            link, _stamp(st))
            if kind == "dir":
                try:
                    cfd = os.open(e.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=dfd)
                except OSError as err:
                    if err.errno in (errno.ELOOP, errno.ENOTDIR):
                        continue
                    raise
                try:
                    yield from self._walk_fd(cfd, sub)
                finally:
                    os.close(cfd)

    def open_file(self, rel: str) -> int:
        """A read-only fd of the regular file ``rel`` (resolved inside the context)."""
        return self.open_path(rel, os.O_RDONLY)

    def owner(self, rel: str) -> tuple[int, int]:
        """Files from the context belong to root in the image (unless --chown)."""
        return 0, 0

    def digest(self, sources: list[str], what: str) -> str:
        """The content digest of everything these sources copy (names relative to each
        source, types, modes, contents, link targets)."""
        lines: list[str] = []  # hashed at once: the same digest as line by line
        for src in sources:
            lines.append(f"source {src}\n")
            for e in self.walk(src):
                name = e.rel[len(src):].lstrip("/") if src else e.rel
                line = f"{name}\0{e.kind}\0{e.mode:o}\0"
                if e.kind == "file":
                    known = self.sums.known(e.rel, e.stamp)
                    if known is None:
                        fd = self.open_file(e.rel)
                        try:
                            known = self.sums.digest(e.rel, os.fstat(fd), fd)
                        finally:
                            os.close(fd)
                    line += known
                elif e.kind == "symlink":
                    line += e.link
                lines.append(line + "\n")
        data = "".join(lines).encode("utf-8", "surrogateescape")
        return "sha256:" + hashlib.sha256(data).hexdigest()

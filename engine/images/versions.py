"""Versions of a tag: every change of what a name points to, with when, who and how.

A tag (``docker.io/library/app:1``) moves when an image is built, pulled, tagged,
committed, loaded or imported under its name, when it is rolled back, and when it is
removed. The store records each move as one line of JSON appended to
``$ROOT/images/versions/<hash of the name>.jsonl``::

    {"name": ..., "number": 3, "time": "2026-12-01T08:00:00Z", "user": "alice",
     "host": "dev1", "command": "pycompose image pull reg:5000/app:1", "action": "pull",
     "image_id": "sha256:...", "manifest_digest": "sha256:...", "previous": "sha256:...",
     "source": "reg:5000/app@sha256:...", "rolled_back_to": 0}

Append-only and crash-safe: a line is written whole with O_APPEND and fsynced under the
index lock that also serialises the move itself; a line torn by a crash is skipped when
read (and the next append starts on a fresh line). Who is the invoking user (``SUDO_USER``
first, so ``sudo`` shows the person), the host name, and the command line; what kind of
change it was comes from the caller (``recording(action=...)``) or, failing that, from
the command's verb.

Versions keep their images: ``image prune`` leaves an untagged image that a version
refers to (so that ``image rollback`` can go back to it), and says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import Conflict, NotFound
from . import reference

if TYPE_CHECKING:
    from pathlib import Path

#: the index annotations naming an image and its id (the store writes them)
ANN_NAME = "io.containerd.image.name"
ANN_ID = "io.pycompose.image.id"


class ImageStore(Protocol):
    """What the version log needs of the image store (``store.ImageStore``)."""

    images_dir: Path

    def images(self) -> list[Any]: ...
    def tag(self, image_id: str, name: str) -> Any: ...
    def read_index(self) -> list[dict[str, Any]]: ...

log = logging.getLogger(__name__)

DIR = "versions"
ACTIONS = ("build", "pull", "tag", "commit", "load", "import", "bootstrap", "rollback",
           "remove", "existing")


@dataclass(frozen=True)
class Version:
    """One move of a tag. ``image_id`` is "" for a removal; ``number`` counts from 1
    per tag; ``rolled_back_to`` names the version a rollback went back to."""

    name: str
    number: int
    time: str
    user: str
    host: str
    command: str
    action: str
    image_id: str
    manifest_digest: str = ""
    previous: str = ""
    source: str = ""
    rolled_back_to: int = 0

    @property
    def short_id(self) -> str:
        return self.image_id.removeprefix("sha256:")[:12]

    @property
    def who(self) -> str:
        return f"{self.user}@{self.host}" if self.host else self.user


@dataclass(frozen=True)
class _How:
    action: str
    source: str = ""
    command: str = ""
    rolled_back_to: int = 0


_how: contextvars.ContextVar[_How | None] = contextvars.ContextVar("pycompose_version_how",
                                                                   default=None)


@contextlib.contextmanager
def recording(*, action: str, source: str = "", command: str = "",
              rolled_back_to: int = 0) -> Iterator[None]:
    """Tag moves inside the block are recorded as ``action`` (pull, build, ...), from
    ``source``, made by ``command`` (default: this process's command line)."""
    token = _how.set(_How(action, source, command, rolled_back_to))
    try:
        yield
    finally:
        _how.reset(token)


def command_line() -> str:
    """How this process was started, as a user would type it again."""
    argv = list(sys.argv)
    if argv:
        argv[0] = os.path.basename(argv[0])
    return shlex.join(argv)


def _action_from_argv() -> str:
    """The verb of the command line when the caller did not say (``image import`` ->
    import; ``container commit`` -> commit; ``up --build`` -> build)."""
    words = [w for w in sys.argv[1:] if not w.startswith("-")][:3]
    for w in words:
        if w in ACTIONS:
            return w
        if w in ("up", "create"):
            return "build"
    return "tag"


def _who() -> tuple[str, str]:
    user = os.environ.get("SUDO_USER") or ""
    if not user:
        try:
            import pwd

            user = pwd.getpwuid(os.geteuid()).pw_name
        except (KeyError, ImportError):
            user = str(os.geteuid())
    return user, os.uname().nodename


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _path(store: ImageStore, name: str) -> str:
    h = hashlib.sha256(name.encode()).hexdigest()[:40]
    return str(store.images_dir / DIR / f"{h}.jsonl")


def _read(path: str) -> list[Version]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    names = {f.name for f in fields(Version)}
    out: list[Version] = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            out.append(Version(**{k: v for k, v in doc.items() if k in names}))
        except (ValueError, TypeError):
            log.warning("%s: skipping a damaged line (a write cut short by a crash?)", path)
    return out


def _append(path: str, version: Version) -> None:
    line = json.dumps(asdict(version), sort_keys=True).encode() + b"\n"
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size:  # a torn last line: start on a new one
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    line = b"\n" + line
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def record_moves(store: ImageStore, moves: list[tuple[str, str, str, str]]) -> None:
    """Record tag moves ``(name, old image id, new image id, manifest digest)``.
    Called by the store with its index lock held, after index.json was written."""
    if not moves:
        return
    how = _how.get() or _How(_action_from_argv())
    user, host = _who()
    command = how.command or command_line()
    for name, old, new, manifest in moves:
        if "@" in name or old == new:
            continue  # a digest name never moves
        path = _path(store, name)
        past = _read(path)
        if not past and old:  # the tag was there before versions were kept
            _append(path, Version(name, 1, "", "", "", "", "existing", old))
            past = [Version(name, 1, "", "", "", "", "existing", old)]
        number = past[-1].number + 1 if past else 1
        action = how.action if new else "remove"
        try:
            _append(path, Version(name, number, _now(), user, host, command, action, new,
                                  manifest if new else "", old,
                                  how.source if new else "", how.rolled_back_to))
        except OSError as e:  # the move happened; its record is what we lose
            log.warning("cannot record the new version of %s: %s", name, e)


def history(store: ImageStore, name: str) -> list[Version]:
    """Every version of tag ``name`` (a user's spelling is normalised), oldest first."""
    return _read(_path(store, reference.normalize(name)))


def tags_with_history(store: ImageStore, repository: str | None = None) -> list[str]:
    """Full names of tags with recorded versions (of one repository, if given)."""
    d = store.images_dir / DIR
    out: set[str] = set()
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(d):
            if entry.endswith(".jsonl"):
                past = _read(str(d / entry))
                if past:
                    out.add(past[-1].name)
    if repository is not None:
        out = {n for n in out if n.rsplit(":", 1)[0] == repository}
    return sorted(out)


def referenced_images(store: ImageStore) -> dict[str, list[str]]:
    """Image id -> the tags with a version pointing at it (what prune must keep)."""
    out: dict[str, list[str]] = {}
    for name in tags_with_history(store):
        for v in _read(_path(store, name)):
            if v.image_id and name not in out.setdefault(v.image_id, []):
                out[v.image_id].append(name)
    return out


def find_version(past: list[Version], current: str | None, to: str | None) -> Version:
    """The version a rollback goes to: ``to`` as a number or an image id (prefix) or
    manifest digest; by default the version before the one now current (after a
    rollback to N, the one before N: rolling back again steps further back)."""
    if not past:
        raise NotFound("no versions are recorded for it")
    name = reference.parse(past[-1].name).familiar()
    if to is None:
        last = past[-1]
        anchor = last.rolled_back_to or last.number
        older = [v for v in past if v.number < anchor and v.image_id
                 and v.image_id != current]
        if not older:
            raise NotFound(f"{name} has no earlier version to go back to "
                           f"(pycompose image versions {name})")
        return older[-1]
    # a number (ids are given by 4 hex digits or more, and may be digits only)
    if to.isdigit() and (len(to) < 4 or int(to) <= past[-1].number):
        for v in past:
            if v.number == int(to):
                if not v.image_id:
                    raise NotFound(f"version {to} of {name} is a removal: it names no image")
                return v
        raise NotFound(f"{name} has no version {to} (it has 1 to {past[-1].number})")
    h = to.removeprefix("sha256:")
    found = [v for v in past if v.image_id and (
        v.image_id.removeprefix("sha256:").startswith(h)
        or v.manifest_digest.removeprefix("sha256:").startswith(h))]
    if not found:
        raise NotFound(f"no version of {name} is image {to}")
    if len({v.image_id for v in found}) > 1:
        raise Conflict(f"{to!r} matches several images among the versions of {name}")
    # the version that made it, not a later rollback to it
    return next((v for v in found if v.action != "rollback"), found[0])


def rollback(store: ImageStore, name: str, to: str | None = None) -> tuple[Version, Version]:
    """Point tag ``name`` back at an earlier version's image; return (the version gone
    back to, the new version recorded)."""
    full = reference.normalize(name)
    familiar = reference.parse(full).familiar()
    past = history(store, full)
    if not past:
        raise NotFound(f"no versions are recorded for {familiar} (pycompose image "
                       "versions lists the tags that have some)")
    current = _current(store, full)
    target = find_version(past, current, to)
    if target.image_id == current:
        raise Conflict(f"{familiar} already points at version {target.number} "
                       f"({target.short_id})")
    present = {im.id for im in store.images()}
    if target.image_id not in present:
        hint = (f"pull it again: pycompose image pull {target.source}" if target.source
                else "it was removed with image rm or image prune -a")
        raise NotFound(f"version {target.number} of {familiar} (image {target.short_id}) "
                       f"is no longer in the store; {hint}")
    with recording(action="rollback", rolled_back_to=target.number, source=target.source):
        store.tag(target.image_id, full)
    return target, history(store, full)[-1]


def _current(store: ImageStore, full: str) -> str | None:
    for e in store.read_index():
        ann = e.get("annotations") or {}
        if ann.get(ANN_NAME) == full:
            return str(ann.get(ANN_ID) or "") or None
    return None


def as_record(v: Version) -> dict[str, Any]:
    return asdict(v)

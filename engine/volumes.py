"""Volumes: named and anonymous, under ``$ROOT/volumes/<name>/_data`` as docker lays
them out, with their metadata in ``<name>/volume.json``.

A new volume mounted over a path the image has content at is first filled with that
content (docker's copy-up), once: ``volume.json`` records ``CopiedUp`` so that a
volume the user emptied stays empty. Bind sources are never touched here: only
folders under our own root are ever deleted.

Standard library only (the CLI's ``volume`` commands use it directly).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pycompose.util.fs import atomic_write_json, locked, read_json
from pycompose.util.paths import private_dir

from .containers import ContainerStore, now_iso
from .errors import Conflict, Damaged, EngineError, InvalidArgument, NotFound

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ANON_LABEL = "com.docker.volume.anonymous"


class VolumeStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "volumes"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with locked(self.dir / ".lock"):
            yield

    def _meta(self, name: str) -> Path:
        return self.dir / name / "volume.json"

    def data_dir(self, name: str) -> Path:
        return self.dir / name / "_data"

    def create(self, name: str | None = None, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, *, anonymous: bool = False) -> dict[str, Any]:
        """Create (or return, as docker does) the volume ``name``; None = anonymous."""
        if options:
            bad = sorted(options)
            raise EngineError(f"volume options {bad} are not supported by the local driver "
                              "of pycompose")
        if name is None:
            name = secrets.token_hex(32)
            anonymous = True
        if not NAME_RE.match(name):
            raise InvalidArgument(f"invalid volume name {name!r}: only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two "
                                  "characters")
        with self._lock():
            with contextlib.suppress(NotFound):
                return self.get(name)
            labels = dict(labels or {})
            if anonymous:
                labels[ANON_LABEL] = ""
            meta = {"Name": name, "Driver": "local", "Scope": "local",
                    "Mountpoint": str(self.data_dir(name)), "CreatedAt": now_iso(),
                    "Labels": labels, "Options": {}, "CopiedUp": False}
            private_dir(self.dir / name)  # volume.json and the way to _data: root-only
            data = self.data_dir(name)
            with contextlib.suppress(FileExistsError):
                data.mkdir()
                os.chmod(data, 0o755)  # the volume's root, as containers need it
            atomic_write_json(self._meta(name), meta)
            return self._public(meta)

    @staticmethod
    def _public(meta: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in meta.items() if k != "CopiedUp"}

    def _load(self, name: str) -> dict[str, Any]:
        try:
            meta: dict[str, Any] = read_json(self._meta(name))
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no such volume: {name}")
        except ValueError as e:
            meta = {"Name": None, "error": str(e)}
        if not isinstance(meta, dict) or meta.get("Name") != name:
            what = meta.get("error") if isinstance(meta, dict) else None
            raise Damaged(f"{self._meta(name)} is damaged ({what or 'not a volume record'}): "
                          f"remove the volume with `pycompose volume rm {name}` (its data "
                          f"in {self.data_dir(name)} goes with it), or restore the file")
        return meta

    def get(self, name: str) -> dict[str, Any]:
        return self._public(self._load(name))

    def list(self) -> list[dict[str, Any]]:
        out = []
        with contextlib.suppress(FileNotFoundError):
            for n in sorted(os.listdir(self.dir)):
                if not n.startswith("."):
                    with contextlib.suppress(NotFound):
                        out.append(self.get(n))
        return out

    def users(self, name: str) -> builtins.list[str]:
        """Ids of the containers (any state) that mount the volume."""
        out = []
        for rec in ContainerStore(self.root).list():
            if any(m.get("Type") == "volume" and m.get("Name") == name
                   for m in rec.get("Mounts", [])):
                out.append(str(rec["Id"]))
        return out

    def remove(self, name: str, *, force: bool = False) -> None:
        with self._lock():
            with contextlib.suppress(Damaged):  # what its message tells the user to do
                self._load(name)
            users = self.users(name)
            if users and not force:
                raise Conflict(f"remove {name}: volume is in use - "
                               f"[{', '.join(users)}]")
            # a grave of its own: a killed removal of an earlier volume of that name may
            # have left ".removing-NAME" half emptied (the rename onto it failed with
            # "Directory not empty")
            grave = self.dir / f".removing-{name}-{secrets.token_hex(4)}"
            os.rename(self.dir / name, grave)
        shutil.rmtree(grave, ignore_errors=True)
        self._sweep_graves()  # what killed removals left (outside the lock: data, slow)

    def _sweep_graves(self) -> None:
        """Finish removals a killed process left half done."""
        with contextlib.suppress(FileNotFoundError):
            for n in os.listdir(self.dir):
                if n.startswith(".removing-"):
                    shutil.rmtree(self.dir / n, ignore_errors=True)

    def prune(self, *, all_volumes: bool = False) -> builtins.list[str]:
        """Remove unused volumes: anonymous ones, or all with ``all_volumes`` (docker
        23+'s rule)."""
        removed: builtins.list[str] = []
        for v in self.list():
            if not all_volumes and ANON_LABEL not in v["Labels"]:
                continue
            if not self.users(v["Name"]):
                with contextlib.suppress(NotFound, Conflict):
                    self.remove(v["Name"])
                    removed.append(v["Name"])
        return removed

    def copy_up(self, name: str, lowerdirs: Iterable[Path], target: str, *,
                copy: bool = True, uid_map: IdMap | None = None,
                gid_map: IdMap | None = None) -> bool:
        """Fill a never-used volume with the image's content at ``target`` (``lowerdirs``
        top layer first, overlay whiteouts honoured). Returns True if it copied.
        ``uid_map``/``gid_map`` (container, host, size): the first user is a container
        in a user namespace, whose root (host 100000) must own the volume as docker's
        userns-remap has it -- else it could not write to it."""
        with self._lock():
            meta = self._load(name)
            if meta.get("CopiedUp"):
                return False
            data = self.data_dir(name)
            fresh = not any(data.iterdir())
            if fresh and copy:
                merge_layers([Path(d) for d in lowerdirs], target.lstrip("/"), data)
            if fresh and uid_map:
                shift_owners(data, uid_map, gid_map or uid_map)
            meta["CopiedUp"] = True
            atomic_write_json(self._meta(name), meta)
            return True


IdMap = list[tuple[int, int, int]]


def _to_host(cid: int, idmap: IdMap) -> int | None:
    for ctr, host, size in idmap:
        if ctr <= cid < ctr + size:
            return host + cid - ctr
    return None


def shift_owners(root: Path, uid_map: IdMap, gid_map: IdMap) -> None:
    """Give ``root`` and everything under it the host ids that the container ids
    they hold map to (ids outside the map are left alone). By directory fds, links
    never followed (engine/confined): a volume's content is the container's."""
    from .confined import walk_fd

    def shift(st: os.stat_result) -> tuple[int, int] | None:
        uid, gid = _to_host(st.st_uid, uid_map), _to_host(st.st_gid, gid_map)
        if uid is None and gid is None:
            return None
        return (st.st_uid if uid is None else uid, st.st_gid if gid is None else gid)

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    ids = shift(os.fstat(fd))
    if ids is not None:
        os.fchown(fd, *ids)
    for _rel, dir_fd, entries in walk_fd(fd, "."):
        for name, st in entries:
            ids = shift(st)
            if ids is not None:
                os.chown(name, *ids, dir_fd=dir_fd, follow_symlinks=False)


def merge_layers(lowerdirs: list[Path], rel: str, dest: Path) -> None:
    """Copy what the image holds at ``rel`` into ``dest``, as overlayfs would show it
    (upper entries hide lower ones, whiteouts delete, opaque directories hide what
    lower layers hold below them), owners, modes, xattrs and times kept; ``dest``
    itself takes the directory's owner and mode, as docker's copy-up does.

    ``rel`` is resolved inside the layer stack (engine/confined/stack.py): a symlink
    of the image on the way -- Debian's ``/var/run -> /run``, or a hostile ``/x -> /``
    -- is followed *in the image*, as docker resolves a mount target in the rootfs;
    nothing of the host is ever read. A path the image lacks, or that is not a
    directory there, copies nothing."""
    import errno

    from .confined import LayerStack, Policy, Root, copy_children

    with LayerStack(lowerdirs) as stack:
        try:
            entry = stack.locate(rel, follow=True)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as e:
            if e.errno == errno.ELOOP:
                return  # a symlink loop in the image: nothing there to copy
            raise
        if not entry.is_dir:
            return
        with Root.at(dest) as out:
            copy_children(entry, out.fd, Policy(owner=lambda st: (st.st_uid, st.st_gid)))
        fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchown(fd, entry.st.st_uid, entry.st.st_gid)
            os.fchmod(fd, entry.st.st_mode & 0o7777)
        finally:
            os.close(fd)

"""Container records: what pycompose knows about each container, on disk.

One record per container at ``$ROOT/containers/<id>/state.json``, shaped like
``docker inspect`` (``Id``, ``Name``, ``Image`` = image id, ``Config``, ``HostConfig``,
``State``, ``Mounts``...), so that ``inspect`` is a plain read and a new supervisor can
rebuild everything from disk alone.

Concurrency: every change goes through :meth:`ContainerStore.update` (or ``create`` /
``remove``), which holds a flock: the store-wide lock ``containers/.lock`` for anything
that touches names (create, rename, remove) and the per-container ``lock`` file for
state changes. Writes are atomic (write, fsync, rename), so a process killed at any
moment leaves the old record or the new one. Two ``run --name x`` at once: one wins, the
other gets :class:`Conflict`.

Standard library only: the thin CLI imports this module for ``ls``/``inspect``.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import random
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pycompose.util.fs import (
    atomic_write_json,
    fsync_dir,
    fsync_path,
    locked,
    read_json,
    spread_dir,
)
from pycompose.util.paths import private_dir

from .errors import Conflict, Damaged, InvalidArgument, NotFound
from .record import now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .cp import ContainerFiles

Record = dict[str, Any]

#: beside state.json: the container's name, labels and image, written once (see damaged)
IDENTITY = "identity.json"

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_HEX = re.compile(r"[0-9a-f]+")

_ADJECTIVES = ["brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen",
               "lucid", "merry", "nifty", "quirky", "serene", "tender", "vivid", "witty"]
_NAMES = ["babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper", "kepler",
          "lovelace", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak"]


def new_state() -> dict[str, Any]:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": "0001-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"}


def validate_name(name: str) -> str:
    """Docker's name rule; a leading slash (docker's stored shape) is accepted."""
    if not NAME_RE.match(name):
        raise InvalidArgument(f"invalid container name {name!r}: only "
                              "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def random_name(taken: set[str]) -> str:
    for _ in range(100):
        name = f"{random.choice(_ADJECTIVES)}_{random.choice(_NAMES)}"
        if name not in taken:
            return name
    return f"{random.choice(_ADJECTIVES)}_{secrets.token_hex(3)}"


class ContainerStore:
    """The records under ``root/containers``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "containers"

    # -- paths -------------------------------------------------------------------------
    def path(self, cid: str) -> Path:
        return self.dir / cid

    def _state(self, cid: str) -> Path:
        return self.dir / cid / "state.json"

    @contextlib.contextmanager
    def _store_lock(self) -> Iterator[None]:
        if not self.dir.is_dir():  # a new root's: its containers get groups of their own
            private_dir(self.dir)
            spread_dir(self.dir)
        with locked(self.dir / ".lock"):
            yield

    @contextlib.contextmanager
    def lock(self, cid: str) -> Iterator[None]:
        """The lock of one container's record (also held across a start or stop)."""
        with locked(self.dir / cid / "lock"):
            yield

    # -- reads -------------------------------------------------------------------------
    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return [n for n in names if len(n) == 64 and (self.dir / n / "state.json").exists()]

    def load(self, cid: str) -> Record:
        try:
            rec: Record = read_json(self._state(cid))
        except FileNotFoundError:
            raise NotFound(f"No such container: {cid[:12]}")
        except ValueError as e:  # a torn write cannot happen (atomic); a hand edit can
            raise Damaged(f"{self._state(cid)} is damaged: {e}; remove the container with "
                          f"`pycompose container rm -f {cid[:12]}` (its processes, mounts "
                          "and network are found by its id)") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("State"), dict):
            raise Damaged(f"{self._state(cid)} is damaged: not a container record; remove "
                          f"the container with `pycompose container rm -f {cid[:12]}`")
        return rec

    def identity(self, cid: str) -> Record:
        """What create() wrote once beside the record (name, labels, image, anonymous
        volumes): enough to list, attribute and remove a container whose record is
        damaged. {} when it is missing or unreadable too."""
        try:
            ident = read_json(self.dir / cid / IDENTITY)
        except (OSError, ValueError):
            return {}
        return ident if isinstance(ident, dict) else {}

    def damaged(self, cid: str, problem: str) -> Record:
        """A stand-in for a record that cannot be read, shaped like one (status
        ``dead``, ``Damaged`` saying why), so that ``ls -a`` shows it, ``rm -f`` and
        ``down`` (by its labels) find it."""
        ident = self.identity(cid)
        state = dict(new_state(), Status="dead", Dead=True, Error=problem)
        return {
            "Id": cid, "Name": ident.get("Name") or f"/{cid[:12]}",
            "Created": ident.get("Created") or "", "Path": ident.get("Path") or "",
            "Args": list(ident.get("Args") or []), "Image": ident.get("ImageId") or "",
            "Config": {"Image": ident.get("Image") or "", "Labels": ident.get("Labels") or {},
                       "Env": [], "Cmd": None, "Entrypoint": None, "Tty": False},
            "HostConfig": {"AutoRemove": False, "RestartPolicy": {"Name": "no"},
                           "NetworkMode": "", "PortBindings": {}},
            "State": state, "NetworkSettings": {}, "RestartCount": 0, "Damaged": problem,
            "Mounts": [{"Type": "volume", "Name": n, "Anonymous": True}
                       for n in ident.get("AnonymousVolumes") or []],
        }

    def list(self) -> list[Record]:
        """Every container, those with a damaged record as damaged() stand-ins."""
        out = []
        for cid in self.ids():
            try:
                out.append(self.load(cid))
            except NotFound:
                continue
            except Damaged as e:
                out.append(self.damaged(cid, e.message))
        out.sort(key=lambda r: r.get("Created", ""), reverse=True)
        return out

    def resolve(self, ref: str) -> str:
        """Full id of the container named ``ref``: full id, exact name, or a unique id
        prefix (docker's order: its daemon looks the full id up first). A full id is
        answered without reading any record (compose and the engine's face name
        containers by id: reading every record for each was O(containers) a request)."""
        ref = ref.lstrip("/")
        if not ref:
            raise NotFound("No such container: (empty name)")
        if len(ref) == 64 and _HEX.fullmatch(ref) and self._state(ref).exists():
            return ref
        records = self.list()
        for r in records:
            if r["Name"].lstrip("/") == ref:
                return str(r["Id"])
        matches = [str(r["Id"]) for r in records if str(r["Id"]).startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidArgument(f"multiple containers match the prefix {ref!r}; "
                                  "give more of the id")
        raise NotFound(f"No such container: {ref}")

    def get(self, ref: str) -> Record:
        return self.load(self.resolve(ref))

    # -- writes ------------------------------------------------------------------------
    def create(self, record: Record, name: str | None,
               prepare: Callable[[Record], None] | None = None) -> Record:
        """Store a new record under a unique name (random if ``name`` is None).
        ``prepare`` completes it (it knows its id then) before the one write; if it
        raises, nothing is left. The record is synced (with its folder's entry) after
        the store's lock is let go, before this returns: the lock only keeps names
        unique, and 30 creates at once each held it across two or three syncs."""
        record = self._create(record, name, prepare)
        cdir = self.path(record["Id"])
        try:
            fsync_path(self._state(record["Id"]))
            fsync_dir(cdir)
            fsync_dir(self.dir)
        except BaseException:
            with self._store_lock():
                shutil.rmtree(cdir, ignore_errors=True)
            raise
        return record

    def _create(self, record: Record, name: str | None,
                prepare: Callable[[Record], None] | None) -> Record:
        with self._store_lock():
            taken = {r["Name"].lstrip("/") for r in self.list()}
            if name is None:
                name = random_name(taken)
            name = validate_name(name)
            if name in taken:
                other = next(r for r in self.list() if r["Name"].lstrip("/") == name)
                raise Conflict(
                    f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{other["Id"]}". You have to remove (or rename) that container to be '
                    "able to reuse that name.")
            cid = secrets.token_hex(32)
            record = dict(record, Id=cid, Name="/" + name)
            record.setdefault("Created", now_iso())
            record.setdefault("State", new_state())
            record.setdefault("RestartCount", 0)
            cdir = self.path(cid)
            private_dir(self.dir)
            cdir.mkdir(mode=0o700)  # root-only whatever the umask (it holds secrets)
            record["LogPath"] = str(cdir / f"{cid}-json.log")
            try:
                if prepare is not None:
                    prepare(record)
                atomic_write_json(self._state(cid), record, sync=False, sync_new=False)
                _write_identity(cdir / IDENTITY, record)
            except BaseException:
                shutil.rmtree(cdir, ignore_errors=True)
                raise
            return record

    def rename(self, ref: str, new: str) -> Record:
        """Give a container another name (docker's ``rename``): unique, like a new one."""
        name = validate_name(new.lstrip("/"))
        with self._store_lock():
            cid = self.resolve(ref)
            for r in self.list():
                if r["Name"].lstrip("/") == name:
                    if r["Id"] == cid:
                        raise Conflict(f"Renaming a container with the same name as its "
                                       f"current name: {name}")
                    raise Conflict(
                        f'Conflict. The container name "/{name}" is already in use by '
                        f'container "{r["Id"]}". You have to remove (or rename) that '
                        "container to be able to reuse that name.")

            def change(rec: Record) -> None:
                rec["Name"] = "/" + name
            rec = self.update(cid, change)
            _write_identity(self.path(cid) / IDENTITY, rec)  # a damaged record's name too
            return rec

    def update(self, cid: str, change: Callable[[Record], None], *,
               sync: bool = True) -> Record:
        """Apply ``change`` to the record under its lock and store it atomically.
        ``sync=False`` for the run-time state a power loss makes moot (running, exited,
        health, paused: after a reboot nothing runs, and the records are reconciled):
        no data sync, each of which is a wait on the journal (fs.atomic_write)."""
        with self.lock(cid):
            rec = self.load(cid)
            change(rec)
            atomic_write_json(self._state(cid), rec, sync=sync)
            return rec

    def set_state(self, cid: str, **fields: Any) -> Record:
        def change(rec: Record) -> None:
            rec["State"].update(fields)
        return self.update(cid, change)

    def remove(self, cid: str) -> None:
        """Delete the record and everything in its folder (upper dir, logs)."""
        shutil.rmtree(self.bury(cid), ignore_errors=True)

    def bury(self, cid: str) -> Path:
        """The first half of remove(), at once: the record's folder renamed to its
        grave (``.removing-<id>``), so that its name is free and no reader lists it,
        and a crash mid-delete never leaves a half record that ``ids()`` still lists.
        The grave is the caller's to delete; graves() finds what a killed one left."""
        with self._store_lock():
            cdir = self.path(cid)
            if not cdir.exists():
                raise NotFound(f"No such container: {cid[:12]}")
            grave = self.grave(cid)
            os.rename(cdir, grave)
        return grave

    def grave(self, cid: str) -> Path:
        return self.dir / f".removing-{cid}"

    def graves(self) -> builtins.list[tuple[str, Path]]:
        """(id, folder) of each removal a killed process left half done."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return [(n.removeprefix(".removing-"), self.dir / n) for n in names
                if n.startswith(".removing-")]

    def sweep_graves(self) -> None:
        """Finish removals a killed process left half done."""
        for _cid, grave in self.graves():
            shutil.rmtree(grave, ignore_errors=True)


def _write_identity(path: Path, record: Record) -> None:
    """Written after the record is made (and when it is renamed), never else: no fsync
    (a crash that loses it loses only the fallback of a record that is itself fine)."""
    ident = {"Id": record["Id"], "Name": record["Name"], "Created": record.get("Created"),
             "Image": (record.get("Config") or {}).get("Image"), "ImageId": record.get("Image"),
             "Path": record.get("Path"), "Args": record.get("Args"),
             "Labels": (record.get("Config") or {}).get("Labels") or {},
             "AnonymousVolumes": [m["Name"] for m in record.get("Mounts") or []
                                  if m.get("Type") == "volume" and m.get("Anonymous")]}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with open(fd, "w") as f:
            json.dump(ident, f)
    except OSError:  # a full disk: the record itself is written, and what matters
        with contextlib.suppress(OSError):
            os.unlink(path)


# -- looking into a container ------------------------------------------------------------
def container_pids(pid1: int) -> list[int]:
    """Host pids of every process in the pid namespace of ``pid1``."""
    try:
        ns = os.readlink(f"/proc/{pid1}/ns/pid")
    except OSError:
        return []
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{name}/ns/pid") == ns:
                    out.append(int(name))
    return sorted(out)


def _files(rec: Record) -> ContainerFiles:
    """Where the container's files are, for ``cp``."""
    from .cp import ContainerFiles

    gd = rec["GraphDriver"]["Data"]
    st = rec["State"]
    running = st.get("Status") in ("running", "paused", "restarting")
    uid_map, gid_map = id_maps(rec)
    return ContainerFiles(name=rec["Name"].lstrip("/"), upper=gd["UpperDir"],
                          lowers=[p for p in gd["LowerDir"].split(":") if p],
                          pid=int(st.get("Pid") or 0) if running else 0,
                          start_time=st.get("StartTime"), uid_map=uid_map, gid_map=gid_map)


def copy_from(rec: Record, path: str, dest: Path | str, *, follow_link: bool = False) -> None:
    """``cp CONTAINER:PATH DEST`` by docker's rules (engine/cp.py): from the live root of
    a running container, else from its layer stack; never from the host's files."""
    from .cp import copy_out

    copy_out(_files(rec), path, dest, follow_link=follow_link)


def copy_to(rec: Record, src: Path | str, path: str, *, follow_link: bool = False,
            archive: bool = False) -> None:
    """``cp SRC CONTAINER:PATH`` by docker's rules (engine/cp.py): into the live root of
    a running container, else into its upper dir; never through a symlink to the host."""
    from .cp import copy_in

    copy_in(_files(rec), str(src), path, follow_link=follow_link, archive=archive)


IdMap = list[tuple[int, int, int]]


def id_maps(rec: Record) -> tuple[IdMap | None, IdMap | None]:
    """(uid map, gid map) of a container in a user namespace (HostConfig.UidMap and
    GidMap ``CTR:HOST:SIZE``, as numbers), (None, None) for any other."""
    host = rec.get("HostConfig") or {}

    def parse(lines: list[str]) -> IdMap | None:
        out = []
        for line in lines:
            ctr, hid, size = (int(x) for x in line.split(":"))
            out.append((ctr, hid, size))
        return out or None

    uid_map = parse(host.get("UidMap") or [])
    return uid_map, parse(host.get("GidMap") or []) or uid_map


def commit(root: Path, rec: Record, repo_tag: str | None, *, message: str = "",
           author: str = "", changes: list[str] | None = None) -> str:
    """The container's upper dir as a new image layer on its image, with a history
    entry; returns the new image id."""
    from .images import ImageStore
    from .images.commit import commit_dir

    store = ImageStore(root)
    base = store.resolve(rec["Image"]) if rec.get("Image") else None
    created_by = " ".join([rec["Path"], *rec["Args"]])
    uid_map, gid_map = id_maps(rec)
    image = commit_dir(store, Path(rec["GraphDriver"]["Data"]["UpperDir"]), base,
                       repo_tag=repo_tag, author=author, comment=message,
                       changes=list(changes or []), created_by=created_by,
                       id_maps=(uid_map, gid_map))
    return str(image.id)

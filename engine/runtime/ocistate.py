"""What ``pycompose runtime`` keeps per container under its ``--root``, and the
state the OCI runtime spec defines (``state`` prints it, hooks read it on stdin).

``<root>/<id>/`` (0700) holds ``record.json`` (written once at create: the bundle,
the translated ContainerSpec, the hooks), ``status.json`` (rewritten on each change:
the pid and its start time, started, exit code), ``shim.sock`` (the holder that
waits for ``start``) and ``runtime/`` (the ContainerSpec's ``root``). A status is
derived, never trusted blindly: a pid that is gone (or reused, by another start
time) is a stopped container.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import Conflict, InvalidArgument, NotFound
from .oci import OCI_VERSION, Hook, Hooks
from .spec import ContainerSpec

DEFAULT_ROOT = "/run/pycompose-runtime"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class Record:
    """Written once by ``create``."""

    id: str
    bundle: str
    oci_version: str
    annotations: dict[str, str]
    hooks: Hooks
    spec: ContainerSpec
    created: str
    owner: str = "root"
    #: the holder process (pid, start time) that waits for ``start``.
    shim_pid: int = 0
    shim_start: int = 0


@dataclass
class Status:
    pid: int = 0
    pid_start: int = 0
    started: bool = False
    exit_code: int | None = None


@dataclass
class OciState:
    """The runtime spec's state, as ``state`` prints it."""

    id: str
    status: str
    pid: int
    bundle: str
    annotations: dict[str, str] = field(default_factory=dict)
    oci_version: str = OCI_VERSION
    created: str = ""
    owner: str = "root"

    def to_json(self) -> str:
        out = {"ociVersion": self.oci_version, "id": self.id, "status": self.status,
               "pid": self.pid, "bundle": self.bundle, "annotations": self.annotations,
               "rootfs": "", "created": self.created, "owner": self.owner}
        return json.dumps(out)


def proc_start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat (0 if gone): tells a pid from its reuse."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(text.rpartition(")")[2].split()[19])


def alive(pid: int, start: int) -> bool:
    """Whether ``pid`` is still the process that started at ``start`` and not a
    zombie."""
    if pid <= 0:
        return False
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    rest = text.rpartition(")")[2].split()
    return rest[0] not in ("Z", "X") and int(rest[19]) == start


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Store:
    """The containers under one ``--root``."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def dir(self, cid: str) -> Path:
        if not _ID.match(cid) or len(cid) > 1024:
            raise InvalidArgument(f"invalid container id {cid!r}: letters, digits and "
                                  "_.+- only, not starting with a symbol")
        return self.root / cid

    def make(self, cid: str) -> Path:
        d = self.dir(cid)
        old = os.umask(0o077)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            d.mkdir(mode=0o700)
        except FileExistsError:
            raise Conflict(f"container {cid!r} already exists (in {self.root})") from None
        finally:
            os.umask(old)
        return d

    def ids(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root)
                          if e.is_dir() and (Path(e.path) / "record.json").exists())
        except FileNotFoundError:
            return []

    @contextlib.contextmanager
    def lock(self, cid: str) -> Iterator[None]:
        """One command at a time per container (create, start, kill, delete)."""
        d = self.dir(cid)
        try:
            fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise NotFound(f"container {cid!r} does not exist") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def save_record(self, rec: Record) -> None:
        _write_private(self.dir(rec.id) / "record.json", json.dumps(asdict(rec)))

    def load_record(self, cid: str) -> Record:
        path = self.dir(cid) / "record.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"container {cid!r} does not exist") from None
        except ValueError as e:
            raise InvalidArgument(f"{path}: corrupt ({e}): 'delete --force {cid}' "
                                  "removes what it can") from None
        hooks = Hooks(**{k: [Hook(**h) for h in v] for k, v in data["hooks"].items()})
        spec = ContainerSpec.from_json(json.dumps(data["spec"]))
        return Record(id=data["id"], bundle=data["bundle"], oci_version=data["oci_version"],
                      annotations=data["annotations"], hooks=hooks, spec=spec,
                      created=data["created"], owner=data.get("owner", "root"),
                      shim_pid=data.get("shim_pid", 0), shim_start=data.get("shim_start", 0))

    def save_status(self, cid: str, st: Status) -> None:
        _write_private(self.dir(cid) / "status.json", json.dumps(asdict(st)))

    def load_status(self, cid: str) -> Status:
        try:
            data = json.loads((self.dir(cid) / "status.json").read_text())
        except (FileNotFoundError, ValueError):
            return Status()
        return Status(**data)

    def state(self, cid: str) -> tuple[Record, Status, OciState]:
        rec = self.load_record(cid)
        st = self.load_status(cid)
        if st.exit_code is None and st.pid and alive(st.pid, st.pid_start):
            status = "running" if st.started else "created"
            pid = st.pid
        elif st.pid == 0 and st.exit_code is None and alive(rec.shim_pid, rec.shim_start):
            status, pid = "creating", 0
        else:
            status, pid = "stopped", 0
        return rec, st, OciState(id=rec.id, status=status, pid=pid, bundle=rec.bundle,
                                 annotations=rec.annotations, oci_version=rec.oci_version,
                                 created=rec.created, owner=rec.owner)


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"

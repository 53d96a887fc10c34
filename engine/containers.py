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

import contextlib
import json
import os
import random
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pycompose.util.fs import atomic_write_json, locked, read_json

from .errors import Conflict, Damaged, EngineError, InvalidArgument, NotFound

Record = dict[str, Any]

#: beside state.json: the container's name, labels and image, written once (see damaged)
IDENTITY = "identity.json"

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")

_ADJECTIVES = ["brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen",
               "lucid", "merry", "nifty", "quirky", "serene", "tender", "vivid", "witty"]
_NAMES = ["babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper", "kepler",
          "lovelace", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak"]


def now_iso() -> str:
    """docker's timestamp shape: RFC 3339 in UTC with nanoseconds."""
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + \
        f".{t % 10**9:09d}Z"


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
        """Full id of the container named ``ref``: exact name, full id, or a unique id
        prefix (docker's order)."""
        ref = ref.lstrip("/")
        if not ref:
            raise NotFound("No such container: (empty name)")
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
        raises, nothing is left."""
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
            cdir.mkdir(parents=True)
            record["LogPath"] = str(cdir / f"{cid}-json.log")
            try:
                if prepare is not None:
                    prepare(record)
                atomic_write_json(self._state(cid), record)
                _write_identity(cdir / IDENTITY, record)
            except BaseException:
                shutil.rmtree(cdir, ignore_errors=True)
                raise
            return record

    def update(self, cid: str, change: Callable[[Record], None]) -> Record:
        """Apply ``change`` to the record under its lock and store it atomically."""
        with self.lock(cid):
            rec = self.load(cid)
            change(rec)
            atomic_write_json(self._state(cid), rec)
            return rec

    def set_state(self, cid: str, **fields: Any) -> Record:
        def change(rec: Record) -> None:
            rec["State"].update(fields)
        return self.update(cid, change)

    def remove(self, cid: str) -> None:
        """Delete the record and everything in its folder (upper dir, logs)."""
        with self._store_lock():
            cdir = self.path(cid)
            if not cdir.exists():
                raise NotFound(f"No such container: {cid[:12]}")
            # Rename first, so that a crash mid-delete never leaves a half record that
            # ``ids()`` still lists.
            grave = self.dir / f".removing-{cid}"
            os.rename(cdir, grave)
        shutil.rmtree(grave, ignore_errors=True)

    def sweep_graves(self) -> None:
        """Finish removals a killed process left half done."""
        with contextlib.suppress(FileNotFoundError):
            for n in os.listdir(self.dir):
                if n.startswith(".removing-"):
                    shutil.rmtree(self.dir / n, ignore_errors=True)


def _write_identity(path: Path, record: Record) -> None:
    """Written once, after the record, never changed: no fsync (a crash that loses it
    loses only the fallback of a record that is itself fine)."""
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


def status_line(rec: Record, now: float | None = None) -> str:
    """The STATUS column of ``container ls``: ``Up 3 seconds``, ``Exited (0) 1 minute
    ago``, ``Created``, ``Damaged`` (a record that cannot be read)."""
    if rec.get("Damaged"):
        return "Damaged (record unreadable)"
    st = rec["State"]
    status = st.get("Status", "created")
    now = time.time() if now is None else now
    if status == "running":
        up = f"Up {human_duration(now - parse_iso(st['StartedAt']))}"
        health = (st.get("Health") or {}).get("Status")
        if health == "starting":
            return f"{up} (health: starting)"
        return f"{up} ({health})" if health else up
    if status == "restarting":
        return f"Restarting ({st.get('ExitCode', 0)}) " \
               f"{human_duration(now - parse_iso(st['FinishedAt']))} ago"
    if status in ("exited", "dead"):
        return f"Exited ({st.get('ExitCode', 0)}) " \
               f"{human_duration(now - parse_iso(st['FinishedAt']))} ago"
    return status.capitalize()


def render_template(fmt: str, obj: Any) -> str:
    """The small part of Go templates that scripts use: ``{{.A.B}}``, ``{{json .A}}``."""
    def value(path: str) -> Any:
        v = obj
        for part in [p for p in path.split(".") if p]:
            v = v.get(part) if isinstance(v, dict) else None
        return v

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith("json "):
            return json.dumps(value(expr[5:].strip()))
        v = value(expr)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return "<no value>" if v is None else str(v)
    return re.sub(r"\{\{(.*?)\}\}", sub, fmt).replace("\\n", "\n")


def parse_iso(ts: str) -> float:
    """Seconds since the epoch of a timestamp written by :func:`now_iso`."""
    import calendar

    if not ts or ts.startswith("0001"):
        return 0.0
    base, _, frac = ts.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs + (float("0." + frac) if frac else 0.0)


def human_duration(seconds: float) -> str:
    """docker's go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


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


def _layers(rec: Record) -> list[Path]:
    gd = rec["GraphDriver"]["Data"]
    return [Path(gd["UpperDir"]), *[Path(p) for p in gd["LowerDir"].split(":")]]


def _running_root(rec: Record) -> Path | None:
    pid = int(rec["State"].get("Pid") or 0)
    if rec["State"].get("Status") == "running" and pid:
        return Path(f"/proc/{pid}/root")
    return None


def _split(path: str) -> tuple[str, str]:
    """(parent, name) of a container path; '..' never leaves the container's root
    (the kernel resolves it in the root, see _parent_fd)."""
    p = "/" + path.strip("/")
    parent, _, name = p.rpartition("/")
    return parent or "/", name


@contextlib.contextmanager
def _parent_fd(root: Path, parent: str) -> Iterator[int]:
    """An fd of the directory ``parent`` resolved with ``root`` as ``/``: a symlink or
    ``..`` in the container can never lead the copy to the host's files."""
    from .images.fsops import open_in_root

    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = open_in_root(rfd, parent.lstrip("/"), os.O_PATH | os.O_DIRECTORY)
    finally:
        os.close(rfd)
    try:
        yield fd
    finally:
        os.close(fd)


def _copy_out_of(pfd: int, name: str, dest: Path) -> None:
    import stat

    st = os.lstat(name, dir_fd=pfd) if name else os.fstat(pfd)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(name, dir_fd=pfd), dest)
    elif stat.S_ISDIR(st.st_mode):
        dfd = os.open(name or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                      dir_fd=pfd)
        try:
            shutil.copytree(f"/proc/self/fd/{dfd}", dest, symlinks=True, dirs_exist_ok=True)
        finally:
            os.close(dfd)
    else:
        ffd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            with open(ffd, "rb", closefd=False) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
            os.chmod(dest, stat.S_IMODE(st.st_mode))
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(ffd)


def copy_from(rec: Record, path: str, dest: Path) -> None:
    """``cp CONTAINER:PATH DEST`` (docker's rules: into DEST if it is a directory).
    From the live root of a running container, else from the topmost layer that has
    the path (a directory is merged across layers, whiteouts honoured)."""
    from .volumes import merge_layers

    parent, name = _split(path)
    if dest.is_dir():
        dest = dest / (name or "root")
    live = _running_root(rec)
    # /proc/PID/root must stay a magic link (its realpath is the host's "/"); the
    # store's layer links are resolved to their directories
    roots = [live] if live is not None else [Path(os.path.realpath(p)) for p in _layers(rec)]
    for i, root in enumerate(roots):
        try:
            with _parent_fd(root, parent) as pfd:
                if name:
                    st = os.lstat(name, dir_fd=pfd)
                    if live is None and st.st_mode & 0o170000 == 0o020000 and st.st_rdev == 0:
                        break  # an overlay whiteout: deleted in the container
                if live is None and name and os.path.isdir(f"/proc/self/fd/{pfd}/{name}") \
                        and not os.path.islink(f"/proc/self/fd/{pfd}/{name}"):
                    dest.mkdir(parents=True, exist_ok=True)
                    merge_layers(_layers(rec)[i:], (parent.strip("/") + "/" + name).strip("/"),
                                 dest)
                    return
                _copy_out_of(pfd, name, dest)
                return
        except FileNotFoundError:
            continue
    raise NotFound(f"Could not find the file {path} in container {rec['Name'].lstrip('/')}")


def copy_to(rec: Record, src: Path, path: str) -> None:
    """``cp SRC CONTAINER:PATH``: into the live root of a running container, else into
    its upper dir (what overlayfs shows on the next start). Never through a symlink."""
    import stat

    if not os.path.lexists(src):
        raise NotFound(f"no such file or directory: {src}")
    live = _running_root(rec)
    root = live if live is not None else Path(rec["GraphDriver"]["Data"]["UpperDir"])
    parent, name = _split(path)
    if live is None:  # the upper dir may lack the parent the image has
        with contextlib.suppress(OSError):
            _mkdirs_in(root, parent)
    try:
        if path.endswith("/"):  # DIR/: into that directory, its links resolved inside
            with _parent_fd(root, path) as dfd:
                _copy_into(src, dfd, src.name)
            return
        with _parent_fd(root, parent) as pfd:
            try:
                st = os.lstat(name, dir_fd=pfd) if name else os.fstat(pfd)
                target_is_dir = stat.S_ISDIR(st.st_mode)
                if stat.S_ISLNK(st.st_mode):
                    raise EngineError(f"{path} is a symbolic link in the container; "
                                      "give the path it points to")
            except FileNotFoundError:
                target_is_dir = live is None and _merged_is_dir(rec, path)
            if target_is_dir or not name:
                with _parent_fd(root, f"{parent}/{name}") as dfd:
                    _copy_into(src, dfd, src.name)
            else:
                _copy_into(src, pfd, name)
    except FileNotFoundError:
        raise NotFound(f"Could not find the directory {parent} in container "
                       f"{rec['Name'].lstrip('/')}")


def _mkdirs_in(root: Path, parent: str) -> None:
    cur = root
    for part in [p for p in parent.split("/") if p and p != ".."]:
        cur = cur / part
        if not cur.is_symlink():
            cur.mkdir(exist_ok=True)


def _copy_into(src: Path, dfd: int, name: str) -> None:
    """Copy ``src`` as ``name`` in the directory fd ``dfd``, refusing symlinked targets."""
    import stat

    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISLNK(os.lstat(name, dir_fd=dfd).st_mode):
            raise EngineError(f"refusing to copy over the symbolic link {name}")
    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, f"/proc/self/fd/{dfd}/{name}", symlinks=True, dirs_exist_ok=True)
    elif src.is_symlink():
        os.symlink(os.readlink(src), name, dir_fd=dfd)
    else:
        st = src.stat()
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     stat.S_IMODE(st.st_mode), dir_fd=dfd)
        with open(fd, "wb") as out, open(src, "rb") as f:
            shutil.copyfileobj(f, out)


def _merged_is_dir(rec: Record, path: str) -> bool:
    rel = path.strip("/")
    for layer in _layers(rec):
        cand = Path(os.path.realpath(layer)) / rel
        if os.path.lexists(cand):
            return cand.is_dir() and not cand.is_symlink()
    return False


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

    store = ImageStore(root)
    base = store.resolve(rec["Image"]) if rec.get("Image") else None
    created_by = " ".join([rec["Path"], *rec["Args"]])
    uid_map, gid_map = id_maps(rec)
    image = store.commit(rec["GraphDriver"]["Data"]["UpperDir"], base, repo_tag=repo_tag,
                         author=author, comment=message, changes=list(changes or []),
                         created_by=created_by, uid_map=uid_map, gid_map=gid_map)
    return str(image.id)

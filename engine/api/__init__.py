"""The engine's one face: every front end (the CLI's object verbs, compose, the Docker
Engine API service, ``kube play``) drives the engine through this package alone.

::

    from pycompose.engine.api import Engine, CreateRequest, Mount, PortBinding, NotFound
    engine = Engine(root)                      # root: the state root (PYCOMPOSE_ROOT)
    cid = engine.create(CreateRequest(image="busybox", command=["true"]))
    engine.start(cid); engine.wait(cid) -> int
    engine.stop(ref, timeout=None, signal=None); engine.restart(...); engine.kill(ref, sig)
    engine.remove(ref, force=False, volumes=False)
    engine.container(ref) -> ContainerRecord   # .status (Status), .labels, .exit_code ...
    engine.containers(labels={...}) -> [ContainerRecord]
    engine.exec(ref, ExecRequest(cmd=[...])) -> (code, output)  # to its end, captured
    engine.pause(ref); engine.unpause(ref)     # the cgroup freezer (v1 or v2)
    engine.stats(ref) -> Stats                 # cpu ns, memory, limit, pids
    engine.wait_health(ref, timeout) -> ContainerRecord  # woken by the health event
    engine.events(since_ns) -> iterator of Event         # live, from the supervisor
    engine.top_pids(ref) -> [pid]; engine.copy_from/copy_to; engine.commit; engine.export
    engine.rename(ref, name); engine.changes(ref) -> [Change]; engine.resize(ref, h, w)
    engine.connect(network, ref, aliases=[...]); engine.disconnect(network, ref)
    engine.archive_stat(ref, path) -> PathStat      # docker cp through the Docker API:
    engine.archive_get(ref, path, out); engine.archive_put(ref, path, tar)  # tar streams

The supervisor's long conversations (attached starts and execs, docker's wait
conditions, a running terminal's keyboard, events) are async calls for trio callers in
:mod:`.aio` (``start_attached``, ``exec_attached``, ``open_wait``, ``attach_terminal``,
``events``).

Which half answers a call is the face's business, not its caller's:

- changes to containers (create, start, stop, kill, remove, exec, wait) are requests to
  the supervisor over its socket (it holds the containers as its children);
- reads of containers (``container``, ``containers``) come straight from the records
  on disk, which are the truth (DESIGN.md): no supervisor needs to be started to list;
  a record whose PID 1 died with a crashed supervisor is shown as what it is;
- images and volumes are worked on in the caller's process, under the store's locks;
  so are registries (``pull``, ``push``, ``login``) and a tag's versions
  (``image_versions``, ``rollback``), with typed requests and results from
  :mod:`pycompose.engine.registry.types` and progress as typed events.

Requests are typed (:mod:`.requests`): text becomes types at the edge that takes it
in (the CLI's flags, the Compose model, the API's JSON) and is never parsed again
below. Errors are the kinds of :mod:`pycompose.engine.errors`, the same on both sides
of the socket. Importing this package is light (no trio, no pyroute2).
"""

from __future__ import annotations

import os
from pathlib import Path

from pycompose.util.plain import to_plain

from ..errors import (
    Busy,
    CannotExecute,
    CommandNotFound,
    Conflict,
    Damaged,
    EngineError,
    Internal,
    InvalidArgument,
    NotFound,
    SetupFailed,
    Unavailable,
)
from .requests import (
    CreateRequest,
    DeviceCgroupRule,
    DeviceMapping,
    Endpoint,
    Event,
    ExecRequest,
    Healthcheck,
    IdMapping,
    LogConfig,
    Mount,
    PortBinding,
    Resources,
    RestartPolicy,
    Stats,
    Ulimit,
    device_mapping,
    parse_device,
    parse_device_cgroup_rule,
)

TYPE_CHECKING = False  # not typing's: the thin client imports this package
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import IO, Any, BinaryIO

    from ..archive import Change, PathStat
    from ..images.reference import Reference
    from ..images.versions import Version
    from ..networks import NetworkDoor, NetworkInfo, NetworkSpec
    from ..record import ContainerRecord, Health, Status, now_iso, parse_iso
    from ..registry.types import (
        ImageMessage,
        LayerProgress,
        LoginRequest,
        LoginResult,
        Platform,
        Progress,
        PulledImage,
        PullRequest,
        PullResult,
        PushedImage,
        PushRequest,
        PushResult,
    )

#: types imported when first used: enum classes and a dozen more dataclasses (the
#: registry's requests, results and events) cost the thin client's start-up
_LAZY = {"Change": "archive", "PathStat": "archive",
         "ContainerRecord": "record", "Health": "record", "Status": "record",
         "parse_iso": "record", "now_iso": "record",
         "NetworkInfo": "networks", "NetworkSpec": "networks",
         "Reference": "images.reference", "Version": "images.versions",
         **{name: "registry.types" for name in (
             "ImageMessage", "LayerProgress", "LoginRequest", "LoginResult", "Platform",
             "Progress", "PulledImage", "PullRequest", "PullResult", "PushedImage",
             "PushRequest", "PushResult")}}


def __getattr__(name: str) -> Any:
    """The lazily imported types of ``_LAZY``."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"pycompose.engine.{module}"), name)

__all__ = [
    "Busy",
    "CannotExecute",
    "Change",
    "CommandNotFound",
    "Conflict",
    "ContainerRecord",
    "CreateRequest",
    "Damaged",
    "DeviceCgroupRule",
    "DeviceMapping",
    "Endpoint",
    "Engine",
    "EngineError",
    "Event",
    "ExecRequest",
    "Health",
    "Healthcheck",
    "IdMapping",
    "ImageMessage",
    "Internal",
    "InvalidArgument",
    "LayerProgress",
    "LogConfig",
    "LoginRequest",
    "LoginResult",
    "Mount",
    "NetworkInfo",
    "NetworkSpec",
    "NotFound",
    "PathStat",
    "Platform",
    "PortBinding",
    "Progress",
    "PullRequest",
    "PullResult",
    "PulledImage",
    "PushRequest",
    "PushResult",
    "PushedImage",
    "Reference",
    "Resources",
    "RestartPolicy",
    "SetupFailed",
    "Stats",
    "Status",
    "Ulimit",
    "Unavailable",
    "Version",
    "device_mapping",
    "now_iso",
    "parse_device",
    "parse_device_cgroup_rule",
    "parse_iso",
    "parse_reference",
]


class Engine:
    """The engine of one state root. Blocking calls: from trio, run them in a worker
    thread (``trio.to_thread.run_sync``)."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            from pycompose.util.paths import state_root

            root = state_root()
        self.root = root

    def __repr__(self) -> str:
        return f"Engine({str(self.root)!r})"

    # -- the supervisor's half ---------------------------------------------------------
    def _call(self, op: str, **fields: Any) -> dict[str, Any]:
        from .. import client

        return client.request(self.root, {"op": op, **fields})

    def create(self, req: CreateRequest) -> str:
        """Create a container; its full id."""
        return str(self._call("create", request=to_plain(req))["id"])

    def start(self, ref: str) -> str:
        """Start a created or stopped container (detached); its full id."""
        return str(self._call("start", id=ref)["id"])

    def stop(self, ref: str, timeout: float | None = None, signal: str | None = None
             ) -> str:
        """The stop signal, then SIGKILL after ``timeout`` seconds (the container's
        StopTimeout, else 10); a container that is not running is left as it is."""
        return str(self._call("stop", id=ref, timeout=timeout, signal=signal)["id"])

    def restart(self, ref: str, timeout: float | None = None, signal: str | None = None
                ) -> str:
        return str(self._call("restart", id=ref, timeout=timeout, signal=signal)["id"])

    def kill(self, ref: str, signal: str = "SIGKILL") -> str:
        return str(self._call("kill", id=ref, signal=signal)["id"])

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        return str(self._call("rm", id=ref, force=force, volumes=volumes)["id"])

    def wait(self, ref: str) -> int:
        """Until the container has exited; its exit code."""
        return int(self._call("wait", id=ref)["code"])

    def ping(self) -> int:
        """Start the supervisor if none serves this root; its pid."""
        return int(self._call("ping")["pid"])

    # -- the records' half ---------------------------------------------------------------
    def _store(self) -> Any:
        from ..containers import ContainerStore

        return ContainerStore(self.root)

    def container(self, ref: str) -> ContainerRecord:
        """The container named ``ref`` (name, id or unique id prefix)."""
        from ..record import ContainerRecord

        return ContainerRecord(self._store().get(ref))

    def containers(self, *, labels: dict[str, str] | None = None) -> list[ContainerRecord]:
        """Every container, newest first; with ``labels``, those carrying all of them."""
        from .. import client
        from ..record import ContainerRecord

        store = self._store()
        raws = store.list()
        if client.repair_stale(self.root, raws):  # a supervisor died: true state first
            raws = store.list()
        out = []
        for raw in raws:
            rec = ContainerRecord(raw)
            if labels and any(rec.labels.get(k) != v for k, v in labels.items()):
                continue
            out.append(rec)
        return out

    def copy_from(self, ref: str, path: str, dest: str, *, follow_link: bool = False
                  ) -> None:
        """``cp CONTAINER:PATH DEST`` (docker's rules), resolved inside the container."""
        from ..containers import copy_from

        copy_from(self._store().get(ref), path, dest, follow_link=follow_link)

    def copy_to(self, ref: str, src: str, path: str, *, follow_link: bool = False,
                archive: bool = False) -> None:
        """``cp SRC CONTAINER:PATH`` (docker's rules), never through a container's link."""
        from ..containers import copy_to

        copy_to(self._store().get(ref), src, path, follow_link=follow_link, archive=archive)

    def rename(self, ref: str, name: str) -> str:
        """Give the container ``ref`` the name ``name`` (unique, as a new one); its id."""
        return str(self._store().rename(ref, name)["Id"])

    def changes(self, ref: str) -> list[Change]:
        """``docker diff``: what the container's layer changed against its image."""
        from ..archive import changes
        from ..containers import _files

        return _without_mount_points(changes(_files(self._store().get(ref))))

    def archive_stat(self, ref: str, path: str) -> PathStat:
        """docker's ``PathStat`` of ``path`` in the container (NotFound if missing)."""
        from ..archive import stat_path
        from ..containers import _files

        return stat_path(_files(self._store().get(ref)), path)

    def archive_get(self, ref: str, path: str, out: BinaryIO | IO[bytes]) -> None:
        """A tar stream of ``path`` (named by its base name) written to ``out``, read
        inside the container's root."""
        from ..archive import tar_out
        from ..containers import _files

        tar_out(_files(self._store().get(ref)), path, out)

    def archive_put(self, ref: str, path: str, tar: BinaryIO | IO[bytes], *,
                    no_overwrite_dir_non_dir: bool = False) -> int:
        """Extract a tar stream into the directory ``path`` of the container, every
        member resolved inside its root; the number of entries made."""
        from ..archive import tar_in
        from ..containers import _files

        return tar_in(_files(self._store().get(ref)), path, tar,
                      no_overwrite_dir_non_dir=no_overwrite_dir_non_dir)

    def resize(self, ref: str, rows: int, cols: int) -> None:
        """The terminal of a running ``-t`` container takes a new size."""
        self._call("resize", id=ref, rows=rows, cols=cols)

    def top_pids(self, ref: str) -> list[int]:
        """Host pids of every process of a running container."""
        from ..containers import container_pids

        rec = self.container(ref)
        if not rec.status.is_active or not rec.pid:
            raise Conflict(f"container {rec.name} is not running")
        return container_pids(rec.pid)

    # -- networks, volumes, images: the caller's process, under the stores' locks ------
    @property
    def networks(self) -> NetworkDoor:
        from ..networks import NetworkDoor

        return NetworkDoor(self.root)

    def connect(self, network: str, ref: str, *, aliases: list[str] | None = None,
                ipv4: str | None = None) -> None:
        """Connect a container to a network: now if it runs, at its next start if
        not; its record says so either way."""
        from ..networks import connect

        connect(self.root, ref, network, aliases=aliases, ipv4=ipv4)

    def disconnect(self, network: str, ref: str, *, force: bool = False) -> None:
        from ..networks import disconnect

        disconnect(self.root, ref, network, force=force)

    def volume_exists(self, name: str) -> bool:
        from ..volumes import VolumeStore

        try:
            VolumeStore(self.root).get(name)
        except NotFound:
            return False
        return True

    def ensure_volume(self, name: str, labels: dict[str, str] | None = None) -> bool:
        """Create the named volume unless it exists; True when it was created now."""
        from ..volumes import VolumeStore

        if self.volume_exists(name):
            return False
        VolumeStore(self.root).create(name, labels=dict(labels or {}))
        return True

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        from ..volumes import VolumeStore

        VolumeStore(self.root).remove(name, force=force)

    def image_id(self, ref: str) -> str | None:
        """The id of the image ``ref`` names now, None when the store has none."""
        from ..images import ImageStore

        try:
            return str(ImageStore(self.root).resolve(ref).id)
        except NotFound:
            return None

    def exec(self, ref: str, req: ExecRequest) -> tuple[int, bytes]:
        """Run ``req`` in the running container, without a terminal, to its end: its
        exit code and its output (stdout and stderr together, at most 1 MiB kept)."""
        from .. import client

        r, w = os.pipe2(os.O_CLOEXEC)
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        plain = to_plain(ExecRequest(cmd=list(req.cmd), env=list(req.env), user=req.user,
                                     workdir=req.workdir, privileged=req.privileged))
        chunks: list[bytes] = []
        try:
            with client.connect(self.root) as conn:
                conn.send({"op": "exec", "id": ref, "request": plain}, [null, w, w])
                os.close(w)
                w = -1
                conn.recv()
                while True:
                    data = os.read(r, 65536)
                    if not data:
                        break
                    if sum(map(len, chunks)) < 1 << 20:
                        chunks.append(data)
                while True:
                    msg, fds = conn.recv()
                    for fd in fds:
                        os.close(fd)
                    if msg.get("event") == "exit":
                        return int(msg["code"]), b"".join(chunks)
        finally:
            os.close(r)
            os.close(null)
            if w >= 0:
                os.close(w)

    # -- pause, stats, waits, events ------------------------------------------------------
    def pause(self, ref: str) -> str:
        """Freeze every process of a running container (cgroup v2 freeze or the v1
        freezer); Conflict when it is not running or already paused."""
        return str(self._call("pause", id=ref)["id"])

    def unpause(self, ref: str) -> str:
        return str(self._call("unpause", id=ref)["id"])

    def stats(self, ref: str) -> Stats:
        """One sample of a running container's cgroup counters."""
        reply = self._call("stats", id=ref)
        st = reply["stats"]
        return Stats(id=str(reply["id"]), time_ns=int(reply["time_ns"]),
                     cpu_ns=int(st.get("cpu_ns", 0)), memory=int(st.get("memory", 0)),
                     memory_limit=int(st.get("memory_limit", 0)), pids=int(st.get("pids", 0)))

    def wait_health(self, ref: str, timeout: float | None = None) -> ContainerRecord:
        """Until the container's healthcheck has decided (healthy or unhealthy), or it
        is not running any more, or ``timeout`` seconds passed: its record then. The
        supervisor answers on the event, so a waiter learns at once (no polling)."""
        from ..record import ContainerRecord

        return ContainerRecord(self._call("wait_health", id=ref, timeout=timeout)["record"])

    def events(self, since_ns: int | None = None) -> Iterator[Event]:
        """The engine's events as they happen (create, start, die, stop, kill, pause,
        unpause, destroy, ``health_status: ...``), until the caller stops iterating;
        with ``since_ns``, the recent ones from then on first."""
        from .. import client

        with client.connect(self.root) as conn:
            conn.send({"op": "events", "since_ns": since_ns})
            conn.recv()
            while True:
                msg, fds = conn.recv()
                for fd in fds:
                    os.close(fd)
                ev = msg.get("event")
                if isinstance(ev, dict):
                    yield Event(type=str(ev.get("type", "container")),
                                action=str(ev["action"]), id=str(ev["id"]),
                                attributes={str(k): str(v) for k, v in
                                            (ev.get("attributes") or {}).items()},
                                time_ns=int(ev["time_ns"]))

    def commit(self, ref: str, repository: str | None = None, *, message: str = "",
               author: str = "", changes: list[str] | None = None, pause: bool = True) -> str:
        """The container's changes as a new image (its id); ``pause`` freezes a running
        container meanwhile, as docker does, so that the layer is consistent."""
        from ..containers import commit

        rec = self.container(ref)
        paused = False
        if pause and rec.status.value == "running":
            try:
                self.pause(rec.id)
                paused = True
            except EngineError:
                paused = False  # no freezer here: commit it as it runs
        try:
            return commit(self.root, self._store().get(rec.id), repository, message=message,
                          author=author, changes=changes)
        finally:
            if paused:
                try:
                    self.unpause(rec.id)
                except Conflict as e:  # it exited meanwhile (frozen as it ended)
                    import logging

                    logging.getLogger("pycompose.engine").info(
                        "commit %s: no unpause: %s", rec.id[:12], e)

    def export(self, ref: str, out: BinaryIO) -> None:
        """The container's whole filesystem as a tar stream on ``out`` (docker export):
        copied out through the confined copy (never the host's paths), then tarred."""
        import shutil
        import tarfile
        import tempfile

        rec = self.container(ref)
        with tempfile.TemporaryDirectory(prefix="pycompose-export-") as tmp:
            self.copy_from(rec.id, "/.", tmp)
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for entry in sorted(os.listdir(tmp)):
                    tar.add(os.path.join(tmp, entry), arcname=entry)
            shutil.rmtree(tmp, ignore_errors=True)

    # -- images: registries and versions (in the caller's process) -------------------------
    def pull(self, req: PullRequest, progress: Progress | None = None) -> PullResult:
        """Pull from a registry into this root's store (runs its own trio loop)."""
        from ..registry import pull_image

        return pull_image(req, root=self.root, progress=progress)

    async def pull_async(self, req: PullRequest, progress: Progress | None = None,
                         auth: LoginRequest | None = None) -> PullResult:
        """Pull, from a caller already under trio (``auth``: credentials for this pull
        only, over docker's config.json)."""
        from ..registry import pull_image_async, session_with

        if auth is None:
            return await pull_image_async(req, root=self.root, progress=progress)
        async with session_with(auth) as s:
            return await pull_image_async(req, root=self.root, progress=progress,
                                          with_session=s)

    def push(self, req: PushRequest, progress: Progress | None = None) -> PushResult:
        """Push a tag, sending only the blobs the registry lacks."""
        from ..registry import push_image

        return push_image(req, root=self.root, progress=progress)

    async def push_async(self, req: PushRequest, progress: Progress | None = None,
                         auth: LoginRequest | None = None) -> PushResult:
        from ..registry import push_image_async, session_with

        if auth is None:
            return await push_image_async(req, root=self.root, progress=progress)
        async with session_with(auth) as s:
            return await push_image_async(req, root=self.root, progress=progress,
                                          with_session=s)

    def login(self, req: LoginRequest) -> LoginResult:
        """Check credentials against a registry; keep them as docker's CLI does."""
        from ..registry import login

        return _reaching(req.server, lambda: login(req))

    def check_login(self, req: LoginRequest) -> LoginResult:
        """Check credentials against a registry without keeping them (docker's
        ``/auth``: the client keeps them)."""
        from ..registry import login

        return _reaching(req.server, lambda: login(req, store=False))

    def logout(self, server: str) -> bool:
        from ..registry import logout

        return logout(server)[1]

    def image_versions(self, name: str) -> list[Version]:
        """Every version tag ``name`` has pointed to, oldest first."""
        from ..images import ImageStore, versions

        return versions.history(ImageStore(self.root), name)

    def rollback(self, name: str, to: str | None = None) -> tuple[Version, Version]:
        """Point tag ``name`` back at an earlier version (``to``: a number or an image
        id; default the one before the current); (the version, the new record)."""
        from ..images import ImageStore, versions

        return versions.rollback(ImageStore(self.root), name, to)

    def supervisor_running(self) -> bool:
        from .. import client

        return client.running(self.root)


def parse_reference(ref: str) -> Reference:
    """An image reference parsed and normalised as docker's (``busybox`` is
    ``docker.io/library/busybox:latest``); InvalidArgument when it is not one."""
    from ..images import reference

    return reference.parse(ref)


def default_engine() -> Engine:
    """The engine of ``$PYCOMPOSE_ROOT`` (or the default state root)."""
    root = os.environ.get("PYCOMPOSE_ROOT")
    return Engine(Path(root) if root else None)


def _reaching(server: str, fn: Callable[[], LoginResult]) -> LoginResult:
    """``fn()``, a registry that cannot be reached being Unavailable that names it (the
    registry client's login asks ``/v2/`` without its transport errors' translation;
    the fix belongs there, this keeps a front end from showing httpx's traceback)."""
    import httpx

    try:
        return fn()
    except httpx.TransportError as e:
        raise Unavailable(f"{server or 'docker.io'}: cannot reach the registry: "
                          f"{type(e).__name__}: {e}") from e


#: the files the runtime binds over the image's (its own hosts, hostname, resolv.conf):
#: their mount points are made in the upper dir, as docker makes them in its init layer,
#: which its diff does not show
_BOUND_ETC = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def _without_mount_points(found: list[Change]) -> list[Change]:
    """``docker diff`` as docker shows it: not the bound files' mount points, nor /etc
    as changed when they are all that changed in it."""
    out = [c for c in found if c.path not in _BOUND_ETC]
    if not any(c.path.startswith("/etc/") for c in out):
        out = [c for c in out if not (c.path == "/etc" and c.kind == 0)]
    return out

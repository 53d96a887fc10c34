"""The steps that make layers: RUN in a container, COPY/ADD/WORKDIR through a detached
overlay of the parent's layers. Each looks its cache key up first, and on a miss does
the work and records the new layer.

The new layer of every step is an overlay upper directory: the RUN container's (taken
from it when it exits, after removing the empty files and directories the runtime made
as mount points: /etc/hosts, /run/secrets/x, cache targets), or the one COPY wrote
through. It becomes the unpacked layer as it is, its diff_id found by packing it as a
tar (whiteouts as ``.wh.`` entries) that is hashed and not written: the store packs it
again when a save or a push needs the blob. Then the cache holds it.

Secrets: a ``--mount=type=secret`` file lives in the build's 0700 workspace and is bind
mounted read-only; its mount point is removed from the upper directory before packing,
and its content is never part of a key, an argv or a history entry.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pycompose.util.records import field, record

from ..errors import EngineError, InvalidArgument
from ..images import fsops
from ..images.image import Image
from ..images.layerstore import LayerRef
from ..images.store import ImageStore
from . import cache as C
from .cache import Cache
from .dockerfile import Dockerfile, Run, RunMount, parse_mount
from .request import BuildRequest, Secret
from .state import PROXY_ARGS, State
from .steps import LABEL_BUILD, LABEL_PID, Containers, Mount, RunSpec
from .workspace import Workspace, cache_mount

#: where the runtime puts files of its own in every container (mount points in the
#: upper directory when the image lacks them)
RUNTIME_TARGETS = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/sys",
                   "/dev")


class Miss(EngineError):
    """A step that would have to run while the build only probes the cache."""


class Interrupted(EngineError):
    """The build was cancelled while this step ran."""


class StepFailed(EngineError):
    """A RUN that exited non-zero (its output was streamed already)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@record
class Services:
    """What every step needs: the store, the cache, scratch space, the engine."""

    root: Path
    store: ImageStore
    cache: Cache
    work: Workspace
    containers: Containers
    request: BuildRequest
    dockerfile: Dockerfile
    author: str
    build_id: str
    mark: str
    output: Callable[[int, bytes, float], None]  # (vertex, data, seconds): thread-safe
    probe: bool = False  # only find layers in the cache: a miss raises Miss
    #: what this build wrote whose data may not be on disk yet: under
    #: util.fs.deferred_sync its records and directories (see make_durable)
    unsynced: list[Path] = field(default_factory=list)
    live: set[str] = field(default_factory=set)  # RUN containers now running
    #: COPY steps being staged while the RUN before them runs (prefetch.py), by id()
    #: of their instruction
    prefetched: dict[int, Any] = field(default_factory=dict)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop the build's running steps (Ctrl-C, or another stage failed): their
        containers are killed, and each step raises when it sees the flag."""
        self.cancelled.set()
        for cid in list(self.live):
            self.containers.kill(cid)

    def drop_prefetched(self) -> None:
        """Wait for the stagings no step took (a failed build's), and forget them."""
        for staged in list(self.prefetched.values()):
            staged.discard()
        self.prefetched.clear()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Interrupted("the build was interrupted")

    def make_durable(self) -> None:
        """fsync the records and directories this build wrote under deferred_sync:
        called before the image is registered, and when the build ends anyway. One
        wait at the end instead of one per layer on each step's path; the layers' files
        are left to the kernel's writeback, as docker leaves them (a build writes no
        layer tar, see commit_upper)."""
        from pycompose.util.fs import sync_paths

        try:
            sync_paths(self.unsynced)  # gone ones skipped: an identical blob was there
        except OSError as e:
            raise EngineError(f"cannot write the build's layers to disk: "
                              f"{e.strerror or e} ({e.filename})") from None

    def lowerdirs(self, layers: list[LayerRef]) -> list[str]:
        """The overlay lowerdirs of ``layers``, top first (the unpacked directories; a
        pulled base image's layers are unpacked here, on first use)."""
        from ..errors import NotFound
        from ..images.unpacking import ensure_unpacked

        try:
            ensure_unpacked(self.store, layers)
        except NotFound as e:  # neither its directory nor its blob: a damaged cache
            raise EngineError(f"{e} (run the build again with --no-cache)")
        out = []
        for ly in reversed(layers):
            d = self.store.layer_dir(ly.chain_id) / "diff"
            if not d.is_dir():
                raise EngineError(f"layer {ly.chain_id} is missing from the image store "
                                  "(run the build again with --no-cache)")
            out.append(str(d))
        return out

    @property
    def empty(self) -> str:
        d = self.store.images_dir / "empty"
        d.mkdir(parents=True, exist_ok=True)
        return str(d)


def now() -> str:
    """RFC 3339 in UTC with microseconds, as image configs write it."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


# -- committing a directory as a layer -------------------------------------------------------
def strip_overlay_marks(tree: Path) -> bool:
    """Remove the xattrs overlayfs leaves on copied-up entries (``origin``,
    ``impure``...) but the opaque marks, so that ``tree`` can serve as a lowerdir of
    other stacks. False when it holds redirects or metacopy entries (a kernel with
    those features on): then it must be packed and unpacked instead."""
    keep = fsops.OVERLAY_OPAQUE
    for dirpath, dirs, files in os.walk(tree):
        for name in [*dirs, *files, ""]:
            path = os.path.join(dirpath, name) if name else dirpath
            try:
                names = os.listxattr(path, follow_symlinks=False)
            except OSError:
                continue
            for x in names:
                if not x.startswith(fsops.FORBIDDEN_XATTR_PREFIX) or x == keep:
                    continue
                if x.endswith((".redirect", ".metacopy")):
                    return False
                with contextlib.suppress(OSError):
                    os.removexattr(path, x, follow_symlinks=False)
    return True


def commit_upper(svc: Services, upper: Path, below: list[LayerRef], key: str, what: str,
                 created: str) -> LayerRef:
    """Store ``upper`` as a layer on ``below`` and record it under ``key``.

    The upper dir itself becomes the unpacked layer, and no tar is written: it is
    packed only to find its diff_id (hashed as it is made, the bytes thrown away), as
    docker writes no layer tar until a save or a push needs one; the store packs the
    directory again then (:meth:`LayerStore.layer_blob`). Writing the tar cost a
    second write of every byte of the layer, and on a busy disk its writeback slowed
    the steps after it more than the packing itself."""
    from ..images.pack import pack

    store = svc.store
    plain = strip_overlay_marks(upper)
    with store.writing(), store.tmpdir() as tmp:
        parent = below[-1].chain_id if below else None
        if plain and os.stat(upper).st_dev == os.stat(tmp).st_dev:
            try:
                result = pack(str(upper), None)
            except OSError as e:
                raise EngineError(f"{what}: cannot pack the new layer: {e.strerror or e}")
            layer = store.add_layer_dir(upper, None, result.diff_id, result.size, parent,
                                        what=what, disk_size=result.disk_size)
        else:  # another filesystem, or overlay redirects: unpack a copy of a real tar
            blob = tmp / "layer.tar"
            with open(blob, "w+b") as out:
                try:
                    pack(str(upper), out)
                    out.flush()
                except OSError as e:
                    raise EngineError(f"{what}: cannot pack the new layer: "
                                      f"{e.strerror or e}")
                out.seek(0)
                layer = store.add_layer(out, parent, what=what)
        svc.cache.put(key, below, layer, created=created, author=svc.author)
    return layer


def relink(svc: Services, layer: LayerRef, below: list[LayerRef], key: str,
           what: str, created: str) -> LayerRef:
    """A ``--link`` layer made before, put on another parent (unpacked again, not
    copied again)."""
    store = svc.store
    parent = below[-1].chain_id if below else None
    with store.writing(), open(store.layer_blob(layer, what=what), "rb") as f:
        new = store.add_layer(f, parent, expected_digest=layer.digest,
                              expected_diff_id=layer.diff_id, what=what)
        svc.cache.put(key, below, new, created=created, author=svc.author)
    return new


def run_image(svc: Services, state: State) -> Image:
    """An image of the parent's layers with an empty config, for RUN containers (held by
    the cache; the same layers give the same image)."""
    cfg = {"architecture": state.platform.get("architecture", ""),
           "os": state.platform.get("os", "linux"), "config": {},
           "rootfs": {"type": "layers", "diff_ids": [ly.diff_id for ly in state.layers]},
           "history": []}
    from ..images.layout import canonical_json, digest_of

    image_id = digest_of(canonical_json(cfg))
    held = svc.store.held_image(image_id)
    if held is not None:
        return held
    return svc.store.add_held_image(cfg, list(state.layers), data={"build": True})


# -- mount stubs --------------------------------------------------------------------------------
def _exists_below(lowers: list[str], rel: str) -> os.stat_result | None:
    for d in lowers:
        with contextlib.suppress(OSError):
            return os.lstat(os.path.join(d, rel))
    return None


def clean_stubs(upper: Path, lowers: list[str], targets: list[str]) -> None:
    """Remove from ``upper`` what the runtime made only to mount on: empty files and
    directories at (and above) ``targets`` that the parent layers did not have, and
    copied-up parents left unchanged."""
    for target in sorted(set(targets), key=len, reverse=True):
        rel = target.strip("/")
        while rel:
            path = upper / rel
            try:
                st = os.lstat(path)
            except OSError:
                break
            lower = _exists_below(lowers, rel)
            if stat.S_ISDIR(st.st_mode):
                try:
                    empty = not os.listdir(path)
                except OSError:
                    break
                if not empty or fsops.is_opaque(str(path)):
                    break
                if lower is not None and not (
                        stat.S_ISDIR(lower.st_mode) and lower.st_mode == st.st_mode
                        and lower.st_uid == st.st_uid and lower.st_gid == st.st_gid):
                    break
                os.rmdir(path)
            elif stat.S_ISREG(st.st_mode) and st.st_size == 0 and lower is None:
                os.unlink(path)
            else:
                break
            if lower is not None:
                break  # what was below is the image's own: stop there
            rel = posixpath.dirname(rel)


# -- RUN -----------------------------------------------------------------------------------------
def run_argv(state: State, ins: Run, work: Workspace,
             extra_mounts: list[Mount]) -> tuple[list[str], list[str]]:
    """(argv, the argv as history shows it) of a RUN, with its heredocs."""
    args = list(ins.cmd)
    if ins.heredocs:
        marker = ins.cmd[0].strip()
        from .syntax import heredoc_marker

        first = ins.heredocs[0]
        if heredoc_marker(marker) is not None and len(ins.heredocs) == 1:
            data = first.text()
            if data.startswith("#!"):
                d = work.new_dir("heredoc")
                script = d / "script"
                script.write_text(data)
                os.chmod(script, 0o755)
                target = posixpath.join("/dev/pipes", first.name)
                extra_mounts.append(Mount("bind", target, str(script), read_only=True))
                return [target], [target]
            args = [data]
        else:
            text = ins.cmd[0]
            for doc in ins.heredocs:
                text += "\n" + doc.content + doc.name
            args = [text]
    if ins.shell_form:
        argv = [*state.shell(), " ".join(args)]
    else:
        argv = args
    return argv, argv


@record
class MountPlan:
    """A parsed RUN --mount, with what it binds resolved (a stage's state, a folder)."""

    spec: RunMount
    state: State | None = None  # from=STAGE|IMAGE
    folder: Path | None = None  # from=additional context, or the build context


def resolve_run_mounts(df: Dockerfile, ins: Run, env: dict[str, str]) -> list[RunMount]:
    out = []
    for raw in ins.mounts:
        text = df.expand(raw, env, ins.line)
        try:
            out.append(parse_mount(text))
        except ValueError as e:
            raise df.error(ins.line, f"RUN --mount={text}: {e}") from None
    return out


def _secret(svc: Services, sid: str) -> Secret | None:
    for s in svc.request.secrets:
        if s.id == sid:
            return s
    return None


@contextlib.contextmanager
def _attached(svc: Services, mounted_fd: int, path: Path) -> Iterator[None]:
    """A detached mount attached at ``path`` for a bind mount (detached again after)."""
    from ..runtime import linux as L

    L.move_mount(mounted_fd, str(path))
    try:
        yield
    finally:
        fsops.umount_under(str(path))


def run_step(svc: Services, state: State, ins: Run, vertex: int, mounts: list[MountPlan],
             context_dir: Path | None, network: str, started: float,
             on_miss: Callable[[], None] | None = None) -> tuple[str, str, bool]:
    """Run one RUN (blocking; called in a worker thread). Returns (key, created_by,
    cached) after appending the layer to ``state``. ``on_miss`` is called when the
    step is not in the cache and is about to run (the solver stages the next COPY)."""
    df = svc.dockerfile
    extra: list[Mount] = []
    argv, shown = run_argv(state, ins, svc.work, extra)
    proxies = {k: v for k, v in svc.request.build_args.items() if k in PROXY_ARGS}
    env = state.run_env(proxies)
    key_env = [e for e in env if e.partition("=")[0] not in proxies]
    used = [(k, state.args[k]) for k in state.args_order if k in state.args
            and k not in PROXY_ARGS]
    prefix = f"|{len(used)} " + " ".join(f"{k}={v}" for k, v in used) + " " if used else ""
    created_by = "RUN " + prefix + " ".join(shown)
    mount_keys = []
    for mp in mounts:
        m = mp.spec
        mount_keys.append({"type": m.type, "target": m.target, "source": m.source,
                           "from": mp.state.top_chain if mp.state else
                           (str(mp.folder) if mp.folder else ""),
                           "ro": m.read_only, "id": m.id,
                           "mode": m.mode, "uid": m.uid, "gid": m.gid, "env": m.env})
    heredoc_files = [d.text() for d in ins.heredocs]
    key = C.key("run", state.parent_key, argv=argv, env=sorted(key_env), user=state.user(),
                workdir=state.workdir(), mounts=mount_keys, network=network,
                heredocs=heredoc_files)
    hit = svc.cache.get(key, state.layers[-1].chain_id if state.layers else None)
    if hit is not None:
        state.add_layer(hit.layer, key)
        state.record(created_by, created=hit.created, author=hit.author, layer=True,
                     comment=C.comment(key))
        return key, created_by, True
    if svc.probe:
        raise Miss(created_by)
    if on_miss is not None:
        on_miss()
    image = run_image(svc, state)
    lowers = svc.lowerdirs(state.layers)
    with contextlib.ExitStack() as stack:
        binds: list[Mount] = list(extra)
        for mp in mounts:
            m = mp.spec
            if m.type == "cache":
                path = stack.enter_context(cache_mount(
                    svc.root, m.id, m.sharing, mode=m.mode if m.mode is not None else 0o755,
                    uid=m.uid or 0, gid=m.gid or 0, scratch=svc.work))
                binds.append(Mount("bind", m.target, str(path), read_only=bool(m.read_only)))
            elif m.type == "tmpfs":
                binds.append(Mount("tmpfs", m.target, size=m.size))
            elif m.type == "secret":
                secret = _secret(svc, m.id)
                if secret is None:
                    if m.required:
                        raise df.error(ins.line, f"RUN --mount=type=secret: secret {m.id!r} "
                                       "is required; give it with --secret id="
                                       f"{m.id},src=FILE")
                    continue
                try:
                    data = secret.read()
                except OSError as e:
                    raise InvalidArgument(f"secret {m.id}: cannot read {secret.path}: "
                                          f"{e.strerror}") from None
                if m.env:
                    env = [e for e in env if not e.startswith(m.env + "=")]
                    env.append(f"{m.env}={data.decode(errors='replace')}")
                if m.target:
                    d = svc.work.new_dir("secret")
                    f = d / "secret"
                    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with open(fd, "wb") as out:
                        out.write(data)
                    os.chown(f, m.uid or 0, m.gid or 0)
                    os.chmod(f, m.mode if m.mode is not None else 0o400)
                    binds.append(Mount("bind", m.target, str(f), read_only=True))
            elif m.type == "bind":
                if mp.state is not None:
                    from .overlay import mounted

                    at = svc.work.new_dir("bind")
                    fd = stack.enter_context(mounted(svc.lowerdirs(mp.state.layers),
                                                     empty=svc.empty))
                    stack.enter_context(_attached(svc, fd, at))
                    base = at
                else:
                    folder = mp.folder or context_dir
                    if folder is None:
                        raise df.error(ins.line, "RUN --mount=type=bind: there is no build "
                                       "context to bind from")
                    base = folder
                src = _inside(base, m.source, df, ins.line)
                if m.read_only is False:
                    # rw: the step may write, but never into the context or the stage:
                    # a throwaway overlay on top of it takes the writes (as BuildKit)
                    src = _writable_view(svc, stack, src)
                binds.append(Mount("bind", m.target, src, read_only=m.read_only is not False))
        spec = RunSpec(image=image.id, argv=argv, env=env, user=state.user(),
                       workdir=state.workdir(), network=network, mounts=binds,
                       extra_hosts=list(svc.request.extra_hosts),
                       shm_size=svc.request.shm_size,
                       labels={LABEL_BUILD: svc.build_id, LABEL_PID: svc.mark})
        svc.check()
        from .workspace import note_running

        note_running(svc.root, svc.mark, svc.build_id)
        cid = svc.containers.create(spec)
        svc.live.add(cid)
        removal: _Removal | None = None
        try:
            svc.check()
            code = _run_streaming(svc, cid, vertex, started)
            svc.check()
            if code != 0:
                raise StepFailed(f"{df.name}:{ins.line}: process \"{' '.join(argv)}\" did "
                                 f"not complete successfully: exit code: {code}", code)
            upper = svc.work.new_dir("run") / "upper"
            svc.containers.take_upper(cid, upper)
            removal = _Removal(svc, cid)  # while the layer is packed
        finally:
            if removal is None:
                svc.containers.remove(cid)
                svc.live.discard(cid)
    try:
        targets = [*RUNTIME_TARGETS, *[b.target for b in binds]]
        clean_stubs(upper, lowers, targets)
        created = now()
        layer = commit_upper(svc, upper, state.layers, key, f"{df.name}:{ins.line} RUN",
                             created)
    except BaseException:
        removal.thread.join()  # the step's own error is the one to tell
        raise
    removal.wait()
    state.add_layer(layer, key)
    state.record(created_by, created=created, author=svc.author, layer=True,
                 comment=C.comment(key))
    return key, created_by, False


class _Removal:
    """A stopped RUN container removed in a thread of its own: its upper directory is
    taken already, so the supervisor's teardown (network, cgroup, records) runs while
    the step packs the layer instead of before."""

    def __init__(self, svc: Services, cid: str) -> None:
        self.svc = svc
        self.cid = cid
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="pycompose-build-remove")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.svc.containers.remove(self.cid)
        except BaseException as e:  # raised by wait(), in the step's thread
            self.error = e
        finally:
            self.svc.live.discard(self.cid)

    def wait(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _writable_view(svc: Services, stack: contextlib.ExitStack, src: str) -> str:
    """A writable copy-on-write view of the directory ``src`` whose writes are thrown
    away with the step."""
    from .overlay import mounted

    if not os.path.isdir(src):
        d = svc.work.new_dir("bind-file")
        import shutil

        shutil.copy2(src, d / "file")
        return str(d / "file")
    d = svc.work.new_dir("bind-rw")
    for sub_dir in ("upper", "work", "view"):
        (d / sub_dir).mkdir()
    fd = stack.enter_context(mounted([src], str(d / "upper"), str(d / "work"),
                                     empty=svc.empty))
    stack.enter_context(_attached(svc, fd, d / "view"))
    return str(d / "view")


def _inside(base: Path, source: str, df: Dockerfile, line: int) -> str:
    """The host path of ``source`` in folder ``base``, resolved inside it."""
    from .context import escapes_context

    if escapes_context(source):
        raise df.error(line, f"RUN --mount source {source!r} is outside the build context")
    rfd = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        from ..confined.kernel import open_in_root

        fd = open_in_root(rfd, source.lstrip("/") or ".", os.O_PATH)
    except FileNotFoundError:
        raise df.error(line, f"RUN --mount source {source!r} not found") from None
    finally:
        os.close(rfd)
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _run_streaming(svc: Services, cid: str, vertex: int, started: float) -> int:
    """Run the container with its output on a pipe read by a thread of ours."""
    import threading

    r, w = os.pipe()
    os.set_inheritable(w, False)

    def pump() -> None:
        try:
            while data := os.read(r, 65536):
                svc.output(vertex, data, time.monotonic() - started)
        except OSError:
            pass
        finally:
            os.close(r)

    t = threading.Thread(target=pump, daemon=True, name="pycompose-build-output")
    t.start()
    try:
        return svc.containers.run(cid, w)
    finally:
        os.close(w)
        t.join(timeout=30)

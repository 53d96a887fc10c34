"""Containers in a user namespace (``--userns remap``, ``--uidmap``) on a normal image.

The container's root is a host uid like 100000. Three things stand in its way if it
builds its own filesystem the plain way (overlay mounted by PID 1 after unsharing the
user namespace, as for other containers):

- it cannot even reach the layers: the image store (``$PYCOMPOSE_ROOT/images``, 0700)
  and the state root's own parents (a test's tmp dir) are closed to uid 100000, so
  the mount fails with "Permission denied"; bind sources (etc files, named volumes
  under the state root) likewise;
- the image's files belong to host root, which the map does not cover: they would
  show as nobody and stay read-only to the container's root;
- an overlay mounted inside the user namespace runs its internal work with the
  creator's credentials, which cannot read ``trusted.overlay.opaque`` (CAP_SYS_ADMIN
  in the initial namespace): the store's opaque directories would be ignored, and the
  upper dir could not get them either (the kernel asks for ``userxattr``).

So the launcher, still host root, does the filesystem part before it joins the user
namespace -- podman's rootful way with idmapped layers (crun's idmapped mounts are
the same kernel feature):

1. A helper child unshares a user namespace; the launcher writes its maps and keeps a
   fd of it (the namespace then outlives the helper).
2. The launcher moves into a private mount namespace of its own and, as host root,
   clones each lower layer with ``open_tree(OPEN_TREE_CLONE)`` and makes the clone an
   *idmapped mount* (``mount_setattr(MOUNT_ATTR_IDMAP)`` with that namespace's fd):
   host uid 0 on disk reads as the mapped root (100000), so root inside, without
   copying or chowning a layer. A layer whose root is already owned by a mapped id
   (pre-shifted, docker's userns-remap storage) is used as it is.
3. It mounts the overlay over the attached clones. The upper and work dirs are NOT
   idmapped: what the container writes keeps its real host ids on disk (uid 100000
   for its root; copy-ups too, since they take the lower's idmapped owner), as
   docker's remapped storage has it. Their top dirs are chowned to the mapped root.
4. It clones each bind mount's source (detached trees; PID 1 attaches them with
   ``move_mount``, which needs no path lookup as the mapped root).
5. Only then it ``setns`` into the user namespace and unshares the rest: the mount
   namespace PID 1 works in is a copy owned by the container's user namespace (so
   proc, sysfs, devpts, tmpfs mounts work as usual), the overlay comes along locked,
   and PID 1 binds it onto itself to get a mount it may pivot into.

The launcher's cwd is the container's runtime dir (``spec.root``) from before step 2:
``unshare(CLONE_NEWNS)`` carries the cwd into the new namespace, so PID 1 reaches the
rootfs as ``rootfs`` relative to it, whatever modes the dirs above have. Everything
else of the host stays as closed to the container's root as the map says: files of
host ids outside the map show as nobody, and DAC applies to them.

Imported by the launcher: only cheap built-in modules.
"""

from __future__ import annotations

import errno
import os

from . import linux as L
from .protocol import StepError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the launcher ms
if TYPE_CHECKING:
    from typing import Any

#: Where the layer clones are attached (inside spec.root) while the overlay is mounted.
STAGE_DIR = ".layers"


def host_id(idmap: list[dict[str, int]], container_id: int) -> int | None:
    """The host id of ``container_id`` under ``idmap`` (uid_map lines), or None."""
    for m in idmap:
        if m["container_id"] <= container_id < m["container_id"] + m["size"]:
            return m["host_id"] + container_id - m["container_id"]
    return None


def is_mapped_host_id(idmap: list[dict[str, int]], hid: int) -> bool:
    """Whether host id ``hid`` is inside the map (some container id is it)."""
    return any(m["host_id"] <= hid < m["host_id"] + m["size"] for m in idmap)


def needs_idmap(owner_uid: int, uid_map: list[dict[str, int]]) -> bool:
    """A layer owned by a host id the map covers is already shifted (docker's
    userns-remap storage, a chowned copy): idmapping it again would push its ids out
    of the map. Anything else (the image store's host-root layers) gets idmapped."""
    return not is_mapped_host_id(uid_map, owner_uid)


def overlay_options(n_lowers: int, upper: str, work: str) -> str:
    """Mount data for the staged layers (short relative names: no page-size limit
    trouble for any realistic image)."""
    lowers = ":".join(f"{STAGE_DIR}/{i}" for i in range(n_lowers))
    return f"lowerdir={lowers},upperdir={upper},workdir={work}"


def _step(name: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError as e:
        raise StepError(name, e.errno or errno.EIO, e.strerror or str(e)) from None


def _maps(spec: dict[str, Any]) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    return spec["uid_map"], spec["gid_map"] or spec["uid_map"]


def new_userns(spec: dict[str, Any]) -> int:
    """A user namespace with the spec's maps, as an fd (the helper that made it is
    gone when this returns; the fd keeps the namespace)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        code = 1
        try:
            os.close(ready_r)
            os.close(go_w)
            try:
                L.unshare(L.CLONE_NEWUSER)
                os.write(ready_w, b"0")
            except OSError as e:
                os.write(ready_w, str(e.errno or errno.EIO).encode())
            os.read(go_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    try:
        answer = os.read(ready_r, 16)
        if answer != b"0":
            err = int(answer or errno.EIO)
            raise StepError("unshare user namespace", err, os.strerror(err))
        for kind, idmap in zip(("uid", "gid"), _maps(spec), strict=True):
            lines = "".join(f"{m['container_id']} {m['host_id']} {m['size']}\n" for m in idmap)
            try:
                with open(f"/proc/{helper}/{kind}_map", "w") as f:
                    f.write(lines)
            except OSError as e:
                shown = ", ".join(f"{m['container_id']}:{m['host_id']}:{m['size']}"
                                  for m in idmap)
                raise StepError(f"write {kind}_map", e.errno or errno.EPERM,
                                f"the kernel refused the map {shown}: {e.strerror} (ranges "
                                "must not overlap, at most 340 lines)") from None
        return _step("open the user namespace", os.open, f"/proc/{helper}/ns/user",
                     os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.write(go_w, b"x")
        os.close(go_w)
        os.waitpid(helper, 0)


def _idmapped_clone(path: str, userns_fd: int, uid_map: list[dict[str, int]],
                    *, recursive: bool, readonly: bool = False) -> int:
    fd: int = _step(f"clone image layer {path}", L.open_tree_clone, path, recursive)
    try:
        owner = _step(f"stat image layer {path}", os.stat, path).st_uid
        if needs_idmap(owner, uid_map):
            try:
                L.idmap_tree(fd, userns_fd, recursive, readonly)
            except OSError as e:
                err = e.errno or errno.EINVAL
                raise StepError(
                    f"idmap image layer {path}", err,
                    f"{os.strerror(err)}: a user namespace on an image needs idmapped "
                    "mounts (Linux >= 5.12, on a filesystem that supports them: ext4, "
                    "xfs, btrfs, tmpfs >= 6.3, ...)") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _own_by_mapped_root(spec: dict[str, Any], paths: list[str]) -> None:
    uid_map, gid_map = _maps(spec)
    uid, gid = host_id(uid_map, 0), host_id(gid_map, 0)
    if uid is None or gid is None:
        return  # root inside is unmapped: nothing sensible to own them
    for p in paths:
        st = _step(f"stat {p}", os.stat, p)
        if (st.st_uid, st.st_gid) != (uid, gid):
            _step(f"chown {p} to the container's root", os.chown, p, uid, gid)


def stage_rootfs(spec: dict[str, Any], userns_fd: int) -> None:
    """Steps 2-3 of the module docstring: in a private mount namespace, the rootfs at
    ``rootfs`` (relative to the cwd, spec.root)."""
    uid_map = _maps(spec)[0]
    rootfs = spec["rootfs"]
    if isinstance(rootfs, str) and spec.get("rootfs_shifted"):
        # An OCI bundle's root: its owners are already the container's ids, as its
        # maker chose (runc uses it as it is too).
        fd = _step(f"clone rootfs {rootfs}", L.open_tree_clone, rootfs, True)
        try:
            _step(f"bind rootfs {rootfs}", L.move_mount, fd, "rootfs")
        finally:
            os.close(fd)
        return
    if isinstance(rootfs, str):
        # A plain directory: one idmapped (recursive) bind -- read-only, since writes
        # through an idmapped mount land with the *unmapped* ids: the container's
        # root could leave host-root (even setuid-root) files in a host directory.
        # (Layers never see writes: the overlay's upper dir takes them.)
        fd = _idmapped_clone(rootfs, userns_fd, uid_map, recursive=True, readonly=True)
        try:
            _step(f"bind rootfs {rootfs}", L.move_mount, fd, "rootfs")
        finally:
            os.close(fd)
        return
    upper, work = rootfs["upperdir"], rootfs["workdir"]
    _own_by_mapped_root(spec, [upper, work])
    staged = []
    try:
        for i, lower in enumerate(rootfs["lowerdirs"]):
            where = f"{STAGE_DIR}/{i}"
            _step(f"mkdir {where}", os.makedirs, where, 0o700, True)
            fd = _idmapped_clone(lower, userns_fd, uid_map, recursive=False)
            try:
                _step(f"attach image layer {lower}", L.move_mount, fd, where)
            finally:
                os.close(fd)
            staged.append(where)
        data = overlay_options(len(staged), upper, work)
        if len(data) >= 4096:
            raise StepError("mount overlay rootfs", errno.E2BIG,
                            f"{len(staged)} layers need {len(data)} bytes of mount options, "
                            "more than the kernel's 4096")
        _step("mount overlay rootfs", L.mount, "overlay", "rootfs", "overlay", 0, data)
    finally:
        # the overlay holds private clones of its layers: the staging mounts can go
        for where in reversed(staged):
            try:
                L.umount2(where, L.MNT_DETACH)
            except OSError:
                pass


def clone_bind_sources(spec: dict[str, Any]) -> dict[int, tuple[int, bool]]:
    """Step 4: {index in spec.mounts: (detached tree fd, source is a directory)}."""
    trees: dict[int, tuple[int, bool]] = {}
    try:
        for i, m in enumerate(spec["mounts"]):
            if m["type"] != "bind":
                continue
            src = m["source"]
            step = f"mount {src} on {m['target']}"
            try:
                is_dir = os.path.isdir(src)
                if not os.path.exists(src):
                    raise FileNotFoundError(errno.ENOENT, "no such file or directory", src)
                recursive = "rbind" in m["options"] or "bind" not in m["options"]
                trees[i] = (L.open_tree_clone(src, recursive), is_dir)
            except OSError as e:
                raise StepError(step, e.errno or errno.ENOENT,
                                f"bind source {src}: {e.strerror}") from None
    except BaseException:
        for fd, _ in trees.values():
            os.close(fd)
        raise
    return trees


def enter(spec: dict[str, Any]) -> dict[int, tuple[int, bool]]:
    """The launcher's part (steps 1-5): returns the bind trees for PID 1, leaving this
    process in the user namespace as its root, cwd at spec.root."""
    userns_fd = new_userns(spec)
    trees: dict[int, tuple[int, bool]] = {}
    try:
        _step(f"chdir {spec['root']}", os.chdir, spec["root"])
        _step("unshare a staging mount namespace", L.unshare, L.CLONE_NEWNS)
        _step("make mounts private", L.mount, None, "/", None, L.MS_REC | L.MS_PRIVATE)
        stage_rootfs(spec, userns_fd)
        trees = clone_bind_sources(spec)
        _step("join the user namespace", L.setns, userns_fd, L.CLONE_NEWUSER)
    except BaseException:
        for fd, _ in trees.values():
            os.close(fd)
        raise
    finally:
        os.close(userns_fd)
    _step("become root in the user namespace", os.setresgid, 0, 0, 0)
    _step("become root in the user namespace", os.setresuid, 0, 0, 0)
    return trees

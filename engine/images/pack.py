"""Pack a directory (a container's overlay upper dir, or a bootstrap rootfs) into a
layer tar: the reverse of layers.unpack.

Overlay whiteouts (char 0:0) become ``.wh.NAME`` entries and opaque directories get a
``.wh..wh..opq`` entry, as the OCI image spec's "changesets" say. Entries are sorted
and owner names left empty, so packing the same tree twice gives the same bytes (the
same diff_id, hence one stored layer).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from . import fsops
from .layers import WHITEOUT_OPAQUE, WHITEOUT_PREFIX

#: tarfile's copy buffer for file data (its default, 16 KiB, is a Python-level read,
#: hash and write per 16 KiB)
CHUNK = 1 << 20


class _HashingWriter(io.RawIOBase):
    """Hashes (and counts) what tarfile writes, and passes it on to ``out`` unless
    that is None (only the digest is wanted: the builder's layers)."""

    def __init__(self, out: BinaryIO | None) -> None:
        self._out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.sha.update(b)
        self.size += len(b)
        if self._out is not None:
            self._out.write(b)
        return len(b)


@dataclass
class PackResult:
    diff_id: str
    size: int
    #: what the tree's entries other than directories take (their lstat sizes, hard
    #: links counted each time): the unpacked layer's size, known without a second walk
    disk_size: int = 0


#: (container id, host id, size) lines of a user namespace's uid or gid map.
IdMap = list[tuple[int, int, int]]


def to_container_id(host_id: int, idmap: IdMap | None) -> int:
    """A host id as the container saw it: a container in a user namespace (root =
    host 100000) leaves host ids in its upper dir, and an image must hold the ids
    inside (docker's commit maps them back too). Ids outside the map stay."""
    for ctr, host, size in idmap or ():
        if host <= host_id < host + size:
            return ctr + host_id - host
    return host_id


def _info(name: str, st: os.stat_result, maps: tuple[IdMap | None, IdMap | None] = (None, None)
          ) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = to_container_id(st.st_uid, maps[0]), to_container_id(st.st_gid, maps[1])
    ti.uname = ti.gname = ""
    ti.mtime = st.st_mtime_ns // 1_000_000_000
    return ti


def _xattrs(ti: tarfile.TarInfo, path: str) -> None:
    for k, v in fsops.list_xattrs(path).items():
        headers: Any = ti.pax_headers
        headers["SCHILY.xattr." + k] = v.decode("utf-8", "surrogateescape")


def pack(src: str, out: BinaryIO | None, uid_map: IdMap | None = None,
         gid_map: IdMap | None = None) -> PackResult:
    """Write the tree under ``src`` as a layer tar to ``out``; return its diff_id.
    ``out`` None: write nothing, only find the diff_id and size (the tar can be made
    again, byte for byte, from the same tree).
    ``uid_map``/``gid_map``: the user namespace the tree was written from (owners are
    mapped back to the ids inside it).

    The tree may be a running container's upper dir: it is walked by directory fds
    and each file opened by its single name with ``O_NOFOLLOW`` (engine/confined), so
    a file or directory swapped for a symlink meanwhile never puts a host file in the
    image."""
    from ..confined import walk_fd

    maps = (uid_map, gid_map)
    w = _HashingWriter(out)
    links: dict[tuple[int, int], str] = {}
    disk = 0
    root_fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    with tarfile.open(fileobj=w, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.copybufsize = CHUNK  # type: ignore[attr-defined]  # (typeshed lacks it)
        for rel_dir, dir_fd, entries in walk_fd(root_fd, "."):
            prefix = "" if rel_dir == "." else rel_dir + "/"
            if prefix and fsops.is_opaque(dir_fd):
                ti = tarfile.TarInfo(prefix + WHITEOUT_OPAQUE)
                ti.uname = ti.gname = ""
                tar.addfile(ti)
            for name, st in entries:
                if not stat.S_ISDIR(st.st_mode):
                    disk += st.st_size
                _add(tar, dir_fd, name, prefix, st, maps, links)
    return PackResult("sha256:" + w.sha.hexdigest(), w.size, disk)


def _add(tar: tarfile.TarFile, dir_fd: int, name: str, prefix: str, st: os.stat_result,
         maps: tuple[IdMap | None, IdMap | None], links: dict[tuple[int, int], str]) -> None:
    arc = prefix + name
    where = fsops.fd_path(dir_fd, name)  # for xattrs: the name itself, never followed
    if fsops.is_whiteout(st):
        ti = _info(prefix + WHITEOUT_PREFIX + name, st, maps)
        ti.mode = 0
        tar.addfile(ti)
        return
    ti = _info(arc, st, maps)
    if stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
        _xattrs(ti, where)
        tar.addfile(ti)
        return
    _xattrs(ti, where)
    if stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            ti.type, ti.linkname = tarfile.LNKTYPE, links[key]
            tar.addfile(ti)
            return
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=dir_fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
                return  # it changed while it was packed: left out
            raise
        with open(fd, "rb") as f:
            now = os.fstat(fd)
            if not stat.S_ISREG(now.st_mode):
                return
            links[key] = arc
            ti.size = now.st_size
            tar.addfile(ti, f)
    elif stat.S_ISLNK(st.st_mode):
        ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dir_fd)
        tar.addfile(ti)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        tar.addfile(ti)
    elif stat.S_ISFIFO(st.st_mode):
        ti.type = tarfile.FIFOTYPE
        tar.addfile(ti)
    # sockets are not kept (docker drops them too)

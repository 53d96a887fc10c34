"""Pack a directory (a container's overlay upper dir, or a bootstrap rootfs) into a
layer tar: the reverse of layers.unpack.

Overlay whiteouts (char 0:0) become ``.wh.NAME`` entries and opaque directories get a
``.wh..wh..opq`` entry, as the OCI image spec's "changesets" say. Entries are sorted
and owner names left empty, so packing the same tree twice gives the same bytes (the
same diff_id, hence one stored layer).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from . import fsops
from .layers import WHITEOUT_OPAQUE, WHITEOUT_PREFIX


class _HashingWriter(io.RawIOBase):
    def __init__(self, out: BinaryIO) -> None:
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
        self._out.write(b)
        return len(b)


@dataclass
class PackResult:
    diff_id: str
    size: int


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


def pack(src: str, out: BinaryIO, uid_map: IdMap | None = None,
         gid_map: IdMap | None = None) -> PackResult:
    """Write the tree under ``src`` as a layer tar to ``out``; return its diff_id.
    ``uid_map``/``gid_map``: the user namespace the tree was written from (owners are
    mapped back to the ids inside it)."""
    maps = (uid_map, gid_map)
    w = _HashingWriter(out)
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=w, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, src)
            prefix = "" if rel_dir == "." else rel_dir + "/"
            if prefix and fsops.is_opaque(dirpath):
                ti = tarfile.TarInfo(prefix + WHITEOUT_OPAQUE)
                ti.uname = ti.gname = ""
                tar.addfile(ti)
            for name in sorted(filenames + dirnames):
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                arc = prefix + name
                if fsops.is_whiteout(st):
                    ti = _info(prefix + WHITEOUT_PREFIX + name, st, maps)
                    ti.mode = 0
                    tar.addfile(ti)
                    continue
                ti = _info(arc, st, maps)
                if stat.S_ISDIR(st.st_mode):
                    ti.type = tarfile.DIRTYPE
                    _xattrs(ti, path)
                    tar.addfile(ti)
                    continue
                _xattrs(ti, path)
                if stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in links:
                        ti.type, ti.linkname = tarfile.LNKTYPE, links[key]
                        tar.addfile(ti)
                        continue
                    links[key] = arc
                    ti.size = st.st_size
                    with open(path, "rb") as f:
                        tar.addfile(ti, f)
                elif stat.S_ISLNK(st.st_mode):
                    ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
                    tar.addfile(ti)
                elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                    ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                    ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                    tar.addfile(ti)
                elif stat.S_ISFIFO(st.st_mode):
                    ti.type = tarfile.FIFOTYPE
                    tar.addfile(ti)
                # sockets are not kept (docker drops them too)
            # os.walk must not descend into symlinks to directories
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return PackResult("sha256:" + w.sha.hexdigest(), w.size)

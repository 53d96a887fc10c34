"""Layers: unpack a (possibly compressed) tar stream into a directory overlayfs can use
as a lowerdir, and pack a container's upper directory back into a layer tar.

Unpacking is the store's attack surface, so it is strict:

- every path is resolved by the kernel inside the layer directory (fsops.open_in_root):
  absolute names, absolute symlinks and symlinked parent directories are *confined*;
  a name or hard link that climbs out with ``..`` is *refused*, naming the entry;
- ``trusted.overlay.*`` xattrs from an archive are dropped (only the whiteout markers
  below may make overlay marks);
- a truncated archive, a corrupt header or compressed stream is an error, never a
  silently shorter layer; the sha256 of the whole uncompressed stream (the diff_id) is
  returned so the caller can check it against the image config.

Layer whiteouts become overlay whiteouts: ``.wh.NAME`` -> char device 0:0 ``NAME``,
``DIR/.wh..wh..opq`` -> ``trusted.overlay.opaque=y`` on DIR. Packing does the reverse.
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import hashlib
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import EngineError
from . import fsops

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20

MEDIA_TAR = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TAR_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MEDIA_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class LayerError(EngineError):
    """A layer archive that cannot be unpacked: corrupt, truncated, hostile, or no space."""


# ---------------------------------------------------------------- compression

def sniff_compression(head: bytes) -> str:
    """``"gzip"``, ``"zstd"``, ``"bzip2"``, ``"xz"`` or ``""`` (plain tar) from magic bytes."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return ""


def media_type_for(compression: str) -> str:
    return {"": MEDIA_TAR, "gzip": MEDIA_TAR_GZIP, "zstd": MEDIA_TAR_ZSTD}.get(
        compression, MEDIA_TAR)


_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error, gzip.BadGzipFile, EOFError, lzma.LZMAError)


def decompressed(raw: BinaryIO, compression: str) -> Any:
    """A reader of the uncompressed stream of ``raw``."""
    if compression == "gzip":
        from .gunzip import GzipReader  # 1 MiB reads, C-level CRC, ISA-L if installed

        return GzipReader(raw)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(
            raw, read_across_frames=True, closefd=False)
    if compression == "bzip2":
        return bz2.BZ2File(raw, "rb")
    if compression == "xz":
        return lzma.LZMAFile(raw, "rb")
    return raw


def _is_decompress_error(e: BaseException) -> bool:
    if isinstance(e, _DECOMPRESS_ERRORS):
        return True
    from .gunzip import errors

    if isinstance(e, errors()):
        return True
    with contextlib.suppress(ImportError):
        import zstandard

        if isinstance(e, zstandard.ZstdError):
            return True
    return isinstance(e, OSError) and e.errno is None  # bz2's "Invalid data stream"


class HashingReader:
    """A forward-only reader that hashes everything it hands out and supports the
    ``tell``/forward ``seek`` that tarfile's random-access mode needs, without
    tarfile's stream mode copying its buffer on every header read."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buf = b""
        self._off = 0
        self._pos = 0
        self.sha = hashlib.sha256()
        self.size = 0

    def _fill(self, n: int) -> bytes:
        data = self._read(max(n, CHUNK))
        self.sha.update(data)
        self.size += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._buf[self._off:]]
            while chunk := self._fill(CHUNK):
                parts.append(chunk)
            self._buf, self._off = b"", 0
            out = b"".join(parts)
        else:
            avail = len(self._buf) - self._off
            if avail >= n:
                out = self._buf[self._off:self._off + n]
                self._off += n
            elif avail == 0 and n >= CHUNK:
                out = self._fill(n)  # large reads skip the buffer entirely
                while 0 < len(out) < n:  # a pipe's short read: read on
                    more = self._fill(n - len(out))
                    if not more:
                        break
                    out += more
                if len(out) > n:
                    self._buf, self._off = out, n
                    out = out[:n]
            else:
                parts = [self._buf[self._off:]]
                got = avail
                while got < n:
                    chunk = self._fill(n - got)
                    if not chunk:
                        break
                    parts.append(chunk)
                    got += len(chunk)
                data = b"".join(parts)
                out, self._buf, self._off = data[:n], data, min(n, len(data))
        self._pos += len(out)
        return out

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0 or pos < self._pos:
            raise OSError(errno.ESPIPE, "seeking backwards in a layer stream")
        while self._pos < pos:
            if not self.read(min(pos - self._pos, CHUNK)):
                break
        return self._pos

    def drain(self) -> None:
        """Read to the end so that the digest covers the whole stream."""
        self._buf, self._off = b"", 0
        while self._fill(CHUNK):
            pass

    def hexdigest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


# ---------------------------------------------------------------- strict tar reading

# tarfile's header errors are internal names; reach them without upsetting type stubs
_T: Any = tarfile


def _next_member(tar: Any) -> tarfile.TarInfo | None:
    """tarfile.next() without its leniency: a corrupt or truncated header, or a stream
    that ends without the end-of-archive blocks, is an error rather than the end."""
    if tar.firstmember is not None:
        m, tar.firstmember = tar.firstmember, None
        return m
    fileobj: Any = tar.fileobj
    if tar.offset != fileobj.tell():
        if tar.offset == 0:
            return None  # the archive began with its end marker: an empty layer
        fileobj.seek(tar.offset - 1)
        if not fileobj.read(1):
            raise LayerError("unexpected end of data")
    try:
        return tar.tarinfo.fromtarfile(tar)
    except _T.EOFHeaderError:
        return None  # the zero block that ends an archive
    except _T.EmptyHeaderError:
        raise LayerError("archive ends without its end-of-archive marker (truncated)")
    except _T.TruncatedHeaderError:
        raise LayerError("truncated header (the archive is cut short)")
    except (_T.InvalidHeaderError, _T.SubsequentHeaderError) as e:
        raise LayerError(f"corrupt tar header at byte {tar.offset}: {e}")


def iter_members(reader: HashingReader) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    try:
        tar: Any = tarfile.TarFile(fileobj=reader, mode="r")  # type: ignore[arg-type]
    except tarfile.ReadError as e:
        raise LayerError(f"not a tar archive ({e})")
    tar.members = []  # don't keep every header of a large layer in memory
    while (m := _next_member(tar)) is not None:
        yield tar, m


# ---------------------------------------------------------------- unpacking

@dataclass
class UnpackResult:
    diff_id: str  # sha256 of the uncompressed tar
    tar_size: int  # its size
    disk_size: int  # bytes of file content written


def clean_name(name: str, what: str = "entry") -> str:
    """The archive path normalised relative to the layer root; absolute names are
    confined (made relative, as tar and docker do); ``..`` escapes are refused."""
    if name.startswith("./"):
        name = name[2:]
    if (name and name[0] not in "/." and "/." not in name and "//" not in name
            and name[-1] != "/"):
        return name  # already clean: most entries of most layers
    norm = posixpath.normpath("/" + name.lstrip("/"))  # resolves ".." lexically
    rel = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
    if rel == ".." or rel.startswith("../"):
        raise LayerError(f"{what} {name!r} points outside the layer: refused")
    return norm.lstrip("/") or "."


class _Unpacker:
    """One unpack: a root fd and a cache of parent-directory fds."""

    def __init__(self, dest: str, plain: bool = False, owners: bool | None = None) -> None:
        self.root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.dirs: dict[str, int] = {}
        self.dir_times: list[tuple[str, int]] = []
        self.plain = plain  # an archive of files (docker-save), not a layer
        self.is_root = os.geteuid() == 0 and (not plain if owners is None else owners)
        self.written = 0

    def close(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs.clear()
        os.close(self.root_fd)

    def _forget_dirs(self, under: str | None = None) -> None:
        """Close cached directory fds: all, or those of ``under`` and below (a directory
        about to be removed). Never the fd of a parent a caller still holds."""
        for rel in list(self.dirs):
            if under is None or rel == under or rel.startswith(under + "/"):
                os.close(self.dirs.pop(rel))

    def dir_fd(self, rel: str) -> int:
        """An fd of directory ``rel`` (made, with parents, if missing), resolved in root."""
        if rel == ".":
            return self.root_fd
        fd = self.dirs.get(rel)
        if fd is not None:
            return fd
        try:
            fd = fsops.open_in_root(self.root_fd, rel, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            parent, base = posixpath.split(rel)
            pfd = self.dir_fd(parent or ".")
            with contextlib.suppress(FileExistsError):
                os.mkdir(base, 0o755, dir_fd=pfd)
            fd = fsops.open_in_root(self.root_fd, rel, os.O_RDONLY | os.O_DIRECTORY)
        if len(self.dirs) > 256:
            self._forget_dirs()
        self.dirs[rel] = fd
        return fd

    def clear(self, pfd: int, rel: str, keep_dir: bool) -> None:
        """Make room for a new entry ``rel`` (in directory ``pfd``): the later entry of
        an archive wins."""
        base = posixpath.basename(rel)
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            self._forget_dirs(under=rel)
            shutil.rmtree(base, dir_fd=pfd)
        else:
            os.unlink(base, dir_fd=pfd)

    def meta(self, m: tarfile.TarInfo, pfd: int, base: str, fd: int | None) -> None:
        """Ownership, mode, xattrs, mtime: in that order (chown clears setuid bits)."""
        is_link = m.issym()
        if self.is_root:
            if fd is not None:
                os.fchown(fd, m.uid, m.gid)
            else:
                os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not is_link:
            if fd is not None:
                os.fchmod(fd, m.mode & 0o7777)
            else:
                os.chmod(base, m.mode & 0o7777, dir_fd=pfd)
        for key, value in m.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr."):]
            if name.startswith(fsops.FORBIDDEN_XATTR_PREFIX):
                continue
            raw = value.encode("utf-8", "surrogateescape")
            try:
                if fd is not None:
                    os.setxattr(fd, name, raw)
                else:
                    os.setxattr(fsops.fd_path(pfd, base), name, raw, follow_symlinks=False)
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                    raise
        if not m.isdir():
            ns = int(m.mtime * 1e9)
            if fd is not None:
                os.utime(fd, ns=(ns, ns))
            else:
                os.utime(base, ns=(ns, ns), dir_fd=pfd, follow_symlinks=False)

    def entry(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = clean_name(m.name)
        if rel == ".":
            if m.isdir():
                self.meta(m, self.root_fd, ".", self.root_fd)
                self.dir_times.append((".", int(m.mtime * 1e9)))
            return
        parent, base = posixpath.split(rel)
        if base.startswith(WHITEOUT_PREFIX) and not self.plain:
            pfd = self.dir_fd(parent or ".")
            if base == WHITEOUT_OPAQUE:
                fsops.set_opaque(pfd)
            elif not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
                target = base[len(WHITEOUT_PREFIX):]
                if target in ("", ".", ".."):  # else clear() would rmtree the parent
                    raise LayerError(f"whiteout {m.name!r} names {target!r}, which is not a "
                                     "file name: refused")
                self.clear(pfd, posixpath.join(parent, target), keep_dir=False)
                fsops.make_whiteout(pfd, target)
                if self.is_root:
                    os.chown(target, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
                ns = int(m.mtime * 1e9)
                os.utime(target, ns=(ns, ns), dir_fd=pfd, follow_symlinks=False)
            return  # other .wh..wh.* (aufs bookkeeping) carry nothing for overlay
        if m.isdir():
            fd = self.dir_fd(rel)
            self.meta(m, fd, ".", fd)
            self.dir_times.append((rel, int(m.mtime * 1e9)))
            return
        pfd = self.dir_fd(parent or ".")
        self.clear(pfd, rel, keep_dir=False)
        if m.isreg():
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=pfd)
            try:
                self.copy_data(tar, m, fd)
                self.meta(m, pfd, base, fd)
            finally:
                os.close(fd)
        elif m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            self.meta(m, pfd, base, None)
        elif m.islnk():
            target = clean_name(m.linkname, "hard link target of " + repr(m.name))
            try:
                sfd = fsops.open_in_root(self.root_fd, target, os.O_PATH | os.O_NOFOLLOW)
            except FileNotFoundError:
                raise LayerError(f"hard link {m.name!r}: target {m.linkname!r} is not in "
                                 "the layer before it")
            try:
                if stat.S_ISDIR(os.fstat(sfd).st_mode):
                    raise LayerError(f"hard link {m.name!r} to a directory: refused")
                fsops.link_fd(sfd, pfd, base)
            finally:
                os.close(sfd)
        elif (m.ischr() or m.isblk() or m.isfifo()) and not self.plain:
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(base, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
            self.meta(m, pfd, base, None)
        else:
            raise LayerError(f"entry {m.name!r} has an unsupported type {m.type!r}")

    def copy_data(self, tar: tarfile.TarFile, m: tarfile.TarInfo, fd: int) -> None:
        if m.sparse is not None:  # GNU sparse: let tarfile expand the holes
            src = tar.extractfile(m)
            assert src is not None
            while chunk := src.read(CHUNK):
                os.write(fd, chunk)
            self.written += m.size
            return
        reader: Any = tar.fileobj
        reader.seek(m.offset_data)
        left = m.size
        while left:
            chunk = reader.read(min(left, CHUNK))
            if not chunk:
                raise LayerError(f"archive is truncated inside {m.name!r}")
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
            left -= len(chunk)
        self.written += m.size

    def finish(self) -> None:
        """Directory mtimes last: creating their entries changed them."""
        self._forget_dirs()
        for rel, ns in reversed(self.dir_times):
            try:
                fd = self.root_fd if rel == "." else fsops.open_in_root(
                    self.root_fd, rel, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except (FileNotFoundError, NotADirectoryError, OSError) as e:
                if isinstance(e, (FileNotFoundError, NotADirectoryError)) or \
                        e.errno == errno.ELOOP:
                    continue  # a later entry replaced the directory
                raise
            try:
                os.utime(fd, ns=(ns, ns))
            finally:
                if fd != self.root_fd:
                    os.close(fd)


def unpack(raw: Any, dest: str, *, what: str = "layer", plain: bool = False,
           owners: bool | None = None) -> UnpackResult:
    """Unpack the tar (gzip, zstd, bzip2, xz or plain) read from ``raw`` into the
    existing empty directory ``dest``. ``plain``: an archive of files, not a layer (no
    whiteouts, no device nodes); ``owners``: keep the archive's owners (default: for a
    layer only; a Dockerfile's ``ADD x.tar`` keeps them too).

    Raises LayerError naming ``what`` and the entry on any corrupt, truncated or hostile
    input, and on ENOSPC; the caller removes ``dest`` then.
    """
    head = _peek(raw)
    compression = sniff_compression(head.peek())
    stream = decompressed(head, compression)  # type: ignore[arg-type]
    reader = HashingReader(stream.read)
    u = _Unpacker(dest, plain, owners)
    current = "?"
    try:
        for tar, m in iter_members(reader):
            current = m.name
            u.entry(tar, m)
        current = "(end of archive)"
        reader.drain()
        u.finish()
    except LayerError as e:
        where = "" if current == "?" or current in str(e) else f" (after entry {current!r})"
        raise LayerError(f"{what}: {e}{where}")
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LayerError(f"{what}: no space left on device while unpacking {current!r} "
                             f"into {dest}")
        if _is_decompress_error(e):
            raise LayerError(f"{what}: corrupt or truncated {compression or 'tar'} data: {e}")
        raise LayerError(f"{what}: cannot unpack entry {current!r}: {e.strerror or e}")
    except tarfile.TarError as e:
        raise LayerError(f"{what}: corrupt archive near {current!r}: {e}")
    except BaseException as e:
        if _is_decompress_error(e):
            raise LayerError(f"{what}: corrupt or truncated {compression or 'tar'} data: {e}")
        raise
    finally:
        u.close()
    return UnpackResult(reader.hexdigest(), reader.size, u.written)


class _peek:
    """A reader that lets us look at the first bytes (magic) and then read them again."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._head = raw.read(8)

    def peek(self) -> bytes:
        return self._head

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out = self._head + self._raw.read()
                self._head = b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out  # a short read: the caller asks again
        return self._raw.read(n)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

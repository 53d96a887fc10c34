"""The image store's layout on disk, its locks and its blobs, under ``$ROOT/images``.

Layout::

    images/oci-layout, index.json     the OCI layout; index.json is the tag index: one
                                      manifest descriptor per (image, name) with
                                      annotations io.containerd.image.name (full ref) and
                                      io.pycompose.image.id; untagged images appear once
    images/blobs/sha256/<hex>         configs, manifests and layer blobs as received
    images/layers/<chain hex>/        a layer unpacked once by chain ID:
        diff/                         the overlay lowerdir; layer.json its record
    images/l/<12 chars> -> ../layers/<chain hex>/diff
                                      short names, so that many lowerdirs fit the
                                      kernel's one-page mount option limit (as docker)
    images/holds/<name>.json          what a hold keeps from gc (holds.py)
    images/tmp/<pid>-<rand>[.lock]    work in progress, each held by an flock

Crash safety: a layer is unpacked under tmp/ and renamed into layers/ when complete;
blobs and index.json are written atomically (write, fsync, rename); an image exists once
index.json names it, and everything it names was written before. What a killed process
leaves (tmp/ entries whose lock is free, blobs and layers nothing names) is removed by
``recover()``/``gc()``.

Concurrency: ``index.lock`` serialises changes to index.json; ``gc.lock`` is held shared
by every writer for a whole operation (``with store.writing():``) and exclusively by
garbage collection, so GC never takes a blob or layer a writer is about to register.

The store is built in floors, each a class on the one below: :class:`StoreLayout` (here:
paths, locks, work dirs, blobs), ``LayerStore`` (layerstore.py: unpacked layers and
their links), ``HoldingStore`` (holds.py: what gc must keep), ``ImageStore`` (store.py:
the index, images, names).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pycompose.util.fs import atomic_write, atomic_write_json, locked, spread_dir, take_lock_file
from pycompose.util.paths import private_dir, state_root

from ..errors import EngineError, NotFound
from . import fsops
from .layers import LayerError

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
ANN_REF = "org.opencontainers.image.ref.name"


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_id(parent: str | None, diff_id: str) -> str:
    """The OCI ChainID: a layer's identity together with everything beneath it."""
    if parent is None:
        return diff_id
    return digest_of(f"{parent} {diff_id}".encode())


def link_name(chain: str) -> str:
    """The short name of a layer's lowerdir link: 12 base32 characters (60 bits)."""
    return base64.b32encode(bytes.fromhex(chain.removeprefix("sha256:"))[:10]).decode()[:12]


def digest_hex(digest: str) -> str:
    algo, _, h = digest.partition(":")
    if algo != "sha256" or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise EngineError(f"unsupported or malformed digest {digest!r}")
    return h


@contextlib.contextmanager
def disk_errors(what: str, where: Path) -> Iterator[None]:
    """A full disk or a failing store is a user-facing error naming the store, not a
    traceback; nothing half-written stays (tmpdir and atomic writes see to that)."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LayerError(f"{what}: no space left on device in {where}")
        raise EngineError(f"{what}: {e.strerror or e} ({e.filename or where})")


class StoreLayout:
    """The store's folders, its locks and work dirs, and its blobs (the ground floor
    of :class:`~.store.ImageStore`). See the module docstring."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else state_root()
        self.images_dir = self.root / "images"
        self.blobs = self.images_dir / "blobs" / "sha256"
        self.layers_dir = self.images_dir / "layers"
        self.links = self.images_dir / "l"
        self.tmp = self.images_dir / "tmp"
        self.holds_dir = self.images_dir / "holds"
        self._writers = 0
        self._gc_fd: int | None = None

    # ------------------------------------------------------------ locking and layout

    def ensure_layout(self) -> None:
        private_dir(self.images_dir)  # and the state root above it, if it is new
        for d in (self.blobs, self.layers_dir, self.links, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.layers_dir, self.tmp):  # a layer's files, an unpacking's
            spread_dir(d)
        # Layers hold images' setuid binaries with their owners: a host user who could
        # reach them could run an image's setuid-root shell. Root only, as docker does.
        if stat.S_IMODE(self.images_dir.stat().st_mode) != 0o700:
            os.chmod(self.images_dir, 0o700)
        layout = self.images_dir / "oci-layout"
        if not layout.exists():
            atomic_write_json(layout, {"imageLayoutVersion": "1.0.0"})
        empty = self.images_dir / "empty"
        if not empty.exists():
            empty.mkdir(exist_ok=True)
        if not os.path.lexists(self.links / "EMPTY"):
            with contextlib.suppress(FileExistsError):
                os.symlink("../empty", self.links / "EMPTY")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store for adding things: GC waits until the block ends. Re-entrant.
        The first entry also clears what killed processes left."""
        if self._writers == 0:
            # lock first: recover() in another process removes atomic-write temporaries
            # only when no writer holds this lock, so ours must be covered by it
            private_dir(self.images_dir)
            fd = os.open(self.images_dir / "gc.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._gc_fd = fd
            self.ensure_layout()
            from .recovery import recover

            recover(self)
        self._writers += 1
        try:
            yield
        finally:
            self._writers -= 1
            if self._writers == 0 and self._gc_fd is not None:
                os.close(self._gc_fd)
                self._gc_fd = None

    def index_lock(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.images_dir / "index.lock")

    @contextlib.contextmanager
    def tmpdir(self) -> Iterator[Path]:
        """A private work directory under tmp/, removed at the end; its lock tells
        recover() that it belongs to a live process."""
        self.ensure_layout()
        while True:
            name = f"{os.getpid()}-{secrets.token_hex(6)}"
            lock = self.tmp / f"{name}.lock"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # recover() in another process may have taken the lock file for a dead one's
            # between our create and our flock, and unlinked it: then start again
            if take_lock_file(lock, fd):
                break
        path = self.tmp / name
        path.mkdir()
        try:
            yield path
        finally:
            fsops.umount_under(str(path))
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            os.close(fd)

    # ------------------------------------------------------------ blobs

    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest_hex(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def read_blob(self, digest: str) -> bytes:
        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is missing from the image store")
        return data

    def put_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        path = self.blob_path(digest)
        if not path.exists():
            atomic_write(path, data)
        return digest

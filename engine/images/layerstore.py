"""The store's unpacked layers: a layer's blob stored and unpacked in one pass, once per
chain ID, under ``layers/<chain hex>/diff`` with its short link ``l/<12 chars>`` (the
overlay lowerdirs every container of the image mounts). The tar itself is checked and
unpacked by layers.py; a pulled blob is unpacked on first use (unpacking.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from pycompose.util.fs import atomic_write_json, fsync_dir, read_json

from ..errors import EngineError, NotFound
from . import layers as L
from .layout import StoreLayout, chain_id, digest_hex, disk_errors, link_name


@dataclass(frozen=True)
class LayerRef:
    """A layer in the store: its blob (as a manifest lists it) and its unpacked chain."""

    digest: str
    size: int
    media_type: str
    diff_id: str
    chain_id: str

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


class LayerStore(StoreLayout):
    """The layout and blobs, plus the unpacked layers (the second floor of
    :class:`~.store.ImageStore`)."""

    def layer_dir(self, chain: str) -> Path:
        return self.layers_dir / digest_hex(chain)

    def has_layer(self, chain: str) -> bool:
        return (self.layer_dir(chain) / "layer.json").is_file()

    def layer_size(self, chain: str) -> int:
        try:
            return int(read_json(self.layer_dir(chain) / "layer.json").get("size", 0))
        except (OSError, ValueError):
            return 0

    def add_layer(self, raw: BinaryIO | IO[bytes], parent: str | None, *,
                  expected_digest: str | None = None, expected_diff_id: str | None = None,
                  what: str = "layer") -> LayerRef:
        """Store the layer blob read from ``raw`` (tar, gzip, zstd...) and unpack it on
        ``parent`` (a chain ID) unless that chain is already unpacked.

        Verifies ``expected_digest`` (of the bytes as read) and ``expected_diff_id`` (of
        the uncompressed tar); on a mismatch or a bad archive nothing is kept.
        Call inside ``with store.writing():`` with add_image in the same block.
        """
        with disk_errors(what, self.images_dir), self.writing(), self.tmpdir() as work:
            if expected_digest and expected_diff_id and self.has_blob(expected_digest):
                chain = chain_id(parent, expected_diff_id)
                if self.has_layer(chain):
                    with open(self.blob_path(expected_digest), "rb") as f:
                        head = f.read(8)
                        size = os.fstat(f.fileno()).st_size
                    return LayerRef(expected_digest, size,
                                    L.media_type_for(L.sniff_compression(head)),
                                    expected_diff_id, chain)
            blob_tmp = work / "blob"
            layer_tmp = work / "layer"
            (layer_tmp / "diff").mkdir(parents=True)
            head = b""
            while len(head) < 8 and (more := raw.read(8 - len(head))):
                head += more
            compressed = bool(L.sniff_compression(head))
            with open(blob_tmp, "wb", buffering=0) as out:
                # a plain tar's digest is its diff_id: hash it once, not twice
                tee = _Tee(raw, out, head, hashing=compressed)
                try:
                    result = L.unpack(tee, str(layer_tmp / "diff"), what=what)
                    tee.drain()
                finally:
                    with contextlib.suppress(BaseException):
                        tee.close()  # on an error, the unpack error is the one to tell
                os.fsync(out.fileno())
            digest = "sha256:" + tee.sha.hexdigest() if compressed else result.diff_id
            if expected_digest and digest != expected_digest:
                raise L.LayerError(f"{what}: digest mismatch: expected {expected_digest}, "
                                   f"the data has {digest}")
            if expected_diff_id and result.diff_id != expected_diff_id:
                raise L.LayerError(f"{what}: diff_id mismatch: the image config says "
                                   f"{expected_diff_id}, the layer's tar has {result.diff_id}")
            chain = chain_id(parent, result.diff_id)
            media = L.media_type_for(L.sniff_compression(tee.head))
            os.replace(blob_tmp, self.blob_path(digest))
            fsync_dir(self.blobs)
            self._install_layer(layer_tmp, chain, parent, result)
            return LayerRef(digest, tee.size, media, result.diff_id, chain)

    def unpack_blob(self, digest: str, parent: str | None, diff_id: str, *,
                    what: str = "layer") -> LayerRef:
        """Unpack the stored blob ``digest`` as the layer ``diff_id`` on ``parent``
        (unless that chain is unpacked): its tar must hash to ``diff_id``; on a mismatch
        or a bad archive nothing is kept. The blob itself was checked when stored.
        unpacking.unpack_layer is the way in (it holds the chain's lock)."""
        chain = chain_id(parent, diff_id)
        with disk_errors(what, self.images_dir), self.writing(), self.tmpdir() as work:
            try:
                f = open(self.blob_path(digest), "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                raise NotFound(f"{what}: its blob {digest} is missing from the image store "
                               "(remove the image and pull it again)")
            with f:
                head = f.read(8)
                f.seek(0)
                size = os.fstat(f.fileno()).st_size
                ref = LayerRef(digest, size, L.media_type_for(L.sniff_compression(head)),
                               diff_id, chain)
                if self.has_layer(chain):
                    return ref
                layer_tmp = work / "layer"
                (layer_tmp / "diff").mkdir(parents=True)
                result = L.unpack(f, str(layer_tmp / "diff"), what=what)
            if result.diff_id != diff_id:
                raise L.LayerError(f"{what}: diff_id mismatch: the image config says "
                                   f"{diff_id}, the layer's tar has {result.diff_id}")
            self._install_layer(layer_tmp, chain, parent, result)
            return ref

    def add_layer_dir(self, tree: Path, blob: Path | None, diff_id: str, tar_size: int,
                      parent: str | None, *, what: str = "layer",
                      disk_size: int | None = None) -> LayerRef:
        """Store a layer made on this machine as it is: the directory ``tree`` (the
        overlay upper dir the layer's tar was, or would be, packed from: whiteouts as
        char 0:0, opaque marks, no other overlay xattrs) becomes the unpacked layer by
        rename (same filesystem), so a build's layer is written once.

        ``blob``: its plain tar (whose sha256 is ``diff_id``; the caller sees to its
        fsync), stored as the blob; or None, as the builder does, as docker writes no
        layer tar at build time: then no blob is stored, the layer record says so
        (``"blob": "pack"``), and :meth:`layer_blob` packs the directory again when
        something needs the bytes (save, push, a ``--link`` layer put elsewhere).
        Packing is deterministic, so the same tree gives the same tar. Call inside
        ``writing()``."""
        with disk_errors(what, self.images_dir), self.writing(), self.tmpdir() as work:
            chain = chain_id(parent, diff_id)
            digest = diff_id  # an uncompressed tar's digest is its diff_id
            if self.has_layer(chain):
                if blob is not None and not self.has_blob(digest):
                    os.replace(blob, self.blob_path(digest))
                    fsync_dir(self.blobs)
                return LayerRef(digest, tar_size, L.MEDIA_TAR, diff_id, chain)
            layer_tmp = work / "layer"
            layer_tmp.mkdir()
            os.rename(tree, layer_tmp / "diff")
            os.chown(layer_tmp / "diff", 0, 0)
            os.chmod(layer_tmp / "diff", 0o755)  # as an unpacked layer's root
            disk = disk_size or 0  # known from packing: no second walk of the tree
            if disk_size is None:
                for dirpath, _dirs, files in os.walk(layer_tmp / "diff"):
                    for f in files:
                        with contextlib.suppress(OSError):
                            disk += os.lstat(os.path.join(dirpath, f)).st_size
            if blob is not None and not self.has_blob(digest):
                os.replace(blob, self.blob_path(digest))
                fsync_dir(self.blobs)
            self._install_layer(layer_tmp, chain, parent, L.UnpackResult(diff_id, tar_size,
                                                                          disk),
                                packed=blob is None)
            return LayerRef(digest, tar_size, L.MEDIA_TAR, diff_id, chain)

    def packed_on_demand(self, chain: str) -> bool:
        """Whether the layer ``chain`` has no stored blob by design (made here with
        ``add_layer_dir(blob=None)``): its directory is the source of its tar."""
        try:
            return read_json(self.layer_dir(chain) / "layer.json").get("blob") == "pack"
        except (OSError, ValueError):
            return False

    def has_layer_blob(self, layer: LayerRef) -> bool:
        """Whether the bytes of ``layer``'s blob can be had: stored, or packed from its
        unpacked directory when asked (:meth:`layer_blob`)."""
        if self.has_blob(layer.digest):
            return True
        return layer.digest == layer.diff_id and self.packed_on_demand(layer.chain_id)

    def layer_blob(self, layer: LayerRef, *, what: str = "layer") -> Path:
        """The path of ``layer``'s blob, packed from its directory first when it was
        made here without one (then stored: a layer saved or pushed once keeps its
        tar). The tar packed must hash to the layer's diff_id; a directory changed
        since (by hand, or a disk that lost writes) is refused, never sent as the
        layer. NotFound when neither the blob nor such a directory is there."""
        path = self.blob_path(layer.digest)
        if path.is_file():
            return path
        if not self.has_layer_blob(layer):
            raise NotFound(f"{what}: its blob {layer.digest} is missing from the image "
                           "store (remove the image and pull, load or build it again)")
        from .pack import pack

        with disk_errors(what, self.images_dir), self.writing(), self.tmpdir() as work:
            if path.is_file():  # another process packed it meanwhile
                return path
            tmp = work / "blob"
            with open(tmp, "wb") as out:
                result = pack(str(self.layer_dir(layer.chain_id) / "diff"), out)
                out.flush()
                os.fsync(out.fileno())
            if result.diff_id != layer.diff_id:
                raise EngineError(
                    f"{what}: the files of layer {layer.chain_id} no longer make its tar "
                    f"(they give {result.diff_id}, the image says {layer.diff_id}): the "
                    "layer was changed on disk; remove the image and build it again "
                    "with --no-cache")
            os.replace(tmp, path)
            fsync_dir(self.blobs)
        return path

    def _install_layer(self, layer_tmp: Path, chain: str, parent: str | None,
                       result: L.UnpackResult, *, packed: bool = False) -> None:
        dest = self.layer_dir(chain)
        if self.has_layer(chain):
            return
        link = self.links / link_name(chain)
        target = f"../layers/{digest_hex(chain)}/diff"
        try:
            os.symlink(target, link)
        except FileExistsError:
            if os.readlink(link) != target:
                raise EngineError(f"layer link {link} is taken by another layer (a 60-bit "
                                  "collision, or a damaged store)")
        record: dict[str, Any] = {"chain_id": chain, "diff_id": result.diff_id,
                                  "parent": parent, "size": result.disk_size,
                                  "link": link.name}
        if packed:
            record["blob"] = "pack"  # no blob stored: layer_blob packs the diff
        atomic_write_json(layer_tmp / "layer.json", record)
        try:
            os.rename(layer_tmp, dest)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise  # else a concurrent writer unpacked the same layer first: fine
        fsync_dir(self.layers_dir)


class _Tee:
    """Reads ``raw`` and hands what it read to a writer thread that stores (and, for a
    compressed blob, hashes) it: the blob is stored and checked in the same pass that
    unpacks it, and its I/O overlaps the unpacking (file writes and hashing release
    the GIL)."""

    def __init__(self, raw: BinaryIO | IO[bytes], out: BinaryIO, head: bytes,
                 hashing: bool = True) -> None:
        import queue
        import threading

        self._raw = raw
        self._out = out
        self._pending = head  # bytes already read from raw, handed out first
        self._hashing = hashing
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = head
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_loop, daemon=True,
                                        name="pycompose-blob-writer")
        self._thread.start()

    def _write_loop(self) -> None:
        while (data := self._q.get()) is not None:
            if self._error is not None:
                continue  # keep taking, so that the reader never blocks
            try:
                if self._hashing:
                    self.sha.update(data)
                view = memoryview(data)
                while view:
                    view = view[self._out.write(view) or 0:]
            except BaseException as e:
                self._error = e

    def read(self, n: int = -1) -> bytes:
        if self._error is not None:
            raise self._error
        if self._pending:
            data, self._pending = self._pending, b""
            if n is None or n < 0:
                data += self._raw.read()
        else:
            data = self._raw.read(n)
        if data:
            self.size += len(data)
            self._q.put(data)
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        """Stop the writer; raise what it met (ENOSPC...)."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def drain(self) -> None:
        """Read the rest of ``raw`` and wait until all of it is written."""
        while self.read(L.CHUNK):
            pass
        self.close()

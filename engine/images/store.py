"""The image store: an OCI image layout plus unpacked layers, under ``$ROOT/images``.

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
    images/tmp/<pid>-<rand>[.lock]    work in progress, each held by an flock

Crash safety: a layer is unpacked under tmp/ and renamed into layers/ when complete;
blobs and index.json are written atomically (write, fsync, rename); an image exists once
index.json names it, and everything it names was written before. What a killed process
leaves (tmp/ entries whose lock is free, blobs and layers nothing names) is removed by
``recover()``/``gc()``.

Concurrency: ``index.lock`` serialises changes to index.json; ``gc.lock`` is held shared
by every writer for a whole operation (``with store.writing():``) and exclusively by
garbage collection, so GC never takes a blob or layer a writer is about to register.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from pycompose.util.fs import atomic_write, atomic_write_json, fsync_dir, locked, read_json
from pycompose.util.paths import private_dir, state_root

from ..errors import Conflict, EngineError, NotFound
from . import fsops, reference
from . import layers as L
from .versions import ANN_ID, ANN_NAME

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


def _hex(digest: str) -> str:
    algo, _, h = digest.partition(":")
    if algo != "sha256" or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise EngineError(f"unsupported or malformed digest {digest!r}")
    return h


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


@dataclass
class Image:
    """An image of the store. ``config`` is the OCI config's ``config`` section."""

    id: str
    manifest_digest: str
    manifest: dict[str, Any]
    oci_config: dict[str, Any]
    repo_tags: list[str] = field(default_factory=list)
    store: ImageStore | None = field(default=None, repr=False)

    @property
    def config(self) -> dict[str, Any]:
        return self.oci_config.get("config") or {}

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @property
    def created(self) -> str:
        return str(self.oci_config.get("created") or "")

    @property
    def diff_ids(self) -> list[str]:
        return list((self.oci_config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def chain_ids(self) -> list[str]:
        out: list[str] = []
        for d in self.diff_ids:
            out.append(chain_id(out[-1] if out else None, d))
        return out

    @property
    def layers(self) -> list[LayerRef]:
        """Bottom layer first."""
        descs = self.manifest.get("layers") or []
        return [LayerRef(d["digest"], int(d.get("size", 0)), d.get("mediaType", L.MEDIA_TAR),
                         diff, chain)
                for d, diff, chain in zip(descs, self.diff_ids, self.chain_ids, strict=False)]

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.oci_config.get("history") or [])

    def lowerdirs(self, *, relative: bool = False) -> list[str]:
        """Overlay lowerdirs, top layer first: short links ``<root>/images/l/XXXX``.

        ``relative=True`` gives ``l/XXXX``, for a mount made with the working directory
        at ``store.images_dir`` (as docker does) when even short absolute paths would
        overflow the mount option page (more than ~100 layers).
        """
        store = self.store
        assert store is not None
        chains = list(reversed(self.chain_ids))
        for c in chains:  # a few stats: a damaged store fails here, by name, not in mount
            link = store.links / link_name(c)
            if not link.is_dir():
                if not store.has_layer(c):
                    raise EngineError(f"image {self.short_id}: layer {c} is missing from "
                                      "the store (remove the image and load it again)")
                with contextlib.suppress(FileExistsError):  # only the link was lost
                    os.symlink(f"../layers/{_hex(c)}/diff", link)
        base = "" if relative else str(store.images_dir) + "/"
        return [base + "l/" + n for n in [link_name(c) for c in chains] or ["EMPTY"]]

    @property
    def size(self) -> int:
        """Bytes on disk of the unpacked layers."""
        assert self.store is not None
        return sum(self.store.layer_size(c) for c in self.chain_ids)


class ImageStore:
    """The content-addressed image store of one state root. See the module docstring."""

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

    def _ensure_layout(self) -> None:
        private_dir(self.images_dir)  # and the state root above it, if it is new
        for d in (self.blobs, self.layers_dir, self.links, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
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
            self._ensure_layout()
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
        self._ensure_layout()
        while True:
            name = f"{os.getpid()}-{secrets.token_hex(6)}"
            lock = self.tmp / f"{name}.lock"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # recover() in another process may have taken the lock file for a dead one's
            # between our create and our flock, and unlinked it: then start again
            try:
                if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
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
        return self.blobs / _hex(digest)

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

    # ------------------------------------------------------------ layers

    def layer_dir(self, chain: str) -> Path:
        return self.layers_dir / _hex(chain)

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
        with _disk_errors(what, self.images_dir), self.writing(), self.tmpdir() as work:
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

    def add_layer_dir(self, tree: Path, blob: Path, diff_id: str, tar_size: int,
                      parent: str | None, *, what: str = "layer") -> LayerRef:
        """Store a layer made on this machine as it is: ``blob`` (its plain tar, fsynced,
        whose sha256 is ``diff_id``) becomes the blob and the directory ``tree`` (the
        overlay upper dir the tar was packed from: whiteouts as char 0:0, opaque marks,
        no other overlay xattrs) becomes the unpacked layer, both by rename (same
        filesystem), so a build's layer is written once. Call inside ``writing()``."""
        with _disk_errors(what, self.images_dir), self.writing(), self.tmpdir() as work:
            chain = chain_id(parent, diff_id)
            digest = diff_id  # an uncompressed tar's digest is its diff_id
            if self.has_layer(chain):
                if not self.has_blob(digest):
                    os.replace(blob, self.blob_path(digest))
                    fsync_dir(self.blobs)
                return LayerRef(digest, tar_size, L.MEDIA_TAR, diff_id, chain)
            layer_tmp = work / "layer"
            layer_tmp.mkdir()
            os.rename(tree, layer_tmp / "diff")
            os.chown(layer_tmp / "diff", 0, 0)
            os.chmod(layer_tmp / "diff", 0o755)  # as an unpacked layer's root
            disk = 0
            for dirpath, _dirs, files in os.walk(layer_tmp / "diff"):
                for f in files:
                    with contextlib.suppress(OSError):
                        disk += os.lstat(os.path.join(dirpath, f)).st_size
            if not self.has_blob(digest):
                os.replace(blob, self.blob_path(digest))
                fsync_dir(self.blobs)
            self._install_layer(layer_tmp, chain, parent, L.UnpackResult(diff_id, tar_size,
                                                                          disk))
            return LayerRef(digest, tar_size, L.MEDIA_TAR, diff_id, chain)

    def _install_layer(self, layer_tmp: Path, chain: str, parent: str | None,
                       result: L.UnpackResult) -> None:
        dest = self.layer_dir(chain)
        if self.has_layer(chain):
            return
        link = self.links / link_name(chain)
        target = f"../layers/{_hex(chain)}/diff"
        try:
            os.symlink(target, link)
        except FileExistsError:
            if os.readlink(link) != target:
                raise EngineError(f"layer link {link} is taken by another layer (a 60-bit "
                                  "collision, or a damaged store)")
        atomic_write_json(layer_tmp / "layer.json", {
            "chain_id": chain, "diff_id": result.diff_id, "parent": parent,
            "size": result.disk_size, "link": link.name})
        try:
            os.rename(layer_tmp, dest)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise  # else a concurrent writer unpacked the same layer first: fine
        fsync_dir(self.layers_dir)

    # ------------------------------------------------------------ images and the index

    def read_index(self) -> list[dict[str, Any]]:
        try:
            return list(read_json(self.images_dir / "index.json").get("manifests") or [])
        except FileNotFoundError:
            return []
        except ValueError as e:
            raise EngineError(f"{self.images_dir / 'index.json'} is damaged: {e}")

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        atomic_write_json(self.images_dir / "index.json", {
            "schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests})

    def add_image(self, oci_config: dict[str, Any] | bytes, layers: list[LayerRef],
                  tags: list[str] = (),  # type: ignore[assignment]
                  *, manifest: bytes | None = None, media_type: str = MEDIA_MANIFEST) -> Image:
        """Register an image from its config and its (already added) layers; move
        ``tags`` to it. Returns the Image. ``manifest``: the manifest's bytes as a
        registry sent them (so the image keeps the registry's digest), checked against
        the config and layers; by default the store writes an OCI manifest."""
        with _disk_errors("image", self.images_dir), self.writing():
            cfg_bytes = (oci_config if isinstance(oci_config, bytes)
                         else canonical_json(oci_config))
            cfg = json.loads(cfg_bytes)
            diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
            if diff_ids != [ly.diff_id for ly in layers]:
                raise EngineError("image config's rootfs.diff_ids do not match its layers")
            for ly in layers:
                if not self.has_layer(ly.chain_id) or not self.has_blob(ly.digest):
                    raise EngineError(f"layer {ly.digest} is not in the store")
            config_digest = self.put_blob(cfg_bytes)
            if manifest is None:
                media_type = MEDIA_MANIFEST
                m_bytes = canonical_json({
                    "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                    "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest,
                               "size": len(cfg_bytes)},
                    "layers": [ly.descriptor() for ly in layers]})
            else:
                m_bytes = manifest
                _check_manifest(json.loads(m_bytes), config_digest, layers)
            m_digest = self.put_blob(m_bytes)
            names = [reference.normalize(t) for t in tags]
            all_names = self._name(m_digest, len(m_bytes), config_digest, names, media_type)
        return self._image(m_digest, config_digest, all_names)

    def _image(self, m_digest: str, config_id: str, tags: list[str]) -> Image:
        manifest = json.loads(self.read_blob(m_digest))
        cfg = json.loads(self.read_blob(config_id))
        return Image(config_id, m_digest, manifest, cfg, sorted(tags), self)

    def images(self) -> list[Image]:
        """Every image of the store, newest first."""
        by_id: dict[str, tuple[str, list[str]]] = {}
        for e in self.read_index():
            ann = e.get("annotations") or {}
            image_id = ann.get(ANN_ID) or ""
            if not image_id:
                continue
            _, tags = by_id.setdefault(image_id, (e["digest"], []))
            if ann.get(ANN_NAME):
                tags.append(ann[ANN_NAME])
        out = []
        for i, (m, t) in by_id.items():
            try:
                out.append(self._image(m, i, t))
            except (NotFound, ValueError):
                continue  # a damaged entry (a blob deleted by hand) hides only itself

        return sorted(out, key=lambda im: im.created, reverse=True)

    def resolve(self, ref: str) -> Image:
        """An image by full id, name[:tag], name@digest, or unique id prefix."""
        images = self.images()
        if ref.startswith("sha256:") and len(ref) == 71:
            for im in images:
                if im.id == ref:
                    return im
            held = self.held_image(ref)
            if held is not None:
                return held
            raise NotFound(f"No such image: {ref}")
        try:
            parsed = reference.parse(ref)
        except reference.InvalidReference:
            parsed = None
        if parsed is not None:
            full = str(parsed)
            for im in images:
                if full in im.repo_tags:
                    return im
                if parsed.digest and parsed.digest in (im.manifest_digest, im.id):
                    return im
        if reference.looks_like_id(ref):
            h = ref.removeprefix("sha256:")
            found = [im for im in images if im.id.removeprefix("sha256:").startswith(h)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise Conflict(f"image id prefix {ref!r} is ambiguous")
        if parsed is None:
            reference.parse(ref)  # raises the reference error
        raise NotFound(f"No such image: {ref}")

    def tag(self, ref: str, new: str) -> None:
        """Give the image ``ref`` the name ``new`` (taking it from another image)."""
        im = self.resolve(ref)
        name = reference.normalize(new)
        with self.writing():
            self._name(im.manifest_digest, len(self.read_blob(im.manifest_digest)), im.id,
                       [name])

    def _name(self, m_digest: str, m_size: int, image_id: str, names: list[str],
              media_type: str | None = None) -> list[str]:
        """Register manifest ``m_digest`` in index.json under ``names`` (moved from other
        images, which stay untagged if it was their last); return all its names. Each
        move of a name is recorded as a version of it (versions.py)."""
        from .versions import record_moves

        with self.index_lock():
            current = self.read_index()
            before = {str((e.get("annotations") or {}).get(ANN_NAME)):
                      str((e.get("annotations") or {}).get(ANN_ID) or "") for e in current}
            if media_type is None:  # keep the type the image was registered with
                media_type = next((str(e["mediaType"]) for e in current
                                   if e.get("digest") == m_digest and e.get("mediaType")),
                                  MEDIA_MANIFEST)
            # names move to this image; its untagged entry goes if it gets a name
            index = [e for e in current
                     if (e.get("annotations") or {}).get(ANN_NAME) not in names
                     and not (names and e.get("digest") == m_digest
                              and not (e.get("annotations") or {}).get(ANN_NAME))]
            desc = {"mediaType": media_type, "digest": m_digest, "size": m_size}
            for n in names:
                index.append({**desc, "annotations": {
                    ANN_NAME: n, ANN_REF: reference.parse(n).tag or "", ANN_ID: image_id}})
            if not any(e.get("digest") == m_digest for e in index):
                index.append({**desc, "annotations": {ANN_ID: image_id}})
            self._write_index(_keep_dangling(index, self))
            record_moves(self, [(n, before.get(n, ""), image_id, m_digest) for n in names])
            return sorted(str((e.get("annotations") or {}).get(ANN_NAME)) for e in index
                          if e.get("digest") == m_digest
                          and (e.get("annotations") or {}).get(ANN_NAME))

    # ------------------------------------------------------------ holds

    def hold(self, name: str, *, blobs: list[str], chains: list[str],
             image: Image | None = None, data: dict[str, Any] | None = None) -> None:
        """Keep ``blobs`` and unpacked ``chains`` from garbage collection under ``name``
        (``[a-z0-9-]``), with ``data`` for the holder. An ``image`` held this way is not
        in index.json (``image ls`` never shows it) but resolves by its full id: the
        build cache keeps its layers and the images its RUN steps run in like this.
        Call inside ``with store.writing():``, after the blobs and layers were added."""
        record: dict[str, Any] = {"blobs": blobs, "chains": chains, "data": data or {}}
        if image is not None:
            record["image"] = {"id": image.id, "manifest": image.manifest_digest}
        path = self.holds_dir / f"{name}.json"
        with _disk_errors("build cache", self.images_dir):
            self.holds_dir.mkdir(mode=0o700, exist_ok=True)
            atomic_write(path, canonical_json(record), mode=0o600)

    def held(self, name: str) -> dict[str, Any] | None:
        """The record held as ``name``, or None."""
        try:
            rec: dict[str, Any] = json.loads((self.holds_dir / f"{name}.json").read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return rec

    def holds(self, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        """Every hold whose name starts with ``prefix``."""
        try:
            names = sorted(os.listdir(self.holds_dir))
        except FileNotFoundError:
            return
        for n in names:
            if n.endswith(".json") and n.startswith(prefix):
                rec = self.held(n[:-5])
                if rec is not None:
                    yield n[:-5], rec

    def release(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.holds_dir / f"{name}.json").unlink()

    def add_held_image(self, oci_config: dict[str, Any], layers: list[LayerRef],
                       data: dict[str, Any] | None = None) -> Image:
        """Register an image that only a hold keeps (see :meth:`hold`), held as
        ``image-<hex of its id>``."""
        with _disk_errors("image", self.images_dir), self.writing():
            cfg_bytes = canonical_json(oci_config)
            config_digest = self.put_blob(cfg_bytes)
            manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest,
                                   "size": len(cfg_bytes)},
                        "layers": [ly.descriptor() for ly in layers]}
            m_digest = self.put_blob(canonical_json(manifest))
            image = self._image(m_digest, config_digest, [])
            self.hold(f"image-{_hex(config_digest)}",
                      blobs=[config_digest, m_digest, *[ly.digest for ly in layers]],
                      chains=[ly.chain_id for ly in layers], image=image, data=data)
            return image

    def held_image(self, image_id: str) -> Image | None:
        """An image kept by a hold (not in the index), by its full id."""
        rec = self.held(f"image-{_hex(image_id)}")
        im = (rec or {}).get("image") or {}
        if im.get("id") != image_id:
            return None
        try:
            return self._image(str(im["manifest"]), image_id, [])
        except (NotFound, ValueError, KeyError):
            return None

    @property
    def image_in_use(self) -> set[str]:
        """Image ids that containers use: ``$ROOT/containers/*/state.json`` key "Image".
        The container engine's records are the truth; a subclass may override."""
        out: set[str] = set()
        for state in (self.root / "containers").glob("*/state.json"):
            try:
                image = read_json(state).get("Image")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(image, str) and image:
                out.add(image)
        return out


@contextlib.contextmanager
def _disk_errors(what: str, where: Path) -> Iterator[None]:
    """A full disk or a failing store is a user-facing error naming the store, not a
    traceback; nothing half-written stays (tmpdir and atomic writes see to that)."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise L.LayerError(f"{what}: no space left on device in {where}")
        raise EngineError(f"{what}: {e.strerror or e} ({e.filename or where})")


def _check_manifest(doc: Any, config_digest: str, layers: list[LayerRef]) -> None:
    """A manifest handed to add_image must name the config and layers given with it."""
    try:
        cfg = doc["config"]["digest"]
        digests = [d["digest"] for d in doc.get("layers") or []]
    except (KeyError, TypeError):
        raise EngineError("image manifest lacks its config or layer descriptors")
    if cfg != config_digest or digests != [ly.digest for ly in layers]:
        raise EngineError("image manifest does not name the config and layers given")


def _keep_dangling(index: list[dict[str, Any]], store: ImageStore) -> list[dict[str, Any]]:
    """An image whose last tag moved away stays, untagged (``<none>``), as in docker."""
    old = store.read_index()
    present = {(e.get("annotations") or {}).get(ANN_ID) for e in index}
    for e in old:
        image_id = (e.get("annotations") or {}).get(ANN_ID)
        if image_id and image_id not in present:
            index.append({k: v for k, v in e.items() if k != "annotations"}
                         | {"annotations": {ANN_ID: image_id}})
            present.add(image_id)
    return index


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

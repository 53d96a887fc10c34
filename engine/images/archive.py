"""``image load`` and ``image save``: docker-save archives and OCI image layout archives.

``save`` writes one archive that is both (what docker 25+ writes): an OCI layout
(``oci-layout``, ``index.json``, ``blobs/sha256/...``) plus docker's ``manifest.json``
naming the same blobs, so ``docker load``, ``podman load`` and skopeo's
``docker-archive:``/``oci-archive:`` all read it.

``load`` reads either kind, gzip/zstd-compressed or not. A seekable plain archive is
read in place; anything else (stdin, compressed) is first unpacked, confined like a
layer, into a private tmp dir. Every layer's diff_id is checked against its config,
every blob named by digest against its digest; an image is registered only when all
its layers are in.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import posixpath
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from ..errors import EngineError
from . import fsops, reference
from .image import Image
from .layers import LayerError, sniff_compression, unpack
from .layerstore import LayerRef
from .layout import ANN_REF, MEDIA_INDEX, digest_of
from .store import ImageStore
from .versions import ANN_NAME

MEDIA_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.v2+json")
MEDIA_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json")
MAX_JSON = 64 << 20
#: symbolic links followed to reach one member (the kernel's own limit is 40)
MAX_LINKS = 40


class ArchiveError(EngineError):
    """An image archive that cannot be loaded."""


# ---------------------------------------------------------------- reading an archive

class _Files:
    """Files of an archive by normalised name, however the archive is held."""

    def __init__(self, source: str) -> None:
        self.source = source

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def read_json(self, name: str) -> Any:
        try:
            with self.open(name) as f:
                data = f.read(MAX_JSON + 1)
        except (OSError, KeyError):
            raise ArchiveError(f"{self.source}: {name} is missing")
        if len(data) > MAX_JSON:
            raise ArchiveError(f"{self.source}: {name} is too large")
        try:
            return json.loads(data)
        except ValueError as e:
            raise ArchiveError(f"{self.source}: {name} is not valid JSON: {e}")

    def read_bytes(self, name: str) -> bytes:
        try:
            with self.open(name) as f:
                return f.read()
        except (OSError, KeyError):
            raise ArchiveError(f"{self.source}: {name} is missing")


def _norm(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


class _InPlace(_Files):
    """A plain, seekable tar: members are read where they are."""

    def __init__(self, f: BinaryIO, source: str) -> None:
        super().__init__(source)
        try:
            self.tar = tarfile.open(fileobj=f, mode="r:")  # noqa: SIM115 - lives with self
            self.members = {_norm(m.name): m for m in self.tar.getmembers()}
        except (tarfile.TarError, EOFError) as e:
            raise ArchiveError(f"{source}: not a tar archive, or a damaged one ({e})")

    def exists(self, name: str) -> bool:
        return _norm(name) in self.members

    def _member(self, name: str) -> tarfile.TarInfo:
        """The member ``name`` stands for, its symbolic links followed here (docker-save
        links shared layers), with a bound: tarfile follows them by recursion, and a
        link to itself ended in RecursionError."""
        m = self.members.get(_norm(name))
        for _ in range(MAX_LINKS):
            if m is None:
                raise KeyError(name)
            if not m.issym():
                return m
            m = self.members.get(_norm(posixpath.join(posixpath.dirname(m.name), m.linkname)))
        raise ArchiveError(f"{self.source}: malformed archive: {name} is a symbolic link "
                           f"loop (more than {MAX_LINKS} links)")

    def open(self, name: str) -> IO[bytes]:
        m = self._member(name)
        try:
            f = self.tar.extractfile(m)
        except (tarfile.TarError, KeyError, RecursionError) as e:
            raise ArchiveError(f"{self.source}: malformed archive: cannot read {name}: "
                               f"{type(e).__name__}: {e}")
        if f is None:
            raise ArchiveError(f"{self.source}: {name} is not a file")
        return f


class _Spooled(_Files):
    """An archive unpacked (confined) into a directory."""

    def __init__(self, root: Path, source: str) -> None:
        super().__init__(source)
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self.root_fd)

    def exists(self, name: str) -> bool:
        try:
            os.close(fsops.open_in_root(self.root_fd, _norm(name), os.O_PATH))
            return True
        except OSError as e:
            return e.errno == errno.ELOOP  # there, and malformed: open() says so

    def open(self, name: str) -> IO[bytes]:
        try:
            fd = fsops.open_in_root(self.root_fd, _norm(name), os.O_RDONLY)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ArchiveError(f"{self.source}: malformed archive: {name} is a symbolic "
                                   "link loop") from None
            raise
        return os.fdopen(fd, "rb")


@contextlib.contextmanager
def _files(store: ImageStore, raw: BinaryIO, source: str) -> Iterator[_Files]:
    seekable = False
    with contextlib.suppress(OSError, AttributeError, ValueError):
        seekable = raw.seekable() and os.path.isfile(f"/proc/self/fd/{raw.fileno()}")
    if seekable:
        pos = raw.tell()
        head = raw.read(8)
        raw.seek(pos)
        if not sniff_compression(head):
            yield _InPlace(raw, source)
            return
    with store.tmpdir() as work:
        try:
            unpack(raw, str(work), what=f"archive {source}", plain=True)
        except LayerError as e:
            raise ArchiveError(str(e))
        spooled = _Spooled(work, source)
        try:
            yield spooled
        finally:
            spooled.close()


# ---------------------------------------------------------------- load

def _check_digest(data: bytes, digest: str, what: str) -> None:
    if digest_of(data) != digest:
        raise ArchiveError(f"{what}: digest mismatch: expected {digest}, got {digest_of(data)}")


def _blob_name(digest: str) -> str:
    algo, _, h = digest.partition(":")
    return f"blobs/{algo}/{h}"


def _load_layers(store: ImageStore, files: _Files, config: dict[str, Any],
                 layer_paths: list[str], digests: list[str | None]) -> list[LayerRef]:
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != len(layer_paths):
        raise ArchiveError(f"{files.source}: the config lists {len(diff_ids)} layers, the "
                           f"manifest {len(layer_paths)}")
    refs: list[LayerRef] = []
    for i, (path, diff, digest) in enumerate(zip(layer_paths, diff_ids, digests, strict=True)):
        parent = refs[-1].chain_id if refs else None
        what = f"{files.source}: layer {i + 1}/{len(layer_paths)} ({path})"
        try:
            f = files.open(path)
        except (OSError, KeyError):
            raise ArchiveError(f"{what} is missing from the archive")
        with f:
            refs.append(store.add_layer(f, parent, expected_digest=digest,
                                        expected_diff_id=diff, what=what))
    return refs


def _load_docker(store: ImageStore, files: _Files) -> list[tuple[Image, list[str]]]:
    manifest = files.read_json("manifest.json")
    if not isinstance(manifest, list):
        raise ArchiveError(f"{files.source}: manifest.json is not a list")
    out = []
    for entry in manifest:
        cfg_path = entry.get("Config") or ""
        cfg_bytes = files.read_bytes(cfg_path)
        if cfg_path.startswith("blobs/sha256/"):
            _check_digest(cfg_bytes, "sha256:" + cfg_path.rsplit("/", 1)[1], cfg_path)
        config = json.loads(cfg_bytes)
        layers = list(entry.get("Layers") or [])
        digests: list[str | None] = [
            "sha256:" + p.rsplit("/", 1)[1] if p.startswith("blobs/sha256/") else None
            for p in layers]
        refs = _load_layers(store, files, config, layers, digests)
        tags = [reference.normalize(t) for t in entry.get("RepoTags") or []]
        out.append((store.add_image(cfg_bytes, refs, tags), tags))
    return out


def _manifests(files: _Files, index: dict[str, Any], depth: int = 0
               ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(descriptor, manifest) of an OCI index, through nested indexes, this platform's."""
    from .changes import go_arch

    for desc in index.get("manifests") or []:
        media = desc.get("mediaType", "")
        plat = desc.get("platform") or {}
        if plat and (plat.get("architecture") not in (None, go_arch())
                     or plat.get("os") not in (None, "linux")):
            continue
        data = files.read_bytes(_blob_name(desc["digest"]))
        _check_digest(data, desc["digest"], f"{files.source}: {desc['digest']}")
        doc = json.loads(data)
        if media in MEDIA_INDEX_TYPES or "manifests" in doc:
            if depth > 4:
                raise ArchiveError(f"{files.source}: indexes nested too deep")
            for _, m in _manifests(files, doc, depth + 1):
                yield desc, m
        else:
            yield desc, doc


def _load_oci(store: ImageStore, files: _Files) -> list[tuple[Image, list[str]]]:
    index = files.read_json("index.json")
    out = []
    for desc, manifest in _manifests(files, index):
        ann = desc.get("annotations") or {}
        name = ann.get(ANN_NAME) or ann.get(ANN_REF) or ""
        tags = []
        if name and ("/" in name or ":" in name):
            with contextlib.suppress(reference.InvalidReference):
                tags = [reference.normalize(name)]
        cfg_desc = manifest.get("config") or {}
        cfg_bytes = files.read_bytes(_blob_name(cfg_desc.get("digest", "")))
        _check_digest(cfg_bytes, cfg_desc["digest"], f"{files.source}: config")
        layers = manifest.get("layers") or []
        refs = _load_layers(store, files, json.loads(cfg_bytes),
                            [_blob_name(ly["digest"]) for ly in layers],
                            [ly["digest"] for ly in layers])
        out.append((store.add_image(cfg_bytes, refs, tags), tags))
    return out


def load(store: ImageStore, raw: BinaryIO, *, source: str) -> list[tuple[Image, list[str]]]:
    """Load every image of a docker-save or OCI layout archive (maybe compressed).
    On failure, the layers of an image that did not make it are removed again."""
    try:
        return _load(store, raw, source)
    except EngineError:
        from .gc import gc

        gc(store, wait=False)
        raise


def _load(store: ImageStore, raw: BinaryIO, source: str) -> list[tuple[Image, list[str]]]:
    with store.writing(), _files(store, raw, source) as files:
        try:
            if files.exists("manifest.json"):
                loaded = _load_docker(store, files)
            elif files.exists("index.json"):
                loaded = _load_oci(store, files)
            else:
                raise ArchiveError(f"{source}: not a docker-save or OCI image archive "
                                   "(neither manifest.json nor index.json)")
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            if isinstance(e, EngineError):
                raise
            raise ArchiveError(f"{source}: malformed image archive ({type(e).__name__}: {e})")
    if not loaded:
        raise ArchiveError(f"{source}: the archive holds no image for this platform")
    return loaded


# ---------------------------------------------------------------- save

def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), 0o644, mtime
    tar.addfile(ti, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mtime: int) -> None:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, mtime
    tar.addfile(ti)


def save(store: ImageStore, refs: list[str], out: str | BinaryIO) -> None:
    """Write the images ``refs`` to ``out`` (a path, written atomically, or a stream)."""
    by_id: dict[str, tuple[Image, list[str]]] = {}
    for ref in refs:
        im = store.resolve(ref)
        _, tags = by_id.setdefault(im.id, (im, []))
        with contextlib.suppress(reference.InvalidReference):
            full = reference.normalize(ref)
            if full in im.repo_tags and full not in tags:
                tags.append(full)
    images = list(by_id.values())
    if isinstance(out, str):
        tmp = f"{out}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                _write(store, images, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, out)
        except BaseException as e:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(e, OSError):
                raise EngineError(f"cannot write {out}: {e.strerror or e}")
            raise
    else:
        _write(store, images, out)


def _write(store: ImageStore, images: list[tuple[Image, list[str]]], out: BinaryIO) -> None:
    mtime = int(time.time())
    written: set[str] = set()
    manifest_json: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_dir(tar, "blobs", mtime)
        _add_dir(tar, "blobs/sha256", mtime)

        def blob(digest: str, layer: LayerRef | None = None) -> str:
            name = _blob_name(digest)
            if digest not in written:
                # a layer built here has its tar made now (LayerStore.layer_blob)
                path = store.layer_blob(layer) if layer else store.blob_path(digest)
                ti = tar.gettarinfo(str(path), arcname=name)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                with open(path, "rb") as f:
                    tar.addfile(ti, f)
                written.add(digest)
            return name

        for im, tags in images:
            layer_names = [blob(ly.digest, ly) for ly in im.layers]
            cfg_name = blob(im.id)
            blob(im.manifest_digest)
            manifest_json.append({"Config": cfg_name,
                                  "RepoTags": [reference.parse(t).familiar() for t in tags],
                                  "Layers": layer_names})
            desc = {"mediaType": im.manifest.get("mediaType", MEDIA_MANIFEST_TYPES[0]),
                    "digest": im.manifest_digest,
                    "size": store.blob_path(im.manifest_digest).stat().st_size}
            if tags:
                for t in tags:
                    index.append({**desc, "annotations": {
                        ANN_NAME: t, ANN_REF: reference.parse(t).tag or ""}})
            else:
                index.append(desc)
        _add_bytes(tar, "index.json", json.dumps(
            {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": index}).encode(), mtime)
        _add_bytes(tar, "manifest.json", json.dumps(manifest_json).encode(), mtime)
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}', mtime)


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()

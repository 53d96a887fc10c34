"""Pull: a reference from a registry into the image store.

The steps, for ``NAME[:TAG|@DIGEST]``:

1. the manifest, from the mirrors first for Docker Hub names, then the name's own
   registry; an index (OCI index, Docker manifest list) is narrowed to this machine's
   platform (or ``--platform``) and the platform's manifest fetched by digest. Every
   manifest's bytes are checked against the digest they were asked by.
2. at once: the config blob (checked; its ``rootfs.diff_ids`` give each layer's chain
   ID, its platform must be the one asked for) and the layers' blobs, several at a time
   (``max-concurrent-downloads``). A blob already in the store is not fetched; one that
   another pull is fetching is waited for (a lock per blob); the rest are written to the
   pull's work folder as they arrive, hashed on the way, and renamed into the store once
   their digest is the manifest's (fetch.py).
3. the image, registered with the registry's own manifest bytes, so that its digest
   is the registry's and a push sends the same manifest back.

The layers are not unpacked here: images/unpacking.py unpacks them when a container (or
a build, or ``image inspect``) first needs them, with every check of the unpacker (the
tar against its diff_id, confined paths, whiteouts); its docstring says why, measured.
So the layer lines end at docker's "Download complete", not "Pull complete". A caller
that runs the image next (``container run``'s implicit pull) asks for ``unpack``: each
layer is then unpacked as soon as its blob is in, beside the other downloads, and the
pull returns once all are (docker's "Extracting", "Pull complete").

Nothing is half-stored: a failure anywhere removes what this pull added (the store's gc,
when no other writer is at work) and reports the image and the layer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import trio

from pycompose.util.fs import fsync_dir

from ..errors import EngineError, InvalidArgument, NotFound, Unavailable
from ..images import reference
from ..images.layers import media_type_for, sniff_compression
from ..images.layerstore import LayerRef
from ..images.layout import chain_id, disk_errors
from ..images.store import ImageStore
from . import sources
from .auth import scope_for
from .client import DOCKER_SCHEMA1, INDEX_TYPES, MANIFEST_TYPES, Manifest, Registry, Session
from .errors import RegistryDataError, Unauthorized
from .fetch import BlobFile, blob_lock
from .types import (
    ImageMessage,
    LayerProgress,
    Platform,
    Progress,
    PulledImage,
    PullRequest,
    PullResult,
)

log = logging.getLogger(__name__)

MAX_CONFIG = 8 << 20
_EVENT_STEP = 512 << 10  # a Downloading event per this many bytes


def short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _quiet(_: Any) -> None:
    return None


@dataclass(frozen=True)
class _Blob:
    """A layer as the manifest lists it."""

    index: int
    digest: str
    size: int
    media_type: str


def platform_of(doc: dict[str, Any]) -> Platform:
    """The platform of an index entry's ``platform`` or of an image config."""
    return Platform.of(str(doc.get("os") or ""), str(doc.get("architecture") or ""),
                       str(doc.get("variant") or ""))


def choose_manifest(index: dict[str, Any], want: Platform, what: str) -> dict[str, Any]:
    """The index entry for ``want``; NotFound listing the platforms there are."""
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    usable = [m for m in entries
              if (m.get("mediaType") in (*MANIFEST_TYPES, None))
              and (m.get("annotations") or {}).get("vnd.docker.reference.type")
              != "attestation-manifest"]
    matches = [m for m in usable
               if want.matches(**_platform_args(m.get("platform") or {}))]
    if matches:
        # an exact variant first (amd64 over amd64/v3 when none is asked for)
        matches.sort(key=lambda m: (m.get("platform") or {}).get("variant", "") != want.variant)
        return matches[0]
    have = sorted({str(platform_of(m.get("platform") or {})) for m in usable}) or ["none"]
    raise NotFound(f"{what}: no matching manifest for {want} in the manifest list entries "
                   f"(it has: {', '.join(have)}; choose one with --platform)")


def _platform_args(p: dict[str, Any]) -> dict[str, str]:
    return {"os_": str(p.get("os") or ""), "architecture": str(p.get("architecture") or ""),
            "variant": str(p.get("variant") or "")}


class Puller:
    """One pull command: a session, a store, where to report."""

    def __init__(self, store: ImageStore, session: Session, *,
                 progress: Progress | None = None) -> None:
        self.store = store
        self.session = session
        self.progress: Progress = progress or _quiet
        self.limiter = trio.CapacityLimiter(session.config.max_concurrent_downloads)
        self.unpackers = trio.CapacityLimiter(os.cpu_count() or 2)

    async def pull(self, request: PullRequest) -> PullResult:
        ref = reference.parse(request.reference)
        if ref.digest and ref.tag:  # name:tag@digest: the digest decides, as docker's
            ref = replace(ref, tag=None)
        if request.all_tags:
            if ref.digest or ":" in request.reference.rsplit("/", 1)[-1]:
                raise InvalidArgument(f"{request.reference}: tag can't be used with "
                                      "--all-tags/-a")
            reg = self.session.endpoints(ref.domain)[-1]
            tags = await reg.tags(ref.path, scopes=(scope_for(ref.path, "pull"),))
            if not tags:
                raise NotFound(f"{ref.familiar_name}: the registry has no tags")
            out = []
            for t in sorted(tags):
                one = replace(ref, tag=t)
                out.append(await self.pull_one(one, request.platform, request.unpack))
            return PullResult(out)
        return PullResult([await self.pull_one(ref, request.platform, request.unpack)])

    async def pull_one(self, ref: reference.Reference, platform: Platform | None,
                       unpack: bool = False) -> PulledImage:
        name = str(ref)
        want = platform or Platform.host()
        mirrors: list[str] = []
        endpoints = self.session.endpoints(ref.domain)
        for i, reg in enumerate(endpoints):
            try:
                top = await self._manifest(reg, ref)
            except (NotFound, Unavailable, Unauthorized) as e:
                if i < len(endpoints) - 1:
                    log.info("mirror %s: %s; trying the next", reg.label, e)
                    mirrors.append(str(e))
                    continue
                if mirrors:  # say what the mirrors said too: they were asked first
                    raise type(e)(f"{e} (after the mirrors: {'; '.join(mirrors)})")
                raise
            return await self._pull_from(reg, ref, top, want, explicit=platform is not None,
                                         unpack=unpack)
        raise NotFound(f"{name}: not found")

    async def _manifest(self, reg: Registry, ref: reference.Reference) -> Manifest:
        scopes = (scope_for(ref.path, "pull"),)
        return await reg.get_manifest(ref.path, ref.digest or ref.tag or "latest",
                                      scopes=scopes)

    async def _pull_from(self, reg: Registry, ref: reference.Reference, top: Manifest,
                         want: Platform, *, explicit: bool, unpack: bool) -> PulledImage:
        name = str(ref)
        label = ref.tag or ref.digest or ""
        self.progress(ImageMessage(name, f"{label}: Pulling from {ref.path}"))
        scopes = (scope_for(ref.path, "pull"),)
        manifest = top
        if top.media_type in DOCKER_SCHEMA1 or top.doc.get("schemaVersion") == 1:
            raise RegistryDataError(f"{name}: the registry serves it as a schema 1 manifest, "
                                    "which docker has deprecated and pycompose does not "
                                    "read; push it again with a current tool")
        if top.media_type in INDEX_TYPES:
            entry = choose_manifest(top.doc, want, name)
            manifest = await reg.get_manifest(ref.path, str(entry.get("digest")),
                                              scopes=scopes)
            if manifest.media_type in INDEX_TYPES:
                raise RegistryDataError(f"{name}: an index inside an index: not supported")
        if manifest.media_type not in MANIFEST_TYPES:
            raise RegistryDataError(f"{name}: unsupported manifest media type "
                                    f"{manifest.media_type!r}")
        previous = self._current(name)
        if previous is not None and previous[1] == manifest.digest:
            if unpack:  # the caller runs it next: what was pulled lazily, unpack now
                await trio.to_thread.run_sync(self._unpack_image, name)
            self.progress(ImageMessage(name, f"Digest: {top.digest}"))
            return PulledImage(name, previous[0], top.digest, manifest.digest, updated=False,
                               source=reg.label)
        cfg_desc = manifest.doc.get("config") or {}
        layers_desc = [d for d in manifest.doc.get("layers") or [] if isinstance(d, dict)]
        cfg_digest, cfg_size = str(cfg_desc.get("digest") or ""), int(cfg_desc.get("size") or 0)
        if not cfg_digest.startswith("sha256:") or not 0 < cfg_size <= MAX_CONFIG:
            raise RegistryDataError(f"{name}: the manifest's config descriptor is missing "
                                    "or unusable")
        blobs: list[_Blob] = []
        for i, d in enumerate(layers_desc):
            digest = str(d.get("digest") or "")
            if not digest.startswith("sha256:"):
                raise RegistryDataError(f"{name}: layer {i + 1} has no usable sha256 digest")
            blobs.append(_Blob(i, digest, int(d.get("size") or 0),
                               str(d.get("mediaType") or "")))
        return await self._store_image(reg, ref, top, manifest, (cfg_digest, cfg_size), blobs,
                                       want, explicit=explicit, unpack=unpack)

    async def _config(self, reg: Registry, ref: reference.Reference, desc: tuple[str, int],
                      n_layers: int, want: Platform, *, explicit: bool
                      ) -> tuple[bytes, list[str]]:
        """The image config (checked against its digest) and its diff_ids, one per layer;
        NotFound if it is for another platform than ``want``."""
        name = str(ref)
        cfg_digest, cfg_size = desc
        if self.store.has_blob(cfg_digest):  # checked when it was stored
            cfg_bytes = self.store.read_blob(cfg_digest)
        else:
            cfg_bytes = await reg.blob_bytes(ref.path, cfg_digest, cfg_size,
                                             scopes=(scope_for(ref.path, "pull"),),
                                             what=f"config {short(cfg_digest)} of {name}")
        try:
            cfg = json.loads(cfg_bytes)
            diff_ids = [str(d) for d in (cfg.get("rootfs") or {}).get("diff_ids") or []]
        except (ValueError, AttributeError) as e:
            raise RegistryDataError(f"{name}: the image config is not valid JSON: {e}")
        got = platform_of(cfg)
        if got.os and got.architecture and not want.matches(got.os, got.architecture,
                                                            got.variant):
            raise NotFound(f"{name}: the image is for {got}, not {want}"
                           + ("" if explicit else f" (pull it anyway with --platform {got})"))
        if len(diff_ids) != n_layers:
            raise RegistryDataError(f"{name}: the config lists {len(diff_ids)} layers, the "
                                    f"manifest {n_layers}")
        for i, diff in enumerate(diff_ids):
            if not diff.startswith("sha256:"):
                raise RegistryDataError(f"{name}: layer {i + 1} has no usable sha256 diff_id")
        return cfg_bytes, diff_ids

    def _current(self, name: str) -> tuple[str, str] | None:
        """(image id, manifest digest) the name points to now, if any."""
        try:
            im = self.store.resolve(name)
        except (NotFound, EngineError):
            return None
        return im.id, im.manifest_digest

    def _unpack_image(self, name: str) -> None:
        from ..images.unpacking import ensure_image_unpacked

        ensure_image_unpacked(ImageStore(self.store.root).resolve(name))

    async def _store_image(self, reg: Registry, ref: reference.Reference, top: Manifest,
                           manifest: Manifest, cfg_desc: tuple[str, int], blobs: list[_Blob],
                           want: Platform, *, explicit: bool, unpack: bool) -> PulledImage:
        """The config and every layer's blob at once (a blob already in the store is not
        fetched again; one another pull is fetching is waited for), then the image,
        registered with the registry's own manifest bytes (so that its digest is the
        registry's and a push sends the same manifest back). With ``unpack``, each layer
        is also unpacked as soon as its blob and the config are in."""
        from ..images import versions

        name = str(ref)
        counts = {"fetched": 0, "existing": 0, "bytes": 0}
        done = False
        try:
            with self.store.writing(), self.store.tmpdir() as work:
                config: list[tuple[bytes, list[str]]] = []
                config_in = trio.Event()

                async def fetch_config() -> None:
                    got = await self._config(reg, ref, cfg_desc, len(blobs), want,
                                             explicit=explicit)
                    config.append(got)
                    config_in.set()
                    # stored now, beside the downloads, rather than after them by
                    # add_image (which finds them there): two syncs off the tail
                    for data in (got[0], manifest.data):
                        await trio.to_thread.run_sync(self.store.put_blob, data)

                async def layer(b: _Blob) -> None:
                    await self._layer(reg, ref, b, work, counts)
                    if unpack:
                        await config_in.wait()
                        await self._unpack(ref, b, config[0][1])

                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(fetch_config)
                        for b in blobs:
                            nursery.start_soon(layer, b)
                except BaseExceptionGroup as group:
                    raise _first(group) from None
                # the renamed blobs' names reach the disk before index.json names them
                await trio.to_thread.run_sync(fsync_dir, self.store.blobs)
                cfg_bytes, diff_ids = config[0]
                refs: list[LayerRef] = []
                parent: str | None = None
                for b, diff in zip(blobs, diff_ids, strict=True):
                    chain = chain_id(parent, diff)
                    refs.append(LayerRef(b.digest, b.size, b.media_type or self._sniff(b),
                                         diff, chain))
                    parent = chain
                self.progress(ImageMessage(name, f"Digest: {top.digest}"))
                tags = [name] if ref.tag else [f"{ref.name}@{ref.digest}"]
                source = f"{reg.label}/{ref.path}@{top.digest}"
                with versions.recording(action="pull", source=source):
                    im = self.store.add_image(cfg_bytes, refs, tags, manifest=manifest.data,
                                              media_type=manifest.media_type,
                                              unpacked_later=not unpack)
                sources.remember(self.store, reg.host, ref.path,
                                 [b.digest for b in blobs] + [cfg_desc[0]])
            done = True
        finally:
            if not done:
                from ..images.gc import gc

                try:
                    gc(self.store, wait=False)  # what this pull added and no image names
                except OSError as e:
                    log.warning("clean-up after a failed pull: %s", e)
        return PulledImage(name, im.id, top.digest, manifest.digest, updated=True,
                           layers_fetched=counts["fetched"], layers_existing=counts["existing"],
                           bytes_fetched=counts["bytes"], source=reg.label)

    def _sniff(self, b: _Blob) -> str:
        """A layer's media type from its blob's magic, when the manifest names none."""
        with open(self.store.blob_path(b.digest), "rb") as f:
            return media_type_for(sniff_compression(f.read(8)))

    async def _layer(self, reg: Registry, ref: reference.Reference, b: _Blob, work: Path,
                     counts: dict[str, int]) -> None:
        """Layer ``b``'s blob into the store, unless it is there."""
        name = str(ref)
        sid = short(b.digest)
        if self.store.has_blob(b.digest):
            counts["existing"] += 1
            self.progress(LayerProgress(name, sid, "Already exists"))
            return
        self.progress(LayerProgress(name, sid, "Pulling fs layer", 0, b.size))
        async with blob_lock(self.store.tmp, b.digest):
            if self.store.has_blob(b.digest):  # another pull fetched it while we waited
                counts["existing"] += 1
                self.progress(LayerProgress(name, sid, "Already exists"))
                return
            await self._download(reg, ref, b, work, counts)
        counts["fetched"] += 1

    async def _unpack(self, ref: reference.Reference, b: _Blob, diff_ids: list[str]) -> None:
        """Unpack layer ``b`` (``pull`` with ``unpack``), beside the other downloads."""
        from ..images.unpacking import unpack_layer

        name = str(ref)
        sid = short(b.digest)
        parent: str | None = None
        for diff in diff_ids[:b.index]:
            parent = chain_id(parent, diff)
        chain = chain_id(parent, diff_ids[b.index])
        layer = LayerRef(b.digest, b.size, b.media_type, diff_ids[b.index], chain)
        if not self.store.has_layer(chain):
            self.progress(LayerProgress(name, sid, "Extracting", 0, b.size))
            what = f"layer {sid} of {ref.familiar()}"
            async with self.unpackers:
                await trio.to_thread.run_sync(
                    lambda: unpack_layer(ImageStore(self.store.root), layer, parent, what=what))
        self.progress(LayerProgress(name, sid, "Pull complete", b.size, b.size))

    async def _download(self, reg: Registry, ref: reference.Reference, b: _Blob, work: Path,
                        counts: dict[str, int]) -> None:
        """Stream the blob into a file of ``work``, check its digest, and rename it into
        the store's blobs (its directory is synced once, for all, by the caller)."""
        name = str(ref)
        sid = short(b.digest)
        what = f"layer {sid} of {ref.familiar()}"
        def disk() -> contextlib.AbstractContextManager[None]:  # each write of the blob
            return disk_errors(what, self.store.images_dir)

        with disk():
            blob = BlobFile(work / b.digest.partition(":")[2])
        reported = 0

        async def write(chunk: bytes) -> None:
            nonlocal reported
            with disk():
                blob.write(chunk)
            if blob.size - reported >= _EVENT_STEP or blob.size == b.size:
                reported = blob.size
                self.progress(LayerProgress(name, sid, "Downloading", blob.size, b.size))

        def retry(offset: int, e: Exception) -> None:
            self.progress(LayerProgress(name, sid, "Retrying", offset, b.size))

        try:
            # the limit is on downloads (docker's max-concurrent-downloads)
            if not self.limiter.available_tokens:
                self.progress(LayerProgress(name, sid, "Waiting", 0, b.size))
            async with self.limiter:
                await reg.fetch_blob(ref.path, b.digest, b.size, write,
                                     scopes=(scope_for(ref.path, "pull"),), what=what,
                                     on_retry=retry)
            self.progress(LayerProgress(name, sid, "Verifying Checksum", b.size, b.size))
            with disk():
                digest = await blob.finish()
        finally:
            blob.close()
            counts["bytes"] += blob.size
        if digest != b.digest:
            raise RegistryDataError(f"{what}: digest mismatch: expected {b.digest}, the "
                                    f"data has {digest}")
        with disk():
            os.replace(blob.path, self.store.blob_path(b.digest))
        self.progress(LayerProgress(name, sid, "Download complete", b.size, b.size))


def _first(group: BaseExceptionGroup) -> BaseException:
    """The error to tell of a group the pull's nursery raised (the others are logged):
    one layer's failure cancels the rest, so there is usually only one."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup) -> None:
        for e in g.exceptions:
            walk(e) if isinstance(e, BaseExceptionGroup) else leaves.append(e)

    walk(group)
    for e in leaves[1:]:
        log.info("pull: also failed: %s", e)
    return leaves[0] if leaves else group

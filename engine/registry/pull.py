"""Pull: a reference from a registry into the image store.

The steps, for ``NAME[:TAG|@DIGEST]``:

1. the manifest, from the mirrors first for Docker Hub names, then the name's own
   registry; an index (OCI index, Docker manifest list) is narrowed to this machine's
   platform (or ``--platform``) and the platform's manifest fetched by digest. Every
   manifest's bytes are checked against the digest they were asked by.
2. the config blob, checked; its ``rootfs.diff_ids`` give each layer's chain ID.
3. the layers, several at once (``max-concurrent-downloads``): a layer the store
   already has is not fetched; one that another pull is fetching is waited for (a lock
   per blob); the rest stream through the store's safe unpacker while they download
   (``add_layer`` checks the blob's digest and the tar's diff_id, keeps the compressed
   blob for push, and leaves nothing if either check fails).
4. the image, registered with the registry's own manifest bytes, so that its digest
   is the registry's and a push sends the same manifest back.

Nothing is half-stored: a failure anywhere removes what this pull added (the store's gc,
when no other writer is at work) and reports the image and the layer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, cast

import trio

from ..errors import EngineError, InvalidArgument, NotFound, Unavailable
from ..images import reference
from ..images.store import ImageStore, LayerRef, chain_id
from . import sources
from .auth import scope_for
from .client import DOCKER_SCHEMA1, INDEX_TYPES, MANIFEST_TYPES, Manifest, Registry, Session
from .errors import RegistryDataError, Unauthorized
from .pipe import Pipe, ReaderGone, WriterFailed, blob_lock
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
class _Layer:
    index: int
    digest: str
    size: int
    media_type: str
    diff_id: str
    parent: str | None
    chain: str

    def ref(self) -> LayerRef:
        return LayerRef(self.digest, self.size, self.media_type, self.diff_id, self.chain)


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
                out.append(await self.pull_one(one, request.platform))
            return PullResult(out)
        return PullResult([await self.pull_one(ref, request.platform)])

    async def pull_one(self, ref: reference.Reference,
                       platform: Platform | None) -> PulledImage:
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
            return await self._pull_from(reg, ref, top, want, explicit=platform is not None)
        raise NotFound(f"{name}: not found")

    async def _manifest(self, reg: Registry, ref: reference.Reference) -> Manifest:
        scopes = (scope_for(ref.path, "pull"),)
        return await reg.get_manifest(ref.path, ref.digest or ref.tag or "latest",
                                      scopes=scopes)

    async def _pull_from(self, reg: Registry, ref: reference.Reference, top: Manifest,
                         want: Platform, *, explicit: bool) -> PulledImage:
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
            self.progress(ImageMessage(name, f"Digest: {top.digest}"))
            return PulledImage(name, previous[0], top.digest, manifest.digest, updated=False,
                               source=reg.label)
        cfg_desc = manifest.doc.get("config") or {}
        layers_desc = [d for d in manifest.doc.get("layers") or [] if isinstance(d, dict)]
        cfg_digest, cfg_size = str(cfg_desc.get("digest") or ""), int(cfg_desc.get("size") or 0)
        if not cfg_digest.startswith("sha256:") or not 0 < cfg_size <= MAX_CONFIG:
            raise RegistryDataError(f"{name}: the manifest's config descriptor is missing "
                                    "or unusable")
        cfg_bytes = await reg.blob_bytes(ref.path, cfg_digest, cfg_size, scopes=scopes,
                                         what=f"config {short(cfg_digest)} of {name}")
        try:
            cfg = json.loads(cfg_bytes)
            diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
        except (ValueError, AttributeError) as e:
            raise RegistryDataError(f"{name}: the image config is not valid JSON: {e}")
        got = platform_of(cfg)
        if got.os and got.architecture and not want.matches(got.os, got.architecture,
                                                            got.variant):
            raise NotFound(f"{name}: the image is for {got}, not {want}"
                           + ("" if explicit else f" (pull it anyway with --platform {got})"))
        if len(diff_ids) != len(layers_desc):
            raise RegistryDataError(f"{name}: the config lists {len(diff_ids)} layers, the "
                                    f"manifest {len(layers_desc)}")
        layers: list[_Layer] = []
        parent: str | None = None
        for i, (d, diff) in enumerate(zip(layers_desc, diff_ids, strict=True)):
            digest = str(d.get("digest") or "")
            if not digest.startswith("sha256:") or not str(diff).startswith("sha256:"):
                raise RegistryDataError(f"{name}: layer {i + 1} has no usable sha256 digest")
            chain = chain_id(parent, str(diff))
            layers.append(_Layer(i, digest, int(d.get("size") or 0), str(d.get("mediaType")
                                 or ""), str(diff), parent, chain))
            parent = chain
        return await self._store_image(reg, ref, top, manifest, cfg_bytes, layers)

    def _current(self, name: str) -> tuple[str, str] | None:
        """(image id, manifest digest) the name points to now, if any."""
        try:
            im = self.store.resolve(name)
        except (NotFound, EngineError):
            return None
        return im.id, im.manifest_digest

    async def _store_image(self, reg: Registry, ref: reference.Reference, top: Manifest,
                           manifest: Manifest, cfg_bytes: bytes,
                           layers: list[_Layer]) -> PulledImage:
        from ..images import versions

        name = str(ref)
        counts = {"fetched": 0, "existing": 0, "bytes": 0}
        done = False
        try:
            with self.store.writing():
                refs: list[LayerRef | None] = [None] * len(layers)

                async def one(ly: _Layer) -> None:
                    refs[ly.index] = await self._layer(reg, ref, ly, counts)

                async with trio.open_nursery() as nursery:
                    for ly in layers:
                        nursery.start_soon(one, ly)
                self.progress(ImageMessage(name, f"Digest: {top.digest}"))
                tags = [name] if ref.tag else [f"{ref.name}@{ref.digest}"]
                source = f"{reg.label}/{ref.path}@{top.digest}"
                with versions.recording(action="pull", source=source):
                    im = self.store.add_image(cfg_bytes, [r for r in refs if r is not None],
                                              tags, manifest=manifest.data,
                                              media_type=manifest.media_type)
            done = True
        finally:
            if not done:
                from ..images.gc import gc

                try:
                    gc(self.store, wait=False)  # what this pull added and no image names
                except OSError as e:
                    log.warning("clean-up after a failed pull: %s", e)
        sources.remember(self.store, reg.host, ref.path,
                         [ly.digest for ly in layers] + [manifest.doc["config"]["digest"]])
        return PulledImage(name, im.id, top.digest, manifest.digest, updated=True,
                           layers_fetched=counts["fetched"], layers_existing=counts["existing"],
                           bytes_fetched=counts["bytes"], source=reg.label)

    def _have(self, ly: _Layer) -> bool:
        return self.store.has_layer(ly.chain) and self.store.has_blob(ly.digest)

    async def _layer(self, reg: Registry, ref: reference.Reference, ly: _Layer,
                     counts: dict[str, int]) -> LayerRef:
        name = str(ref)
        sid = short(ly.digest)
        if self._have(ly):
            counts["existing"] += 1
            self.progress(LayerProgress(name, sid, "Already exists"))
            return ly.ref()
        self.progress(LayerProgress(name, sid, "Waiting"))
        async with blob_lock(self.store.tmp, ly.digest):
            if self._have(ly):  # another pull fetched it while we waited
                counts["existing"] += 1
                self.progress(LayerProgress(name, sid, "Already exists"))
                return ly.ref()
            what = f"layer {sid} of {ref.familiar()}"
            if self.store.has_blob(ly.digest):  # the blob, under another parent: unpack it
                self.progress(LayerProgress(name, sid, "Extracting", 0, ly.size))
                out = await trio.to_thread.run_sync(self._add_local, ly, what)
            else:
                out = await self._download(reg, ref, ly, what, counts)
        self.progress(LayerProgress(name, sid, "Pull complete", ly.size, ly.size))
        counts["fetched"] += 1
        return replace(out, media_type=ly.media_type or out.media_type)

    def _add_local(self, ly: _Layer, what: str) -> LayerRef:
        store = ImageStore(self.store.root)
        with open(store.blob_path(ly.digest), "rb") as f:
            return store.add_layer(f, ly.parent, expected_digest=ly.digest,
                                   expected_diff_id=ly.diff_id, what=what)

    async def _download(self, reg: Registry, ref: reference.Reference, ly: _Layer,
                        what: str, counts: dict[str, int]) -> LayerRef:
        """Stream the blob into the store's unpacker (in a thread) as it arrives."""
        name = str(ref)
        sid = short(ly.digest)
        pipe = Pipe()
        root = self.store.root
        result: list[LayerRef] = []
        failure: list[BaseException] = []

        def unpack() -> LayerRef:
            try:
                return ImageStore(root).add_layer(cast(BinaryIO, pipe), ly.parent,
                                                  expected_digest=ly.digest,
                                                  expected_diff_id=ly.diff_id, what=what)
            finally:
                pipe.reader_done()

        async def unpacker() -> None:
            try:
                result.append(await trio.to_thread.run_sync(unpack))
            except Exception as e:
                failure.append(e)

        got = 0
        reported = 0

        async def write(chunk: bytes) -> None:
            nonlocal got, reported
            await pipe.write(chunk)
            got += len(chunk)
            if got - reported >= _EVENT_STEP or got == ly.size:
                reported = got
                self.progress(LayerProgress(name, sid, "Downloading", got, ly.size))

        def retry(offset: int, e: Exception) -> None:
            self.progress(LayerProgress(name, sid, "Retrying", offset, ly.size))

        self.progress(LayerProgress(name, sid, "Pulling fs layer", 0, ly.size))
        download_error: BaseException | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(unpacker)
            try:
                # the limit is on downloads (docker's max-concurrent-downloads): the
                # next layer starts downloading while this one's unpacking finishes
                async with self.limiter:
                    await reg.fetch_blob(ref.path, ly.digest, ly.size, write,
                                         scopes=(scope_for(ref.path, "pull"),), what=what,
                                         on_retry=retry)
                pipe.close()
                self.progress(LayerProgress(name, sid, "Extracting", pipe.consumed, ly.size))
            except ReaderGone:
                pass  # the unpacker failed: its error is the one to tell
            except BaseException as e:
                pipe.fail()
                if not isinstance(e, Exception):
                    raise  # cancellation: the unpacker ends on the failed pipe
                download_error = e
        counts["bytes"] += got
        if download_error is not None:
            raise download_error
        if failure:
            if isinstance(failure[0], WriterFailed):  # the download's error won above
                raise EngineError(f"{what}: the download stopped")
            raise failure[0]
        return result[0]


"""Push: a tag of the store to a registry, sending only what the registry lacks.

For each blob (the layers, then the config): HEAD it first, and skip it when the
registry has it ("Layer already exists"); else, if this store knows another repository
of the same registry that holds it (sources.py), ask to mount it from there ("Mounted
from ..."): no bytes move; else upload it, in one PUT or in PATCH chunks. The
manifest goes last, as the store holds it (a pulled image keeps the registry's bytes,
so the digest is the same on both sides). The result counts what already existed and
the bytes sent, so that pushing version 2 of an image shows that only its new layer
went up.
"""

from __future__ import annotations

import functools
import logging
import os

import trio

from ..errors import InvalidArgument, NotFound
from ..images import reference
from ..images.layout import MEDIA_MANIFEST
from ..images.store import ImageStore
from . import sources
from .auth import scope_for
from .client import Registry, Session
from .errors import RegistryDataError
from .pull import short
from .types import ImageMessage, LayerProgress, Progress, PushedImage, PushRequest, PushResult

log = logging.getLogger(__name__)

_EVENT_STEP = 512 << 10


def _quiet(_: object) -> None:
    return None


class Pusher:
    def __init__(self, store: ImageStore, session: Session, *,
                 progress: Progress | None = None) -> None:
        self.store = store
        self.session = session
        self.progress: Progress = progress or _quiet
        self.limiter = trio.CapacityLimiter(session.config.max_concurrent_uploads)

    def _names(self, request: PushRequest) -> list[str]:
        ref = reference.parse(request.reference, default_tag=not request.all_tags)
        if request.all_tags:
            if ref.tag or ref.digest:
                raise InvalidArgument(f"{request.reference}: tag can't be used with "
                                      "--all-tags/-a")
            names = sorted(t for im in self.store.images() for t in im.repo_tags
                           if t.rsplit(":", 1)[0] == ref.name and "@" not in t)
            if not names:
                raise NotFound(f"An image does not exist locally with the repository name: "
                               f"{ref.familiar_name}")
            return names
        if ref.digest:
            raise InvalidArgument(f"{request.reference}: push a tag, not a digest")
        name = str(ref)
        try:
            im = self.store.resolve(name)
        except NotFound:
            im = None
        if im is None or name not in im.repo_tags:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar()}")
        return [name]

    async def push(self, request: PushRequest) -> PushResult:
        names = self._names(request)
        return PushResult([await self.push_one(n, request.chunk_size) for n in names])

    async def push_one(self, name: str, chunk_size: int) -> PushedImage:
        ref = reference.parse(name)
        im = self.store.resolve(name)
        reg = self.session.registry(ref.domain)
        repo = ref.path
        scopes = (scope_for(repo, "pull,push"),)
        self.progress(ImageMessage(name, f"The push refers to repository "
                                   f"[{ref.domain}/{ref.path}]"
                                   if ref.domain != reference.DEFAULT_DOMAIN else
                                   f"The push refers to repository [docker.io/{ref.path}]"))
        manifest = self.store.read_blob(im.manifest_digest)
        media = str(im.manifest.get("mediaType") or MEDIA_MANIFEST)
        cfg = im.manifest.get("config") or {}
        layers = [(str(d["digest"]), int(d.get("size") or 0))
                  for d in im.manifest.get("layers") or []]
        for ly in im.layers:
            if not self.store.has_layer_blob(ly):
                raise NotFound(f"layer {short(ly.digest)} of {ref.familiar()} has no blob in "
                               "the store to send (pull or load the image again)")
        what = f"{ref.familiar()}: layer"
        for ly in im.layers:  # a layer built here: its tar is made now (see layer_blob)
            if not self.store.has_blob(ly.digest):
                await trio.to_thread.run_sync(functools.partial(self.store.layer_blob, ly,
                                                                what=what))
        counts = {"existing": 0, "mounted": 0, "uploaded": 0, "bytes": 0}
        for digest, _ in reversed(layers):  # top first, as docker lists them
            self.progress(LayerProgress(name, short(digest), "Preparing"))
        async with trio.open_nursery() as nursery:
            seen: set[str] = set()
            for digest, _ in reversed(layers):
                if digest not in seen:
                    seen.add(digest)
                    nursery.start_soon(self._blob, reg, name, repo, digest, scopes,
                                       chunk_size, counts, True)
        config_sent = await self._blob(reg, name, repo, str(cfg.get("digest")), scopes,
                                       chunk_size, {"existing": 0, "mounted": 0,
                                                    "uploaded": 0, "bytes": 0}, False)
        tag = ref.tag or reference.DEFAULT_TAG
        digest = await reg.put_manifest(repo, tag, manifest, media, scopes=scopes)
        if digest != im.manifest_digest:
            raise RegistryDataError(f"{name}: the manifest sent has digest {digest}, the "
                                    f"store's is {im.manifest_digest}")
        self.progress(ImageMessage(name, f"{tag}: digest: {digest} size: {len(manifest)}"))
        sources.remember(self.store, reg.host, repo,
                         [d for d, _ in layers] + [str(cfg.get("digest"))])
        return PushedImage(name, digest, len(manifest), len(layers), counts["existing"],
                           counts["mounted"], counts["uploaded"], counts["bytes"], config_sent)

    async def _blob(self, reg: Registry, name: str, repo: str, digest: str,
                    scopes: tuple[str, ...], chunk_size: int, counts: dict[str, int],
                    show: bool) -> int:
        """Make sure the registry holds ``digest`` in ``repo``; return bytes sent."""
        sid = short(digest)

        def event(status: str, current: int = 0, total: int = 0) -> None:
            if show:
                self.progress(LayerProgress(name, sid, status, current, total))

        path = str(self.store.blob_path(digest))
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            raise NotFound(f"blob {sid} of {name} is missing from the store")
        async with self.limiter:
            if await reg.head_blob(repo, digest, scopes=scopes):
                counts["existing"] += 1
                event("Layer already exists")
                return 0
            location = ""
            for source in sources.repositories(self.store, reg.host, digest):
                if source == repo:
                    continue
                mounted, location = await reg.start_upload(
                    repo, scopes=(*scopes, scope_for(source, "pull")), mount=digest,
                    source=source)
                if mounted:
                    counts["mounted"] += 1
                    event(f"Mounted from {source}")
                    return 0
                break  # refused: the 202 opened an upload; use it
            if not location:
                _, location = await reg.start_upload(repo, scopes=scopes)
            sent = 0
            reported = 0

            def moved(n: int) -> None:
                nonlocal sent, reported
                sent += n
                if sent - reported >= _EVENT_STEP or sent == size:
                    reported = sent
                    event("Pushing", sent, size)

            await reg.upload(location, path, size, digest, scopes=scopes,
                             chunk_size=chunk_size, sent=moved,
                             what=f"upload of {'layer' if show else 'config'} {sid} "
                                  f"of {reference.parse(name).familiar()}")
            counts["uploaded"] += 1
            counts["bytes"] += size
            event("Pushed", size, size)
            return size


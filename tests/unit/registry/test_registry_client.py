"""The distribution client's rules, at httpx's transport seam: redirects never carry the
registry's Authorization to another host (nor from https to http); a blob download
that drops resumes with Range (and copes with a registry that ignores it); sizes and
digests are enforced; errors come back as the engine's kinds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pycompose.engine.errors import NotFound, Unavailable
from pycompose.engine.registry import client as C
from pycompose.engine.registry.client import Session
from pycompose.engine.registry.config import Credentials, DockerConfig, EngineConfig
from pycompose.engine.registry.errors import RegistryDataError

BLOB = bytes(range(256)) * 4096  # 1 MiB
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def _session(handler: Any, **cfg: Any) -> Session:
    s = Session(EngineConfig(**cfg), DockerConfig(path=Path("/nonexistent/config.json")),
                transport=httpx.MockTransport(handler))
    s.use_credentials("reg.test", Credentials("alice", "pw"))
    return s


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "RETRY_DELAYS", (0.0, 0.0, 0.0))


async def _fetch(s: Session, size: int = len(BLOB)) -> bytes:
    got: list[bytes] = []

    async def write(chunk: bytes) -> None:
        got.append(chunk)

    await s.registry("reg.test").fetch_blob("x/y", DIGEST, size, write, scopes=(),
                                            what="layer abc of x/y")
    return b"".join(got)


async def test_a_redirect_to_another_host_drops_authorization() -> None:
    seen: dict[str, httpx.Request] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request
        if request.url.host == "reg.test":
            if "authorization" not in request.headers:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return httpx.Response(307, headers={
                "Location": "https://cdn.test/blob?sig=1"})
        return _ok(BLOB)

    async with _session(handler) as s:
        assert await _fetch(s) == BLOB
    assert "authorization" in seen["reg.test"].headers
    assert "authorization" not in seen["cdn.test"].headers


async def test_a_redirect_from_https_to_http_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "reg.test":
            return httpx.Response(307, headers={"Location": "http://cdn.test/blob"})
        raise AssertionError("followed a downgrade")

    async with _session(handler) as s:
        with pytest.raises(Unavailable, match="refusing a redirect from https to plain"):
            await _fetch(s)


class _Body(httpx.AsyncByteStream):
    """A streamed body (httpx's ``content=`` is read up front, which no network is)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> Iterator[bytes]:  # type: ignore[override]
        for i in range(0, len(self.data), 65536):
            yield self.data[i:i + 65536]


def _ok(data: bytes, code: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(code, stream=_Body(data),
                          headers={"Content-Length": str(len(data)), **headers})


class _Broken(httpx.AsyncByteStream):
    """A body that stops after ``n`` bytes with a dropped connection."""

    def __init__(self, data: bytes, n: int) -> None:
        self.data, self.n = data, n

    async def __aiter__(self) -> Iterator[bytes]:  # type: ignore[override]
        yield self.data[: self.n]
        raise httpx.ReadError("connection reset by peer")


async def test_a_dropped_download_resumes_with_range() -> None:
    ranges: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        r = request.headers.get("range")
        ranges.append(r)
        if r is None:
            return httpx.Response(200, stream=_Broken(BLOB, 300_000),
                                  headers={"Content-Length": str(len(BLOB))})
        start = int(r.removeprefix("bytes=").rstrip("-"))
        return _ok(BLOB[start:], 206, **{
            "Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"})

    async with _session(handler) as s:
        assert await _fetch(s) == BLOB
    assert ranges == [None, "bytes=300000-"]


async def test_a_registry_that_ignores_range_is_skipped_ahead() -> None:
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        if calls[0] == 1:
            return httpx.Response(200, stream=_Broken(BLOB, 400_000))
        return _ok(BLOB)  # Range ignored: the whole body again

    async with _session(handler) as s:
        assert await _fetch(s) == BLOB


async def test_retries_run_out_with_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    async with _session(handler) as s:
        with pytest.raises(Unavailable, match=r"layer abc of x/y: the download failed 4 "
                                              r"times \(last at byte 0 of 1048576\)"):
            await _fetch(s)


async def test_more_or_fewer_bytes_than_the_manifest_says() -> None:
    async with _session(lambda r: _ok(BLOB + b"x")) as s:
        with pytest.raises(RegistryDataError, match="more than the 1048576 bytes"):
            await _fetch(s)
    async with _session(lambda r: _ok(BLOB[:1000])) as s:
        with pytest.raises(RegistryDataError, match="truncated: the registry sent 1000 of"):
            await _fetch(s)


async def test_manifest_digest_is_checked_and_errors_have_kinds() -> None:
    doc = {"schemaVersion": 2, "mediaType": C.OCI_MANIFEST, "config": {}, "layers": []}
    data = json.dumps(doc).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/missing"):
            return httpx.Response(404, json={"errors": [
                {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
        if request.url.path.endswith("/lying"):
            return httpx.Response(200, content=data, headers={
                "Docker-Content-Digest": "sha256:" + "0" * 64})
        return httpx.Response(200, content=data, headers={"Content-Type": C.OCI_MANIFEST})

    async with _session(handler) as s:
        reg = s.registry("reg.test")
        m = await reg.get_manifest("x/y", "1", scopes=())
        assert (m.digest, m.media_type, m.doc) == (digest, C.OCI_MANIFEST, doc)
        assert (await reg.get_manifest("x/y", digest, scopes=())).data == data
        with pytest.raises(RegistryDataError, match="digest mismatch: asked for"):
            await reg.get_manifest("x/y", "sha256:" + "1" * 64, scopes=())
        with pytest.raises(RegistryDataError, match="the registry says sha256:000"):
            await reg.get_manifest("x/y", "lying", scopes=())
        with pytest.raises(NotFound, match="manifest_unknown: manifest unknown"):
            await reg.get_manifest("x/y", "missing", scopes=())


async def test_loopback_tries_https_then_http_and_others_only_https() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.scheme == "https" and request.url.host == "127.0.0.1":
            raise httpx.ConnectError("wrong version number")
        return httpx.Response(200, json={})

    async with _session(handler) as s:
        await s.registry("127.0.0.1:5000").ping()
        await s.registry("reg.test").ping()
    assert seen == ["https://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/",
                    "https://reg.test/v2/"]


def test_mirrors_come_first_for_docker_hub_names_only() -> None:
    s = _session(lambda r: httpx.Response(200),
                 registry_mirrors=("http://127.0.0.1:5001", "https://mirror.test"))
    assert [r.label for r in s.endpoints("docker.io")] == [
        "http://127.0.0.1:5001", "https://mirror.test", "docker.io"]
    assert [r.host for r in s.endpoints("docker.io")][-1] == "registry-1.docker.io"
    assert [r.label for r in s.endpoints("quay.io")] == ["quay.io"]

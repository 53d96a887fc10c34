"""The distribution API (OCI distribution spec / Docker Registry HTTP API v2) on httpx,
async under trio (httpx runs on anyio).

One :class:`Session` per command: one connection pool with the system's CA store, and
per registry host a :class:`Registry` that knows its scheme (https; plain http only for
loopback or insecure-listed hosts, tried after https as docker does) and its
:class:`~.auth.Authenticator`.

What every request does: attach the cached authorization for its scopes; on a 401,
answer the challenge once and retry; follow redirects by hand, dropping Authorization
when the redirect leaves the registry's origin (blobs are often served from a CDN that
must never see the registry token); map failures onto the engine's error kinds, with
the registry's own error code and message.

Blob downloads are streamed into a sink with their size enforced; a dropped
connection resumes with ``Range: bytes=N-`` from where it stopped (a registry that
ignores Range restarts the body, and the bytes already held are skipped).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from ..errors import EngineError, InvalidArgument, NotFound, Unavailable
from .auth import Authenticator
from .config import (
    DOCKER_HUB,
    HUB_API_HOST,
    Credentials,
    DockerConfig,
    EngineConfig,
    hostname,
    is_loopback,
)
from .errors import RegistryDataError, Unauthorized

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])

#: Retries of a blob download after a dropped connection, and the pauses between them
#: (seconds). Progress made resets the count: a slow, flaky link still finishes.
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)
MAX_MANIFEST = 4 << 20  # the spec's advice: registries refuse larger manifests
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
_MAX_REDIRECTS = 10
USER_AGENT = "pycompose"


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as the registry sent it: the exact bytes (their sha256 is
    the digest), the media type, and the JSON."""

    data: bytes
    media_type: str
    digest: str
    doc: dict[str, Any]


def sha256_digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _system_tls() -> ssl.SSLContext:
    """The system's CA store (Debian's /etc/ssl/certs), as docker uses it; not certifi."""
    return ssl.create_default_context()


def _registry_error(r: httpx.Response) -> str:
    """The registry's own words: ``MANIFEST_UNKNOWN: manifest unknown``."""
    try:
        doc = r.json()
        errs = doc.get("errors") if isinstance(doc, dict) else None
        if isinstance(errs, list) and errs:
            parts = []
            for e in errs[:3]:
                if isinstance(e, dict):
                    code = str(e.get("code") or "")
                    msg = str(e.get("message") or "")
                    parts.append(f"{code.lower()}: {msg}" if code else msg)
            if parts:
                return "; ".join(parts)
    except (ValueError, AttributeError):
        pass
    return f"{r.status_code} {r.reason_phrase}".strip()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class Registry:
    """One registry host within a session."""

    def __init__(self, session: Session, host: str, *, label: str = "",
                 scheme: str | None = None, credentials_for: str = "") -> None:
        self.session = session
        self.host = host  # the netloc requests go to ("registry-1.docker.io")
        self.label = label or host  # what the user calls it ("docker.io", a mirror URL)
        self.insecure = session.config.is_insecure(host)
        self._scheme = scheme
        self._probe_lock = trio.Lock()
        self.auth = Authenticator(
            session, self.label, lambda: session.credentials(credentials_for or host),
            session.config.is_insecure)

    # ------------------------------------------------------------ plumbing

    @property
    def http(self) -> httpx.AsyncClient:
        return self.session.insecure_http if self.insecure else self.session.http

    async def base(self) -> str:
        """``https://host`` or ``http://host``: found once, with a ``/v2/`` probe when
        both are allowed (https first, as docker does)."""
        if self._scheme is None:
            async with self._probe_lock:
                if self._scheme is None:
                    self._scheme = await self._probe()
        return f"{self._scheme}://{self.host}"

    async def _probe(self) -> str:
        if not self.insecure:
            return "https"
        try:
            await self.http.get(f"https://{self.host}/v2/", timeout=httpx.Timeout(5.0))
            return "https"
        except httpx.TransportError as e:
            log.debug("%s: https probe failed (%s); using http", self.host, e)
            return "http"

    def _unreachable(self, e: Exception, what: str) -> Unavailable:
        detail = str(e) or type(e).__name__
        if "CERTIFICATE_VERIFY_FAILED" in detail:
            from .config import engine_config_path

            detail += (f" (trust its CA in the system store, or list {self.host} in "
                       f"insecure-registries in {engine_config_path()})")
        return Unavailable(f"{self.label}: cannot reach the registry ({what}): {detail}")

    async def send(self, method: str, path: str, *, scopes: tuple[str, ...] = (),
                   headers: dict[str, str] | None = None,
                   content: bytes | Callable[[], AsyncIterator[bytes]] | None = None,
                   params: dict[str, str] | None = None,
                   stream: bool = False, what: str = "") -> httpx.Response:
        """One API request with authorization, a retry on 401 and hand-followed
        redirects. ``content`` may be a factory of the body, so that a 401 can resend
        it. With ``stream`` the caller reads and closes the response."""
        base = await self.base()
        url = httpx.URL(path if "://" in path else base + path)
        if params:
            url = url.copy_merge_params(params)
        start_origin = _origin(url)
        auth = self.auth.header(scopes)
        for attempt in range(2):
            r = await self._follow(method, url, start_origin, auth, headers, content,
                                   stream, what)
            if r.status_code != 401:
                return r
            await r.aclose()
            if attempt:
                raise self.auth.refused(scopes)
            auth = await self.auth.authorize(r, scopes)
        raise AssertionError("unreachable")

    async def _follow(self, method: str, url: httpx.URL, start: tuple[str, str, int | None],
                      auth: str | None, headers: dict[str, str] | None,
                      content: bytes | Callable[[], AsyncIterator[bytes]] | None,
                      stream: bool, what: str) -> httpx.Response:
        for _ in range(_MAX_REDIRECTS):
            h = {"User-Agent": USER_AGENT, **(headers or {})}
            same = _origin(url) == start
            if auth and same:
                h["Authorization"] = auth
            body: Any = content() if callable(content) else content
            client = self.http if same else self.session.http_for(url)
            try:
                req = client.build_request(method, url, headers=h, content=body)
                r = await client.send(req, stream=True)
            except httpx.TransportError as e:
                raise self._unreachable(e, what or f"{method} {url.path}")
            if r.status_code in (301, 302, 303, 307, 308) and "location" in r.headers:
                await r.aclose()
                nxt = r.url.join(r.headers["location"])
                if url.scheme == "https" and nxt.scheme != "https":
                    raise Unavailable(f"{self.label}: refusing a redirect from https to "
                                      f"plain http ({nxt.host})")
                if r.status_code == 303:
                    method, content = "GET", None
                url = nxt
                continue
            if not stream:
                try:
                    await r.aread()
                except httpx.TransportError as e:
                    raise self._unreachable(e, what or f"{method} {url.path}")
                finally:
                    await r.aclose()
            return r
        raise Unavailable(f"{self.label}: too many redirects ({what or url.path})")

    def fail(self, r: httpx.Response, what: str) -> EngineError:
        """An error for an unexpected answer, by kind."""
        msg = f"{self.label}: {what}: {_registry_error(r)}"
        if r.status_code == 404:
            return NotFound(msg)
        if r.status_code in (401, 403):
            return Unauthorized(msg)
        if r.status_code in (429,) or r.status_code >= 500:
            return Unavailable(msg)
        if r.status_code in (400, 405, 413, 415, 416):
            return InvalidArgument(msg)
        return EngineError(msg)

    # ------------------------------------------------------------ the API

    async def ping(self) -> None:
        """``GET /v2/``: the registry speaks the API; 401 is fine (it wants auth)."""
        r = await self.send("GET", "/v2/", what="GET /v2/")
        if r.status_code != 200:
            raise self.fail(r, "GET /v2/")

    async def login(self) -> str:
        """Check the session's credentials against ``/v2/``, asking the token server
        for an offline (refresh) token as docker's login does; return it ("" if the
        server gave none)."""
        base = await self.base()
        r = await self.http.get(base + "/v2/", headers={"User-Agent": USER_AGENT})
        if r.status_code == 200:
            return ""
        if r.status_code != 401:
            raise self.fail(r, "GET /v2/")
        from .auth import parse_challenges

        chs = parse_challenges(r.headers.get("www-authenticate", ""))
        bearer = next((c for c in chs if c.scheme == "bearer"), None)
        if bearer is not None:
            self.auth.challenge = bearer
            await self.auth.fetch_token(bearer, (), offline=True)
            return self.auth.refresh_token
        auth = await self.auth.authorize(r, ())
        r2 = await self.http.get(base + "/v2/", headers={"User-Agent": USER_AGENT,
                                                         "Authorization": auth})
        if r2.status_code == 401:
            raise self.auth.refused(())
        if r2.status_code != 200:
            raise self.fail(r2, "GET /v2/")
        return ""

    async def get_manifest(self, repo: str, ref: str, *, scopes: tuple[str, ...],
                           expect_digest: str | None = None) -> Manifest:
        """A manifest or index by tag or digest, checked against the digest asked for
        (or the one the registry names in Docker-Content-Digest)."""
        what = f"manifest {repo}:{ref}" if not ref.startswith("sha256:") else \
            f"manifest {repo}@{ref}"
        r = await self.send("GET", f"/v2/{repo}/manifests/{ref}", scopes=scopes,
                            headers={"Accept": ACCEPT}, what=what)
        if r.status_code == 404:
            raise NotFound(f"{self.label}: {what}: not found ({_registry_error(r)})")
        if r.status_code != 200:
            raise self.fail(r, what)
        data = r.content
        if len(data) > MAX_MANIFEST:
            raise RegistryDataError(f"{self.label}: {what} is larger than 4 MiB: refused")
        digest = sha256_digest(data)
        want = expect_digest or (ref if ref.startswith("sha256:") else None)
        header = r.headers.get("docker-content-digest", "")
        if want and digest != want:
            raise RegistryDataError(f"{self.label}: {what}: digest mismatch: asked for "
                                    f"{want}, the registry sent {digest}")
        if header.startswith("sha256:") and header != digest and not want:
            raise RegistryDataError(f"{self.label}: {what}: digest mismatch: the registry "
                                    f"says {header}, its content is {digest}")
        try:
            import json

            doc = json.loads(data)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError as e:
            raise RegistryDataError(f"{self.label}: {what} is not a JSON manifest: {e}")
        ctype = r.headers.get("content-type", "").split(";")[0].strip()
        media = str(doc.get("mediaType") or ctype)
        if media in ("", "application/json") and doc.get("schemaVersion") == 2:
            media = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
        return Manifest(data, media, digest, doc)

    async def head_blob(self, repo: str, digest: str, *, scopes: tuple[str, ...]) -> bool:
        r = await self.send("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=scopes,
                            what=f"HEAD blob {digest[:19]}")
        if r.status_code == 200:
            return True
        if r.status_code == 404:
            return False
        raise self.fail(r, f"blob {digest}")

    async def blob_bytes(self, repo: str, digest: str, size: int, *,
                         scopes: tuple[str, ...], what: str) -> bytes:
        """A small blob (a config) in memory, verified."""
        parts: list[bytes] = []

        async def keep(chunk: bytes) -> None:
            parts.append(chunk)

        await self.fetch_blob(repo, digest, size, keep, scopes=scopes, what=what)
        data = b"".join(parts)
        if sha256_digest(data) != digest:
            raise RegistryDataError(f"{self.label}: {what}: digest mismatch: expected "
                                    f"{digest}, the data has {sha256_digest(data)}")
        return data

    async def fetch_blob(self, repo: str, digest: str, size: int,
                         write: Callable[[bytes], Awaitable[None]], *,
                         scopes: tuple[str, ...], what: str,
                         on_retry: Callable[[int, Exception], None] | None = None) -> None:
        """Stream blob ``digest`` (``size`` bytes, from the manifest) into ``write``,
        resuming with Range after a dropped connection. More bytes than ``size`` is an
        error at once; fewer, when the registry ends the body cleanly, is a truncated
        blob. The caller checks the digest (it hashes as it stores)."""
        offset = 0
        failures = 0
        while True:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                r = await self.send("GET", f"/v2/{repo}/blobs/{digest}", scopes=scopes,
                                    headers=headers, stream=True, what=what)
                try:
                    skip = 0
                    if r.status_code == 206 and offset:
                        start = _range_start(r.headers.get("content-range", ""))
                        if start is None or start > offset:
                            raise RegistryDataError(
                                f"{self.label}: {what}: the registry answered a resume at "
                                f"byte {offset} with {r.headers.get('content-range')!r}")
                        skip = offset - start
                    elif r.status_code == 200:
                        skip = offset  # Range ignored: the body starts again at 0
                    elif r.status_code == 416 and offset >= size:
                        return
                    else:
                        await r.aread()
                        if r.status_code == 404:
                            raise NotFound(f"{self.label}: {what}: blob unknown to the "
                                           f"registry ({_registry_error(r)})")
                        raise self.fail(r, what)
                    async for chunk in r.aiter_raw():
                        if skip:
                            if len(chunk) <= skip:
                                skip -= len(chunk)
                                continue
                            chunk, skip = chunk[skip:], 0
                        if offset + len(chunk) > size:
                            raise RegistryDataError(
                                f"{self.label}: {what}: the registry sent more than the "
                                f"{size} bytes the manifest says")
                        await write(chunk)
                        offset += len(chunk)
                        failures = 0
                finally:
                    await r.aclose()
                if offset < size:
                    raise RegistryDataError(f"{self.label}: {what}: truncated: the registry "
                                            f"sent {offset} of {size} bytes")
                return
            except (httpx.TransportError, Unavailable) as e:
                # a dropped or refused connection, a 5xx, a 429: wait and resume
                if failures >= len(RETRY_DELAYS):
                    raise Unavailable(
                        f"{self.label}: {what}: the download failed {failures + 1} times "
                        f"(last at byte {offset} of {size}): {_cause(e)}")
                if on_retry is not None:
                    on_retry(offset, e)
                log.info("%s: %s: retrying at byte %d after %s", self.label, what, offset, e)
                await trio.sleep(RETRY_DELAYS[failures])
                failures += 1

    async def tags(self, repo: str, *, scopes: tuple[str, ...]) -> list[str]:
        """Every tag of ``repo`` (following the Link header's pages)."""
        out: list[str] = []
        path = f"/v2/{repo}/tags/list?n=1000"
        while path:
            r = await self.send("GET", path, scopes=scopes, what=f"tags of {repo}")
            if r.status_code != 200:
                raise self.fail(r, f"tags of {repo}")
            out += [str(t) for t in (r.json().get("tags") or [])]
            link = r.headers.get("link", "")
            path = link.split(";")[0].strip().strip("<>") if 'rel="next"' in link else ""
        return out

    # ------------------------------------------------------------ uploads

    async def start_upload(self, repo: str, *, scopes: tuple[str, ...],
                           mount: str = "", source: str = "") -> tuple[bool, str]:
        """POST an upload; with ``mount``/``source`` ask to mount the blob from another
        repository. (True, "") if mounted; else (False, the upload's location)."""
        params = {"mount": mount, "from": source} if mount else None
        r = await self.send("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes,
                            params=params, headers={"Content-Length": "0"}, content=b"",
                            what=f"upload to {repo}")
        if r.status_code == 201 and mount:
            return True, ""
        if r.status_code != 202 or "location" not in r.headers:
            raise self.fail(r, f"start of an upload to {repo}")
        return False, str(r.url.join(r.headers["location"]))

    async def upload(self, location: str, path: str, size: int, digest: str, *,
                     scopes: tuple[str, ...], chunk_size: int,
                     sent: Callable[[int], None], what: str) -> None:
        """Send the file ``path`` to an upload: one PUT when it fits in ``chunk_size``,
        else PATCH chunks (Content-Range) and a closing PUT with the digest."""
        if size <= chunk_size:
            r = await self.send("PUT", location, scopes=scopes, params={"digest": digest},
                                headers={"Content-Type": "application/octet-stream",
                                         "Content-Length": str(size)},
                                content=_file_body(path, 0, size, sent), what=what)
            if r.status_code not in (201, 204):
                raise self.fail(r, what)
            return
        start = 0
        while start < size:
            n = min(chunk_size, size - start)
            r = await self.send(
                "PATCH", location, scopes=scopes,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(n),
                         "Content-Range": f"{start}-{start + n - 1}"},
                content=_file_body(path, start, n, sent), what=what)
            if r.status_code != 202 or "location" not in r.headers:
                raise self.fail(r, f"{what} (chunk at byte {start})")
            location = str(r.url.join(r.headers["location"]))
            start += n
        r = await self.send("PUT", location, scopes=scopes, params={"digest": digest},
                            headers={"Content-Length": "0"}, content=b"", what=what)
        if r.status_code not in (201, 204):
            raise self.fail(r, what)

    async def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str, *,
                           scopes: tuple[str, ...]) -> str:
        what = f"manifest {repo}:{ref}"
        r = await self.send("PUT", f"/v2/{repo}/manifests/{ref}", scopes=scopes,
                            headers={"Content-Type": media_type}, content=data, what=what)
        if r.status_code not in (200, 201, 202):
            raise self.fail(r, what)
        digest = sha256_digest(data)
        said = r.headers.get("docker-content-digest", "")
        if said and said != digest:
            raise RegistryDataError(f"{self.label}: {what}: the registry stored digest "
                                    f"{said}, the manifest sent has {digest}")
        return digest


def _range_start(content_range: str) -> int | None:
    """``bytes 100-199/200`` -> 100."""
    try:
        unit, _, rest = content_range.partition(" ")
        if unit.strip().lower() != "bytes":
            return None
        return int(rest.split("-", 1)[0])
    except ValueError:
        return None


def _cause(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text.split(": ", 1)[1] if text.count(": ") and "cannot reach" in text else text


def _file_body(path: str, start: int, n: int,
               sent: Callable[[int], None]) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        with open(path, "rb") as f:
            f.seek(start)
            left = n
            while left:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    raise RegistryDataError(f"{path} is shorter than its {start + n} bytes")
                left -= len(chunk)
                sent(len(chunk))
                yield chunk
                await trio.lowlevel.checkpoint()
    return body


#: Bytes asked of the socket per read of a response. httpcore's own is 64 KiB: a 73 MB
#: pull is then ~1,100 trips through trio, h11, httpcore and httpx per chunk, each
#: handing the blob writer a small piece; 1 MiB reads (what the socket holds, at most)
#: cut the pull's CPU by about a tenth (bench/registry_pull.py).
READ_SIZE = 1 << 20


def _tune_reads() -> None:
    """httpcore has no per-client setting for it: its HTTP/1.1 connection class reads
    ``READ_NUM_BYTES`` at a time, so that is raised (never lowered) for this process."""
    import httpcore

    conn: Any = httpcore.AsyncHTTP11Connection
    if int(getattr(conn, "READ_NUM_BYTES", 0)) < READ_SIZE:
        conn.READ_NUM_BYTES = READ_SIZE


class Session:
    """HTTP state for one command: connection pools and every registry it talks to."""

    def __init__(self, config: EngineConfig, docker: DockerConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        _tune_reads()
        self.config = config
        self.docker = docker
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        kw: dict[str, Any] = {"timeout": TIMEOUT, "limits": limits,
                              "follow_redirects": False, "trust_env": False}
        if transport is not None:
            kw["transport"] = transport
        self._kw = kw
        self._http: httpx.AsyncClient | None = None
        self._insecure: httpx.AsyncClient | None = None
        self._registries: dict[tuple[str, str | None], Registry] = {}
        self._creds: dict[str, Credentials] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        """The verifying client, made on first use (loading the CA store costs ~30 ms,
        which a pull from a loopback registry never needs)."""
        if self._http is None:
            self._http = httpx.AsyncClient(verify=_system_tls(), **self._kw)
        return self._http

    @property
    def insecure_http(self) -> httpx.AsyncClient:
        """The client for loopback and insecure-listed registries (TLS unverified)."""
        if self._insecure is None:
            self._insecure = httpx.AsyncClient(verify=False, **self._kw)
        return self._insecure

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for c in (self._http, self._insecure):
            if c is not None:
                await c.aclose()

    def http_for(self, url: httpx.URL) -> httpx.AsyncClient:
        host = url.netloc.decode()
        return self.insecure_http if self.config.is_insecure(host) else self.http

    def use_credentials(self, server: str, creds: Credentials) -> None:
        """Use ``creds`` for ``server`` in this session (login checks them so)."""
        self._creds[hostname(server)] = creds

    def credentials(self, server: str) -> Credentials:
        key = hostname(server)
        if key not in self._creds:
            self._creds[key] = self.docker.get(server)
        return self._creds[key]

    def registry(self, domain: str) -> Registry:
        """The registry a reference's domain names (``docker.io`` is Hub's API host)."""
        host = HUB_API_HOST if domain == DOCKER_HUB else domain
        return self._get(host, label=domain, credentials_for=domain)

    def mirror(self, url: str) -> Registry:
        u = httpx.URL(url)
        return self._get(u.netloc.decode(), label=url.rstrip("/"), scheme=u.scheme)

    def _get(self, host: str, *, label: str, scheme: str | None = None,
             credentials_for: str = "") -> Registry:
        key = (host, scheme)
        if key not in self._registries:
            if scheme == "http" and not (is_loopback(host) or self.config.is_insecure(host)):
                log.info("mirror %s is plain http: used as configured", label)
            self._registries[key] = Registry(self, host, label=label, scheme=scheme,
                                             credentials_for=credentials_for)
        return self._registries[key]

    def endpoints(self, domain: str) -> list[Registry]:
        """Where to pull a name of ``domain`` from: the mirrors first for Docker Hub."""
        out = [self.mirror(m) for m in self.config.registry_mirrors] \
            if domain == DOCKER_HUB else []
        return [*out, self.registry(domain)]

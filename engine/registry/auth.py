"""Registry authentication: anonymous, Basic, and the Bearer token flow.

The registry says what it wants in a 401's ``WWW-Authenticate``:

- ``Basic realm="..."``: send the user's credentials on every request;
- ``Bearer realm="https://auth/token",service="reg",scope="repository:x/y:pull"``: ask
  the realm for a token for that service and those scopes (with the user's credentials
  as Basic, or an identity token as an OAuth2 refresh token, or anonymously) and send
  it as ``Authorization: Bearer``. Tokens expire (``expires_in``, at least 60 s by the
  spec); an expired one is fetched again before use, and a 401 on a fresh one means
  the credentials lack the rights.

Tokens are kept per set of scopes: a push needs ``pull,push`` on its repository and
``pull`` on the one a blob is mounted from. Credentials are never sent over plain http
except to a loopback or an insecure-listed host, and the client never forwards an
Authorization header to another host on a redirect (client.py).
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..errors import Unavailable
from .config import Credentials
from .errors import Unauthorized

if TYPE_CHECKING:
    import httpx


class Session(Protocol):
    """What authentication needs of the client's session (``client.Session``): the
    HTTP client that may talk to a given URL (TLS, or plain http where allowed)."""

    def http_for(self, url: httpx.URL) -> httpx.AsyncClient: ...

log = logging.getLogger(__name__)

#: A token's life when the server does not say (the token spec's minimum).
DEFAULT_TOKEN_LIFE = 60.0
#: Fetch a new token this long (at most a tenth of its life) before the old one expires.
EXPIRY_MARGIN = 5.0

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header."""

    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(header: str) -> list[Challenge]:
    """``Bearer realm="r",service="s",scope="a b", Basic realm="x"`` -> challenges.

    Quoted values may hold commas and escaped quotes; a new challenge starts at a
    token that is not followed by ``=``.
    """
    out: list[Challenge] = []
    i = 0
    n = len(header)
    while i < n:
        m = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)").match(header, i)
        if not m:
            break
        scheme = m.group(1).lower()
        i = m.end()
        params: dict[str, str] = {}
        while i < n:
            pm = _PARAM.match(header, i)
            if not pm or pm.end() == i:
                break
            # "Basic realm=x, Bearer realm=y": a word without "=" begins a new one
            value = pm.group(2) if pm.group(2) is not None else pm.group(3) or ""
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            i = pm.end()
        out.append(Challenge(scheme, params))
    return out


@dataclass
class _Token:
    value: str
    expires: float


def scope_for(repository: str, actions: str) -> str:
    """``repository:library/busybox:pull``."""
    return f"repository:{repository}:{actions}"


class Authenticator:
    """The authorization of one registry host for one session (one pull or push).

    ``credentials`` is asked once, on the first challenge (a credential helper is a
    process: not on every request). ``plain_ok(host)`` says whether credentials may go
    to ``host`` over plain http."""

    def __init__(self, session: Session, registry: str,
                 credentials: Callable[[], Credentials],
                 plain_ok: Callable[[str], bool]) -> None:
        self._session = session
        self.registry = registry
        self._get_credentials = credentials
        self._credentials: Credentials | None = None
        self._plain_ok = plain_ok
        self.challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self.refresh_token = ""  # what a token server gave for offline_token=true

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = self._get_credentials()
        return self._credentials

    def header(self, scopes: tuple[str, ...]) -> str | None:
        """The Authorization value to send now for ``scopes``, if any is known."""
        ch = self.challenge
        if ch is None:
            return None
        if ch.scheme == "basic":
            return self._basic()
        if ch.scheme == "bearer":
            tok = self._tokens.get(scopes)
            if tok and tok.expires > time.monotonic():
                return f"Bearer {tok.value}"
        return None

    def _basic(self) -> str | None:
        c = self.credentials
        if not c.username and not c.password:
            return None
        raw = f"{c.username}:{c.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    async def authorize(self, response: httpx.Response, scopes: tuple[str, ...]) -> str:
        """After a 401: the Authorization to retry with (a fresh token, even if one was
        cached: it may have expired early or been revoked), or Unauthorized."""
        header = response.headers.get("www-authenticate", "")
        challenges = parse_challenges(header)
        ch = next((c for c in challenges if c.scheme == "bearer"), None) or \
            next((c for c in challenges if c.scheme == "basic"), None)
        if ch is None:
            raise Unauthorized(f"{self.registry}: the registry refused the request (401) "
                               f"with no challenge pycompose knows ({header or 'none'!r})")
        self.challenge = ch
        if ch.scheme == "basic":
            auth = self._basic()
            if auth is None:
                raise Unauthorized(self._needs_login())
            return auth
        self._tokens.pop(scopes, None)
        tok = await self.fetch_token(ch, scopes)
        self._tokens[scopes] = tok
        return f"Bearer {tok.value}"

    def refused(self, scopes: tuple[str, ...]) -> Unauthorized:
        """The error for a 401 that came back on fresh authorization."""
        ch = self.challenge
        if ch is not None and ch.scheme == "basic":
            return Unauthorized(self._rejected())
        self._tokens.pop(scopes, None)
        return Unauthorized(self._denied(scopes))

    def _needs_login(self) -> str:
        return (f"{self.registry}: authentication required (pycompose login "
                f"{self.registry})")

    def _rejected(self) -> str:
        return (f"{self.registry}: unauthorized: incorrect username or password "
                f"(pycompose login {self.registry})")

    def _denied(self, scopes: tuple[str, ...]) -> str:
        what = ", ".join(scopes) or "this request"
        if self.credentials.empty:
            return (f"{self.registry}: access to {what} requires a login (pycompose "
                    f"login {self.registry}), or the repository does not exist")
        return (f"{self.registry}: access to {what} denied for user "
                f"{self.credentials.username or '<token>'!r}, or the repository does not "
                "exist")

    async def fetch_token(self, ch: Challenge, scopes: tuple[str, ...], *,
                          offline: bool = False) -> _Token:
        """Ask the challenge's realm for a token (the distribution token spec)."""
        import httpx

        realm = ch.realm
        if not realm.startswith(("https://", "http://")):
            raise Unauthorized(f"{self.registry}: the registry's token realm {realm!r} "
                               "is not an http(s) URL")
        realm_host = httpx.URL(realm).netloc.decode()
        creds = self.credentials
        if realm.startswith("http://") and not creds.empty and not self._plain_ok(realm_host):
            raise Unauthorized(f"{self.registry}: refusing to send credentials to the "
                               f"token server {realm} over plain http")
        http = self._session.http_for(httpx.URL(realm))
        service = ch.params.get("service", "")
        wanted = list(scopes) or [s for s in ch.params.get("scope", "").split(" ") if s]
        try:
            if creds.identity_token:
                form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                        "service": service, "client_id": "pycompose",
                        "scope": " ".join(wanted)}
                r = await http.post(realm, data=form)
            else:
                params: list[tuple[str, str | int | float | bool | None]] = []
                if service:
                    params.append(("service", service))
                params += [("scope", s) for s in wanted]
                headers = {}
                if not creds.empty:
                    params.append(("account", creds.username))
                    raw = f"{creds.username}:{creds.password}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
                    if offline:
                        params += [("offline_token", "true"), ("client_id", "pycompose")]
                r = await http.get(realm, params=params, headers=headers)
        except httpx.TransportError as e:
            raise Unavailable(f"{self.registry}: cannot reach the token server {realm}: "
                              f"{e or type(e).__name__}")
        if r.status_code in (401, 403):
            if creds.empty:
                raise Unauthorized(self._needs_login())
            raise Unauthorized(self._rejected())
        if r.status_code != 200:
            raise Unauthorized(f"{self.registry}: the token server {realm} answered "
                               f"{r.status_code} {r.reason_phrase}")
        try:
            doc = r.json()
            value = str(doc.get("token") or doc.get("access_token") or "")
            life = float(doc.get("expires_in") or DEFAULT_TOKEN_LIFE)
        except (ValueError, AttributeError, TypeError):
            raise Unauthorized(f"{self.registry}: the token server {realm} did not answer "
                               "with a token (JSON with 'token' or 'access_token')")
        if not value:
            raise Unauthorized(f"{self.registry}: the token server {realm} sent no token")
        if doc.get("refresh_token"):
            self.refresh_token = str(doc["refresh_token"])
        return _Token(value, time.monotonic() + life - min(EXPIRY_MARGIN, life / 10))

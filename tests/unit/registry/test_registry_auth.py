"""Challenges and tokens, against a fake registry and token server at httpx's transport
seam (the client's own HTTP code runs; only the network is replaced)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.registry import auth as A
from pycompose.engine.registry.client import Session
from pycompose.engine.registry.config import Credentials, DockerConfig, EngineConfig
from pycompose.engine.registry.errors import Unauthorized


def test_parse_bearer_and_basic_challenges() -> None:
    chs = A.parse_challenges('Bearer realm="https://auth.example/token",service="reg.io",'
                             'scope="repository:a/b:pull repository:c:pull,push"')
    assert chs == [A.Challenge("bearer", {
        "realm": "https://auth.example/token", "service": "reg.io",
        "scope": "repository:a/b:pull repository:c:pull,push"})]
    chs = A.parse_challenges('Basic realm="Registry Realm", Bearer realm=x,service="a,b"')
    assert [c.scheme for c in chs] == ["basic", "bearer"]
    assert chs[1].params == {"realm": "x", "service": "a,b"}
    assert A.parse_challenges('Bearer realm="say \\"hi\\""')[0].realm == 'say "hi"'
    assert A.parse_challenges("") == []


@given(st.dictionaries(st.sampled_from(["realm", "service", "scope", "error"]),
                       st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                               max_size=30), min_size=1))
def test_parse_round_trips_quoted_values(params: dict[str, str]) -> None:
    header = "Bearer " + ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items())
    assert A.parse_challenges(header) == [A.Challenge("bearer", params)]


class FakeRegistry:
    """/v2/ wants a Bearer token from /token; tokens live ``life`` seconds."""

    def __init__(self, life: int = 300, users: dict[str, str] | None = None) -> None:
        self.life = life
        self.users = users or {"alice": "pw"}
        self.tokens: dict[str, str] = {}
        self.token_requests: list[httpx.Request] = []
        self.n = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            self.token_requests.append(request)
            user = ""
            header = request.headers.get("authorization", "")
            if header.startswith("Basic "):
                u, _, p = base64.b64decode(header[6:]).decode().partition(":")
                if self.users.get(u) != p:
                    return httpx.Response(401, json={"details": "bad"})
                user = u
            self.n += 1
            tok = f"tok{self.n}"
            self.tokens[tok] = user
            return httpx.Response(200, json={"token": tok, "expires_in": self.life})
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.tokens:
            return httpx.Response(200, json={})
        return httpx.Response(401, headers={"WWW-Authenticate": (
            'Bearer realm="https://auth.test/token",service="reg.test",'
            'scope="repository:x/y:pull"')}, json={"errors": [{"code": "UNAUTHORIZED"}]})


def _session(fake: Any, creds: Credentials | None = None) -> Session:
    s = Session(EngineConfig(), DockerConfig(path=Path("/nonexistent/config.json")),
                transport=httpx.MockTransport(fake))
    if creds is not None:
        s.use_credentials("reg.test", creds)
    return s


async def test_bearer_flow_caches_the_token_per_scope() -> None:
    fake = FakeRegistry()
    async with _session(fake, Credentials("alice", "pw")) as s:
        reg = s.registry("reg.test")
        scopes = (A.scope_for("x/y", "pull"),)
        for _ in range(3):
            r = await reg.send("GET", "/v2/x/y/tags/list", scopes=scopes)
            assert r.status_code == 200
        assert len(fake.token_requests) == 1
        q = fake.token_requests[0].url.params
        assert q.get_list("scope") == ["repository:x/y:pull"]
        assert q["service"] == "reg.test" and q["account"] == "alice"
        await reg.send("GET", "/v2/x/y/tags/list", scopes=(A.scope_for("x/y", "pull,push"),))
        assert len(fake.token_requests) == 2  # another scope set: another token


async def test_an_expired_token_is_fetched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRegistry(life=60)
    now = [1000.0]
    monkeypatch.setattr(A.time, "monotonic", lambda: now[0])
    async with _session(fake) as s:
        reg = s.registry("reg.test")
        scopes = (A.scope_for("x/y", "pull"),)
        await reg.send("GET", "/v2/", scopes=scopes)
        now[0] += 50
        await reg.send("GET", "/v2/", scopes=scopes)
        assert len(fake.token_requests) == 1
        now[0] += 10  # past its life less the margin: asked for again before use
        await reg.send("GET", "/v2/", scopes=scopes)
        assert len(fake.token_requests) == 2


async def test_a_revoked_token_is_replaced_once_then_refused() -> None:
    fake = FakeRegistry()
    async with _session(fake) as s:
        reg = s.registry("reg.test")
        scopes = (A.scope_for("x/y", "pull"),)
        await reg.send("GET", "/v2/", scopes=scopes)
        fake.tokens.clear()  # the registry forgot every token: one refetch mends it
        assert (await reg.send("GET", "/v2/", scopes=scopes)).status_code == 200
        assert len(fake.token_requests) == 2

        def deny(request: httpx.Request) -> httpx.Response:
            if request.url.host == "auth.test":
                return fake(request)
            return httpx.Response(401, headers={"WWW-Authenticate":
                                                'Bearer realm="https://auth.test/token"'})

        s2 = _session(deny)
        async with s2:
            with pytest.raises(Unauthorized, match="requires a login"):
                await s2.registry("reg.test").send("GET", "/v2/", scopes=scopes)


async def test_wrong_credentials_at_the_token_server() -> None:
    async with _session(FakeRegistry(), Credentials("alice", "nope")) as s:
        with pytest.raises(Unauthorized, match="incorrect username or password"):
            await s.registry("reg.test").send("GET", "/v2/")


async def test_identity_token_is_an_oauth2_refresh_grant() -> None:
    seen: list[dict[str, list[str]]] = []

    def fake(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            from urllib.parse import parse_qs

            assert request.method == "POST"
            seen.append(parse_qs(request.content.decode()))
            return httpx.Response(200, json={"access_token": "at", "expires_in": 300})
        if request.headers.get("authorization") == "Bearer at":
            return httpx.Response(200, json={})
        return httpx.Response(401, headers={"WWW-Authenticate":
                                            'Bearer realm="https://auth.test/t",service=s'})

    async with _session(fake, Credentials(identity_token="rt-1")) as s:
        r = await s.registry("reg.test").send("GET", "/v2/", scopes=("repository:a:pull",))
        assert r.status_code == 200
    assert seen[0]["grant_type"] == ["refresh_token"] and seen[0]["refresh_token"] == ["rt-1"]
    assert seen[0]["scope"] == ["repository:a:pull"]


async def test_basic_challenge_sends_the_password_and_says_when_it_is_wrong() -> None:
    def fake(request: httpx.Request) -> httpx.Response:
        good = "Basic " + base64.b64encode(b"alice:pw").decode()
        if request.headers.get("authorization") == good:
            return httpx.Response(200, json={})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    async with _session(fake, Credentials("alice", "pw")) as s:
        assert (await s.registry("reg.test").send("GET", "/v2/")).status_code == 200
    async with _session(fake, Credentials("alice", "bad")) as s:
        with pytest.raises(Unauthorized, match="incorrect username or password"):
            await s.registry("reg.test").send("GET", "/v2/")
    async with _session(fake) as s:
        with pytest.raises(Unauthorized, match="authentication required"):
            await s.registry("reg.test").send("GET", "/v2/")


async def test_credentials_never_go_to_a_plain_http_token_realm() -> None:
    def fake(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request should be made: {request.url}")

    async with _session(fake, Credentials("alice", "pw")) as s:
        a = s.registry("reg.test").auth
        with pytest.raises(Unauthorized, match="over plain http"):
            await a.fetch_token(A.Challenge("bearer", {"realm": "http://evil.test/t"}), ())

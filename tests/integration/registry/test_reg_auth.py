"""Logging in, as docker does it: htpasswd Basic auth and the Bearer token flow against
a real registry, credentials in docker's config.json (0600) or a credential helper,
logout; and the messages a user sees when a login is missing or wrong."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from pctest.cli import run
from pctest.registry import USERS, RegistryServer, TokenServer, ok

from pycompose.engine.images import ImageStore


def _config() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def test_basic_auth_login_push_pull_logout(busybox: Path, basic_registry: RegistryServer,
                                           tmp_path: Path) -> None:
    host = basic_registry.host
    name = f"{host}/team/app:1"
    ok(["image", "tag", "busybox", name])
    r = run(["image", "push", name])
    assert (r.returncode, r.stderr) == (
        1, f"error: {host}: authentication required (pycompose login {host})\n")

    r = run(["login", "-u", "alice", "--password-stdin", host], input="wrong\n")
    assert r.returncode == 1 and "incorrect username or password" in r.stderr
    assert not _config().exists()

    r = run(["login", "-u", "alice", "--password-stdin", host], input=USERS["alice"] + "\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Login Succeeded\n"
    assert stat.S_IMODE(_config().stat().st_mode) == 0o600
    doc = json.loads(_config().read_text())
    assert base64.b64decode(doc["auths"][host]["auth"]).decode() == f"alice:{USERS['alice']}"

    ok(["image", "push", name])
    clean = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    ok(["image", "pull", name], env=clean)

    out = ok(["logout", host])
    assert out == f"Removing login credentials for {host}\n"
    assert host not in json.loads(_config().read_text()).get("auths", {})
    assert ok(["logout", host]) == f"Not logged in to {host}\n"
    r = run(["image", "pull", name], env={"PYCOMPOSE_ROOT": str(tmp_path / "clean2")})
    assert r.returncode == 1 and "authentication required" in r.stderr


def test_login_refuses_what_it_cannot_ask(basic_registry: RegistryServer) -> None:
    r = run(["login", basic_registry.host], input="")
    assert (r.returncode, r.stderr) == (
        1, "error: Cannot perform an interactive login from a non TTY device\n")
    r = run(["login", "--password-stdin", basic_registry.host], input="x\n")
    assert r.returncode == 1 and "--username" in r.stderr
    r = run(["login", "-u", "alice", "-p", USERS["alice"], basic_registry.host])
    assert r.returncode == 0
    assert "WARNING! Using --password via the CLI is insecure" in r.stderr


def test_token_flow_anonymous_pull_and_login_with_a_refresh_token(
        busybox: Path, token_registry: RegistryServer, token_server: TokenServer,
        tmp_path: Path) -> None:
    host = token_registry.host
    public, private = f"{host}/public/bb:1", f"{host}/team/bb:1"
    for n in (public, private):
        ok(["image", "tag", "busybox", n])
    r = run(["image", "push", private])
    assert r.returncode == 1
    assert r.stderr == (f"error: {host}: access to repository:team/bb:pull,push requires a "
                        f"login (pycompose login {host}), or the repository does not exist\n")

    r = run(["login", "-u", "alice", "--password-stdin", host], input="nope\n")
    assert r.returncode == 1 and "incorrect username or password" in r.stderr
    r = run(["login", "-u", "alice", "--password-stdin", host], input=USERS["alice"])
    assert r.returncode == 0, r.stderr
    entry = json.loads(_config().read_text())["auths"][host]
    # the token server gave a refresh token: that is kept, not the password
    assert entry["identitytoken"].startswith("refresh-")
    assert USERS["alice"] not in base64.b64decode(entry["auth"]).decode()

    ok(["image", "push", public])
    ok(["image", "push", private])
    posts = [s for s in token_server.seen if s["method"] == "POST"]
    assert posts and posts[-1]["form"]["grant_type"] == ["refresh_token"]
    assert "repository:team/bb:pull,push" in posts[-1]["form"]["scope"][0]

    ok(["logout", host])
    clean = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    out = ok(["image", "pull", public], env=clean)  # anonymous: the token server allows it
    assert out.splitlines()[-1] == public
    anon = [s for s in token_server.seen if s["method"] == "GET" and s["user"] is None]
    assert anon and anon[-1]["query"]["scope"] == ["repository:public/bb:pull"]
    assert anon[-1]["query"]["service"] == ["test-registry"]
    r = run(["image", "pull", private], env={"PYCOMPOSE_ROOT": str(tmp_path / "clean2")})
    assert r.returncode == 1 and "requires a login" in r.stderr
    assert ImageStore(tmp_path / "clean").resolve(public).id == \
        ImageStore(busybox).resolve(public).id


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A docker-credential-pctest helper on PATH that keeps secrets in a JSON file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    script = bindir / "docker-credential-pctest"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
path = {str(store)!r}
try:
    db = json.load(open(path))
except FileNotFoundError:
    db = {{}}
action = sys.argv[1]
data = sys.stdin.read()
if action == "store":
    c = json.loads(data); db[c["ServerURL"]] = [c["Username"], c["Secret"]]
    json.dump(db, open(path, "w"))
elif action == "get":
    key = data.strip()
    if key not in db:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps({{"ServerURL": key, "Username": db[key][0], "Secret": db[key][1]}}))
elif action == "erase":
    key = data.strip()
    if key not in db:
        print("credentials not found in native keychain"); sys.exit(1)
    del db[key]; json.dump(db, open(path, "w"))
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return store


def test_a_credential_helper_holds_the_secret(busybox: Path, basic_registry: RegistryServer,
                                              helper: Path, tmp_path: Path) -> None:
    host = basic_registry.host
    _config().parent.mkdir(parents=True)
    _config().write_text(json.dumps({"credsStore": "pctest", "detachKeys": "ctrl-x"}))
    r = run(["login", "-u", "bob", "--password-stdin", host], input=USERS["bob"])
    assert r.returncode == 0, r.stderr
    assert "stored unencrypted" not in r.stderr
    doc = json.loads(_config().read_text())
    assert doc["auths"] == {host: {}} and doc["detachKeys"] == "ctrl-x"
    assert json.loads(helper.read_text()) == {host: ["bob", USERS["bob"]]}
    name = f"{host}/team/app:1"
    ok(["image", "tag", "busybox", name])
    ok(["image", "push", name])
    ok(["logout", host])
    assert json.loads(helper.read_text()) == {}

    # credHelpers names a helper per registry, over credsStore
    _config().write_text(json.dumps({"credsStore": "missing-one",
                                     "credHelpers": {host: "pctest"}}))
    helper.write_text(json.dumps({host: ["alice", USERS["alice"]]}))
    ok(["image", "pull", name], env={"PYCOMPOSE_ROOT": str(tmp_path / "clean")})
    _config().write_text(json.dumps({"credsStore": "missing-one"}))
    r = run(["image", "pull", name], env={"PYCOMPOSE_ROOT": str(tmp_path / "clean2")})
    assert r.returncode == 1
    assert "docker-credential-missing-one is not on PATH" in r.stderr

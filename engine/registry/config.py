"""Where registry settings and credentials live, read and written as docker does.

Two files:

- docker's client config, ``$DOCKER_CONFIG/config.json`` (default
  ``~/.docker/config.json``): ``auths`` (``{"SERVER": {"auth": base64("user:pass")}}``,
  or ``identitytoken``), ``credsStore`` (one ``docker-credential-NAME`` helper for every
  server) and ``credHelpers`` (a helper per server). ``login`` writes it as docker's CLI
  does (0600, atomically), so either tool sees the other's logins.
- pycompose's engine config, ``$PYCOMPOSE_CONFIG`` (default
  ``/etc/pycompose/config.json``), with daemon.json's keys: ``registry-mirrors``
  (tried first for Docker Hub names), ``insecure-registries`` (``host[:port]`` or a
  CIDR: plain http allowed), ``max-concurrent-downloads``/``-uploads``.

Server keys are normalised as docker's ``ConvertToHostname``: the scheme and path go,
and every Docker Hub spelling is the legacy ``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycompose.util.fs import atomic_write

from ..errors import InvalidArgument, NotFound, Unavailable

log = logging.getLogger(__name__)

DOCKER_HUB = "docker.io"
HUB_CONFIG_KEY = "https://index.docker.io/v1/"
HUB_API_HOST = "registry-1.docker.io"
DEFAULT_ENGINE_CONFIG = "/etc/pycompose/config.json"
_HUB_NAMES = {"docker.io", "index.docker.io", "registry-1.docker.io",
              "registry.hub.docker.com"}


# ---------------------------------------------------------------- server names

def hostname(server: str) -> str:
    """``https://host:5000/v2/`` -> ``host:5000``; every Hub spelling -> ``docker.io``."""
    s = server.strip()
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    s = s.split("/", 1)[0]
    return DOCKER_HUB if s in _HUB_NAMES else s


def config_key(server: str) -> str:
    """The key docker's CLI files a server's credentials under."""
    host = hostname(server) if server else DOCKER_HUB
    return HUB_CONFIG_KEY if host == DOCKER_HUB else host


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``[::1]``, with or without a port."""
    name = host
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- pycompose's config

@dataclass(frozen=True)
class EngineConfig:
    """The registry part of ``$PYCOMPOSE_CONFIG`` (daemon.json's keys)."""

    path: str = ""
    registry_mirrors: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5

    def is_insecure(self, host: str) -> bool:
        """Plain http (and unverified TLS) is allowed for loopback registries and those
        listed in ``insecure-registries`` (by ``host[:port]`` or by a CIDR holding the
        host's address), as docker allows."""
        if is_loopback(host):
            return True
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host.strip("[]")
        for entry in self.insecure_registries:
            e = hostname(entry)
            if e in (host, bare):
                return True
            if "/" in entry:
                try:
                    if ipaddress.ip_address(bare) in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False


def engine_config_path() -> Path:
    return Path(os.environ.get("PYCOMPOSE_CONFIG") or DEFAULT_ENGINE_CONFIG)


def load_engine_config(path: Path | None = None) -> EngineConfig:
    """Read pycompose's config file; a missing file is the defaults, a bad one an
    error naming the file and the key."""
    path = path or engine_config_path()
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return EngineConfig(path=str(path))
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"{path}: cannot read the engine config: {e}")
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: the engine config must be a JSON object")

    def strings(key: str) -> tuple[str, ...]:
        v = doc.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise InvalidArgument(f"{path}: {key!r} must be a list of strings")
        return tuple(v)

    def count(key: str, default: int) -> int:
        v = doc.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise InvalidArgument(f"{path}: {key!r} must be a positive integer")
        return v

    mirrors = strings("registry-mirrors")
    for m in mirrors:
        if not m.startswith(("http://", "https://")):
            raise InvalidArgument(f"{path}: registry-mirrors: {m!r} must be a URL "
                                  "(http://HOST[:PORT] or https://HOST[:PORT])")
    return EngineConfig(str(path), mirrors, strings("insecure-registries"),
                        count("max-concurrent-downloads", 3),
                        count("max-concurrent-uploads", 5))


# ---------------------------------------------------------------- credentials

@dataclass(frozen=True)
class Credentials:
    """A user and password, or an identity token (docker's ``<token>`` user) that the
    token server takes as an OAuth2 refresh token."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)


@dataclass
class DockerConfig:
    """docker's client config.json: only the keys pycompose uses are typed; the rest is
    kept as it was and written back untouched."""

    path: Path
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def auths(self) -> dict[str, Any]:
        auths = self.doc.setdefault("auths", {})
        if not isinstance(auths, dict):
            raise InvalidArgument(f"{self.path}: 'auths' must be an object")
        return auths

    def helper_for(self, server: str) -> str:
        """The credential helper's name for ``server`` ("" for the file itself)."""
        helpers = self.doc.get("credHelpers") or {}
        key = config_key(server)
        host = hostname(server)
        for k in (key, host):
            if isinstance(helpers, dict) and isinstance(helpers.get(k), str):
                return str(helpers[k])
        store = self.doc.get("credsStore")
        return store if isinstance(store, str) else ""

    def _entry(self, server: str) -> dict[str, Any] | None:
        key = config_key(server)
        want = hostname(server)
        for k, v in self.auths.items():
            if (k == key or hostname(k) == want) and isinstance(v, dict):
                return v
        return None

    def get(self, server: str) -> Credentials:
        """The credentials stored for ``server``, empty if there are none."""
        helper = self.helper_for(server)
        if helper:
            return helper_get(helper, config_key(server))
        entry = self._entry(server)
        if not entry:
            return Credentials()
        token = str(entry.get("identitytoken") or "")
        auth = entry.get("auth")
        if isinstance(auth, str) and auth:
            try:
                user, _, password = base64.b64decode(auth).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument(f"{self.path}: auths[{config_key(server)!r}].auth "
                                      "is not base64 of USER:PASSWORD")
            return Credentials(user, password, token)
        return Credentials(str(entry.get("username") or ""),
                           str(entry.get("password") or ""), token)

    def store(self, server: str, creds: Credentials) -> str:
        """Keep ``creds`` for ``server`` as docker's CLI does; return where."""
        key = config_key(server)
        helper = self.helper_for(server)
        if helper:
            secret = creds.identity_token or creds.password
            user = "<token>" if creds.identity_token else creds.username
            helper_run(helper, "store", json.dumps(
                {"ServerURL": key, "Username": user, "Secret": secret}))
            self.auths[key] = {}  # docker leaves an empty entry: "logged in, elsewhere"
            self.save()
            return f"docker-credential-{helper}"
        entry: dict[str, Any] = {}
        if creds.identity_token:
            entry["identitytoken"] = creds.identity_token
            entry["auth"] = base64.b64encode(f"{creds.username}:".encode()).decode()
        else:
            entry["auth"] = base64.b64encode(
                f"{creds.username}:{creds.password}".encode()).decode()
        # drop other spellings of the same server so one login wins
        for k in [k for k in self.auths if hostname(k) == hostname(key)]:
            del self.auths[k]
        self.auths[key] = entry
        self.save()
        return str(self.path)

    def erase(self, server: str) -> bool:
        """Forget ``server``'s credentials; False if there were none."""
        key = config_key(server)
        found = False
        for k in [k for k in self.auths if hostname(k) == hostname(key)]:
            del self.auths[k]
            found = True
        helper = self.helper_for(server)
        if helper:
            try:
                helper_run(helper, "erase", key)
                found = True
            except NotFound:
                pass
        if found:
            self.save()
        return found

    def save(self) -> None:
        """Write atomically, 0600: the file holds passwords."""
        data = (json.dumps(self.doc, indent="\t") + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, data, mode=0o600)


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path(os.path.expanduser("~")) / ".docker" / "config.json"


def load_docker_config(path: Path | None = None) -> DockerConfig:
    path = path or docker_config_path()
    try:
        doc = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return DockerConfig(path)
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"{path}: cannot read docker's config: {e}")
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: docker's config must be a JSON object")
    return DockerConfig(path, doc)


# ---------------------------------------------------------------- credential helpers

_NOT_FOUND = "credentials not found in native keychain"


def helper_run(helper: str, action: str, stdin: str) -> str:
    """Run ``docker-credential-HELPER ACTION`` with ``stdin``; its stdout. A missing
    entry is NotFound; a missing or failing helper is Unavailable, naming it."""
    prog = f"docker-credential-{helper}"
    exe = shutil.which(prog)
    if exe is None:
        raise Unavailable(f"{prog} is not on PATH (docker's config names it as the "
                          f"credential helper; install it or remove it from "
                          f"{docker_config_path()})")
    try:
        r = subprocess.run([exe, action], input=stdin, capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"{prog} {action}: {e}")
    if r.returncode != 0:
        out = (r.stdout.strip() or r.stderr.strip())
        if _NOT_FOUND in out.lower():
            raise NotFound(f"{prog}: no credentials for {stdin.strip()}")
        raise Unavailable(f"{prog} {action} failed: {out or f'exit status {r.returncode}'}")
    return r.stdout


def helper_get(helper: str, server: str) -> Credentials:
    try:
        out = helper_run(helper, "get", server)
    except NotFound:
        return Credentials()
    try:
        doc = json.loads(out)
        user, secret = str(doc.get("Username") or ""), str(doc.get("Secret") or "")
    except (ValueError, AttributeError):
        raise Unavailable(f"docker-credential-{helper} get: not the JSON a credential "
                          "helper answers with")
    if user == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(user, secret)

"""A real registry for tests: Debian's ``docker-registry`` (distribution 2.8) on a free
loopback port, with a config of its own and filesystem storage in the test's folder.

Three kinds: plain; htpasswd Basic auth (the bcrypt lines written with Python's
``bcrypt``); and token auth, behind :class:`TokenServer`, a small token server written
here (it signs RS256 JWTs with a throwaway key and certificate made by ``openssl``).
The registry's own access log is kept, so a test can show which blobs were uploaded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
#: The users of the htpasswd and token registries.
USERS = {"alice": "s3cret-pw", "bob": "hunter2"}


def available() -> bool:
    return Path(REGISTRY).is_file()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not listen on {port}: {log.read_text()[-2000:]}")


class RegistryServer:
    """One docker-registry process. ``auth``: None, ``("htpasswd", path)`` or
    ``("token", {realm, service, issuer, rootcertbundle})``."""

    def __init__(self, base: Path, *, auth: tuple[str, Any] | None = None) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.storage = base / "storage"
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = base / "registry.log"
        self.auth = auth
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        lines = ["version: 0.1", "log:", "  level: info", "  accesslog:", "    disabled: false",
                 "storage:", "  filesystem:", f"    rootdirectory: {self.storage}",
                 "  delete:", "    enabled: true", "  maintenance:", "    uploadpurging:",
                 "      enabled: false", "http:", f"  addr: {self.host}"]
        if self.auth and self.auth[0] == "htpasswd":
            lines += ["auth:", "  htpasswd:", "    realm: test-realm",
                      f"    path: {self.auth[1]}"]
        elif self.auth and self.auth[0] == "token":
            opts = self.auth[1]
            lines += ["auth:", "  token:"] + [f"    {k}: {v}" for k, v in opts.items()]
        (self.base / "config.yml").write_text("\n".join(lines) + "\n")

    def use_tls(self, cert: Path, key: Path) -> RegistryServer:
        """Serve https only, with this certificate (call before start)."""
        text = (self.base / "config.yml").read_text()
        text = text.replace(f"  addr: {self.host}\n", f"  addr: {self.host}\n  tls:\n"
                            f"    certificate: {cert}\n    key: {key}\n")
        (self.base / "config.yml").write_text(text)
        return self

    def start(self) -> RegistryServer:
        out = open(self.log, "ab")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen([REGISTRY, "serve", str(self.base / "config.yml")],
                                     stdout=out, stderr=subprocess.STDOUT)
        out.close()
        try:
            _wait_port(self.port, self.proc, self.log)
        except BaseException:
            self.stop()  # a registry that never answered is no test's leftover
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    # ------------------------------------------------------------ what it holds

    def blob_data(self, digest: str) -> Path:
        h = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / h[:2] / h / "data"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def uploaded(self) -> list[str]:
        """Digests of the blobs uploaded (the closing PUT of each upload), from the
        registry's access log, in order."""
        out = []
        for m in re.finditer(r'"PUT (/v2/\S+/blobs/uploads/\S*) HTTP/1\.1" 20[14]',
                             self.log_text()):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(m.group(1)).query)
            out += q.get("digest", [])
        return out

    def requests(self, method: str, pattern: str = "") -> list[str]:
        return [m.group(1) for m in re.finditer(rf'"{method} (\S+) HTTP/1\.1"', self.log_text())
                if pattern in m.group(1)]


def ok(args: list[str], env: dict[str, str] | None = None, input: str | None = None,
       timeout: float = 120) -> str:
    """``pycompose ARGS`` that must succeed; its stdout."""
    from pctest.cli import run

    r = run(args, env=env, input=input, timeout=timeout)
    assert r.returncode == 0, \
        f"pycompose {' '.join(args)} ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout


def htpasswd_file(path: Path, users: dict[str, str]) -> Path:
    import bcrypt

    path.write_text("".join(
        f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
        for u, p in users.items()))
    return path


# ---------------------------------------------------------------- token server

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """A token server of the distribution token spec, for tests: ``users`` may have any
    access; anonymous callers get ``pull`` on repositories under ``public/`` only.
    ``expires_in`` is what it tells clients; every request it saw is in ``seen``."""

    base: Path
    users: dict[str, str]
    service: str = "test-registry"
    issuer: str = "pycompose-test-issuer"
    expires_in: int = 300
    seen: list[dict[str, Any]] = field(default_factory=list)
    refresh_tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.key = self.base / "token.key"
        self.cert = self.base / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(self.key), "-out", str(self.cert), "-days", "2", "-subj",
                        "/CN=pycompose test token signer"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self._x5c = base64.b64encode(der).decode()
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                user = server._basic_user(self.headers.get("Authorization", ""))
                server.seen.append({"method": "GET", "query": q, "user": user})
                if user is False:
                    self._answer(401, {"details": "incorrect username or password"})
                    return
                self._answer(200, server._grant(user or "", q.get("scope", []),
                                                "offline_token" in q))

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                token = (form.get("refresh_token") or [""])[0]
                user = server.refresh_tokens.get(token)
                server.seen.append({"method": "POST", "form": form, "user": user})
                if not user:
                    self._answer(401, {"details": "invalid refresh token"})
                    return
                scopes = " ".join(form.get("scope", [])).split()
                doc = server._grant(user, scopes, False)
                self._answer(200, {"access_token": doc["token"],
                                   "expires_in": doc["expires_in"]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _basic_user(self, header: str) -> str | bool | None:
        """The user of a valid Basic header; None without one; False if wrong."""
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if self.users.get(user) == password else False

    def _grant(self, user: str, scopes: list[str], offline: bool) -> dict[str, Any]:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            allowed = actions.split(",") if user else (
                ["pull"] if name.startswith("public/") and "pull" in actions.split(",")
                else [])
            access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user, "aud": self.service,
                  "exp": now + self.expires_in, "nbf": now - 10, "iat": now,
                  "jti": hashlib.sha256(f"{now}{time.monotonic()}".encode()).hexdigest()[:16],
                  "access": access}
        doc: dict[str, Any] = {"token": self._sign(claims), "expires_in": self.expires_in,
                               "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(now))}
        if offline and user:
            rt = "refresh-" + hashlib.sha256(f"{user}{now}".encode()).hexdigest()[:24]
            self.refresh_tokens[rt] = user
            doc["refresh_token"] = rt
        return doc

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode()))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input.encode(), check=True,
                             capture_output=True).stdout
        return signing_input + "." + _b64url(sig)

    def registry_auth(self) -> tuple[str, dict[str, str]]:
        return ("token", {"realm": self.realm, "service": self.service,
                          "issuer": self.issuer, "rootcertbundle": str(self.cert)})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- a faulty network

class Proxy:
    """A TCP proxy on a free loopback port in front of ``upstream`` (host:port), to
    make a registry slow or drop connections: ``rate`` bytes per second downstream (0:
    unlimited); ``cut_after``: close the first response connection that carries more
    than this many bytes once it has. Request heads seen are kept in ``heads``."""

    def __init__(self, upstream: str, *, rate: int = 0, cut_after: int = 0) -> None:
        self.upstream = upstream
        self.rate = rate
        self.cut_after = cut_after
        self.cuts = 0
        self.heads: list[str] = []
        self.downstream_bytes = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self.host = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        host, port = self.upstream.rsplit(":", 1)
        try:
            up = socket.create_connection((host, int(port)), timeout=30)
        except OSError:
            client.close()
            return
        with self._lock:
            self._conns += [client, up]
        threading.Thread(target=self._pump_up, args=(client, up), daemon=True).start()
        sent = 0
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                if self.rate:
                    time.sleep(len(data) / self.rate)
                with self._lock:
                    cut = bool(self.cut_after and not self.cuts
                               and sent + len(data) > self.cut_after)
                    if cut:
                        self.cuts += 1
                if cut:
                    client.sendall(data[:max(self.cut_after - sent, 0)])
                    break
                client.sendall(data)
                sent += len(data)
                self.downstream_bytes += len(data)
        except OSError:
            pass
        finally:
            for s in (client, up):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _pump_up(self, client: socket.socket, up: socket.socket) -> None:
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                text = data.decode("latin-1")
                if text[:8].split(" ")[0] in ("GET", "HEAD", "PUT", "POST", "PATCH"):
                    self.heads.append(text.split("\r\n\r\n", 1)[0])
                up.sendall(data)
        except OSError:
            pass

    def drop_all(self) -> None:
        """Cut every open connection at once, bytes in flight included (what a
        registry host that dies does to its clients)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            for s in self._conns:
                with contextlib.suppress(OSError):
                    s.close()


# ---------------------------------------------------------------- writing to a registry

def put_blob(host: str, repo: str, data: bytes) -> str:
    """Upload ``data`` as a blob (POST, then PUT with the digest); its digest."""
    import httpx

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=f"http://{host}", timeout=30) as c:
        r = c.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        loc = httpx.URL(f"http://{host}").join(r.headers["location"])
        r = c.put(loc.copy_merge_params({"digest": digest}), content=data,
                  headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
    return digest


def put_manifest(host: str, repo: str, ref: str, doc: dict[str, Any]) -> str:
    import httpx

    data = json.dumps(doc).encode()
    r = httpx.put(f"http://{host}/v2/{repo}/manifests/{ref}", content=data,
                  headers={"Content-Type": doc["mediaType"]}, timeout=30)
    assert r.status_code == 201, r.text
    return "sha256:" + hashlib.sha256(data).hexdigest()


DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def image_for_platform(host: str, repo: str, layer: bytes, diff_id: str, *, os_: str,
                       arch: str, variant: str = "", docker: bool = False,
                       layer_media: str = "application/vnd.oci.image.layer.v1.tar+gzip",
                       labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload a one-layer image for a platform (OCI, or Docker schema 2 with
    ``docker``); its manifest descriptor (for an index)."""
    cfg = {"architecture": arch, "os": os_, "config": {"Cmd": ["sh"], "Labels": labels or {}},
           "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    if variant:
        cfg["variant"] = variant
    cfg_bytes = json.dumps(cfg).encode()
    cfg_digest = put_blob(host, repo, cfg_bytes)
    layer_digest = put_blob(host, repo, layer)
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cfg_digest, "size": len(cfg_bytes)},
         "layers": [{"mediaType": layer_media, "digest": layer_digest, "size": len(layer)}]}
    if docker:
        m["mediaType"] = DOCKER_V2
        m["config"]["mediaType"] = "application/vnd.docker.container.image.v1+json"
        m["layers"][0]["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    data = json.dumps(m).encode()
    digest = put_manifest(host, repo, "sha256:" + hashlib.sha256(data).hexdigest(), m)
    platform = {"os": os_, "architecture": arch} | ({"variant": variant} if variant else {})
    return {"mediaType": m["mediaType"], "digest": digest, "size": len(data),
            "platform": platform}

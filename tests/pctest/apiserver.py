"""A small Kubernetes API server double, for ``kube apply``/``kube down`` tests.

No Kubernetes API server can be installed on these machines, so the tests run the real
``kubernetes`` client (through the real CLI) against this: an HTTP server on a loopback
port that records every request and answers as the API does for the calls pycompose
makes -- server-side apply PATCHes (``application/apply-patch+yaml``, ``fieldManager``
required, 201 on create, 200 on update, 409 on a field another manager owns), GET of an
object or of a collection with ``labelSelector``, DELETE -- with ``Status`` objects for
errors. Workloads report ready after ``ready_after`` GETs, so ``--wait`` has something
to wait for. It keeps no schema: the schemas are checked by kubernetes-validate.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: plural -> (group/version prefix, kind)
KINDS = {
    "namespaces": ("/api/v1", "Namespace"), "configmaps": ("/api/v1", "ConfigMap"),
    "secrets": ("/api/v1", "Secret"), "services": ("/api/v1", "Service"),
    "persistentvolumeclaims": ("/api/v1", "PersistentVolumeClaim"),
    "pods": ("/api/v1", "Pod"),
    "deployments": ("/apis/apps/v1", "Deployment"),
    "statefulsets": ("/apis/apps/v1", "StatefulSet"),
    "daemonsets": ("/apis/apps/v1", "DaemonSet"), "jobs": ("/apis/batch/v1", "Job"),
    "networkpolicies": ("/apis/networking.k8s.io/v1", "NetworkPolicy"),
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    authorization: str


@dataclass
class ApiServer:
    token: str = "test-token"
    ready_after: int = 2
    requests: list[Request] = field(default_factory=list)
    #: path of an object -> the object
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: path -> field manager that owns it (a conflict for any other manager)
    owned_by: dict[str, str] = field(default_factory=dict)
    gets: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                req = Request(self.command, url.path, dict(parse_qsl(url.query)),
                              self.headers.get("Content-Type") or "",
                              json.loads(raw) if raw else None,
                              self.headers.get("Authorization") or "")
                with server.lock:
                    server.requests.append(req)
                    code, body = server.handle(req)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the API --
    @staticmethod
    def status(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                      "status": "Failure", "message": message, "reason": reason,
                      "code": code}

    def _split(self, path: str) -> tuple[str, str | None, str, str | None] | None:
        """(prefix, namespace, plural, name) of a REST path."""
        for plural, (prefix, _) in KINDS.items():
            if not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1:].split("/")
            ns = None
            if rest[0] == "namespaces" and len(rest) >= 3:
                ns, rest = rest[1], rest[2:]
            if rest[0] != plural:
                continue
            return prefix, ns, plural, (rest[1] if len(rest) > 1 else None)
        return None

    def handle(self, req: Request) -> tuple[int, dict[str, Any]]:
        if req.authorization != f"Bearer {self.token}":
            return self.status(401, "Unauthorized", "Unauthorized")
        where = self._split(req.path)
        if where is None:
            return self.status(404, "NotFound", "the server could not find the requested "
                                                "resource")
        _, ns, plural, name = where
        kind = KINDS[plural][1]
        if req.method == "PATCH" and name:
            return self.apply(req, kind, name, ns)
        if req.method == "GET" and name:
            obj = self.objects.get(req.path)
            if obj is None:
                return self.status(404, "NotFound", f'{plural} "{name}" not found')
            self.gets[req.path] = self.gets.get(req.path, 0) + 1
            if self.gets[req.path] >= self.ready_after:
                obj["status"] = self.ready_status(kind, obj)
            return 200, obj
        if req.method == "GET":
            items = [o for p, o in self.objects.items()
                     if p.rsplit("/", 1)[0] == req.path
                     and self.selected(o, req.query.get("labelSelector", ""))]
            return 200, {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {},
                         "items": items}
        if req.method == "DELETE" and name:
            if self.objects.pop(req.path, None) is None:
                return self.status(404, "NotFound", f'{plural} "{name}" not found')
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        return self.status(405, "MethodNotAllowed", f"{req.method} is not allowed here")

    def apply(self, req: Request, kind: str, name: str, ns: str | None
              ) -> tuple[int, dict[str, Any]]:
        if req.content_type != "application/apply-patch+yaml":
            return self.status(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format: "
                               f"{req.content_type}")
        manager = req.query.get("fieldManager")
        if not manager:
            return self.status(400, "BadRequest", "PATCH requests with apply-patch+yaml "
                                                  "need fieldManager")
        body = req.body or {}
        meta = body.get("metadata") or {}
        if body.get("kind") != kind or meta.get("name") != name or \
                (ns is not None and meta.get("namespace") not in (None, ns)):
            return self.status(400, "BadRequest", "the object does not match the URL")
        owner = self.owned_by.get(req.path)
        if owner is not None and owner != manager and req.query.get("force") != "true":
            return self.status(409, "Conflict", f'Apply failed with 1 conflict: conflict '
                                                f'with "{owner}": .spec.replicas')
        created = req.path not in self.objects
        old = self.objects.get(req.path) or {}
        generation = int((old.get("metadata") or {}).get("generation", 0)) + 1
        obj = json.loads(json.dumps(body))
        obj["metadata"].update(generation=generation, uid=f"uid-{len(self.objects)}",
                               managedFields=[{"manager": manager, "operation": "Apply"}])
        if ns is not None:
            obj["metadata"]["namespace"] = ns
        self.objects[req.path] = obj
        self.owned_by[req.path] = manager
        self.gets[req.path] = 0
        return (201 if created else 200), obj

    @staticmethod
    def selected(obj: dict[str, Any], selector: str) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for term in filter(None, selector.split(",")):
            key, _, value = term.partition("=")
            if labels.get(key) != value:
                return False
        return True

    @staticmethod
    def ready_status(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        spec = obj.get("spec") or {}
        gen = obj["metadata"]["generation"]
        n = int(spec.get("replicas", 1))
        if kind == "Job":
            return {"succeeded": spec.get("completions") or 1,
                    "conditions": [{"type": "Complete", "status": "True"}]}
        if kind == "DaemonSet":
            return {"observedGeneration": gen, "desiredNumberScheduled": 1,
                    "numberReady": 1, "updatedNumberScheduled": 1}
        if kind in ("Deployment", "StatefulSet"):
            return {"observedGeneration": gen, "replicas": n, "readyReplicas": n,
                    "updatedReplicas": n, "availableReplicas": n,
                    "currentRevision": "r1", "updateRevision": "r1"}
        return {}

    def kubeconfig(self, url: str, *, extra_context_url: str | None = None) -> str:
        """A kubeconfig whose context ``double`` is this server; ``dead`` (the current
        one, when ``extra_context_url`` is given) points elsewhere."""
        clusters = [{"name": "double", "cluster": {"server": url}}]
        contexts = [{"name": "double", "context": {"cluster": "double", "user": "tester"}}]
        current = "double"
        if extra_context_url:
            clusters.append({"name": "dead", "cluster": {"server": extra_context_url}})
            contexts.append({"name": "dead", "context": {"cluster": "dead", "user": "tester"}})
            current = "dead"
        return json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": clusters,
                           "contexts": contexts, "current-context": current,
                           "users": [{"name": "tester", "user": {"token": self.token}}]})

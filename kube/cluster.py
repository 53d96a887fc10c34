"""``kube apply`` and ``kube down``: the generated objects sent to a cluster, and taken
away again, through the official ``kubernetes`` client and the user's kubeconfig.

Apply is server-side apply, as ``kubectl apply --server-side`` does it: one ``PATCH``
per object with ``Content-Type: application/apply-patch+yaml`` and
``fieldManager=pycompose``; the API server merges, records which fields pycompose owns,
and refuses (409) to take fields another manager owns unless ``force``. One code path
serves every kind: the URL comes from the kind's group, version and plural (manifest.py).

Down lists each kind pycompose makes with the project's label selector and deletes
what it finds (and nothing without the labels); claims and the project's own namespace
only with ``volumes``, as ``down -v`` removes volumes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlencode

from . import manifest as M
from . import names as N
from .errors import KubeError

FIELD_MANAGER = "pycompose"
APPLY_PATCH = "application/apply-patch+yaml"
Progress = Callable[[str], None]

#: What ``kube down`` deletes, workloads first (their pods go with them).
DOWN_KINDS: tuple[type[M.Object], ...] = (
    M.Job, M.DaemonSet, M.Deployment, M.StatefulSet, M.Service, M.NetworkPolicy,
    M.Secret, M.ConfigMap,
)


def path_of(cls: type[M.Object], namespace: str | None, name: str | None = None) -> str:
    """The REST path of a kind's collection (or of one object in it)."""
    base = "/api/v1" if cls.API_VERSION == "v1" else f"/apis/{cls.API_VERSION}"
    if cls.NAMESPACED:
        if not namespace:
            raise KubeError(f"a {cls.KIND} needs a namespace")
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{cls.PLURAL}"
    return base + (f"/{quote(name, safe='')}" if name else "")


def line(kind: str, name: str, what: str, ok: bool = True) -> str:
    return f" {'✔' if ok else '✘'} {kind} {name:<28} {what}"


class Cluster:
    """An API server, as the kubeconfig names it (``context`` picks one of its contexts)."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        try:
            from kubernetes import config
        except ImportError:
            raise KubeError("kube apply and kube down need the kubernetes client: "
                            "pip install 'pycompose[kube]'")
        try:
            self.api = config.new_client_from_config(config_file=kubeconfig, context=context,
                                                     persist_config=False)
        except (config.ConfigException, OSError, ValueError, TypeError) as e:
            where = kubeconfig or "~/.kube/config ($KUBECONFIG)"
            raise KubeError(f"cannot use the kubeconfig {where}: {e}")
        self.host = self.api.configuration.host

    def close(self) -> None:
        self.api.close()

    def request(self, method: str, path: str, query: Iterable[tuple[str, str]] = (),
                body: Any = None, content_type: str | None = None,
                missing_ok: bool = False) -> dict[str, Any] | None:
        """One call; the object (or list) the server answers, None for a 404 when
        ``missing_ok``. A refusal raises KubeError with the server's own message."""
        import urllib3

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        q = list(query)
        url_path = path + (f"?{urlencode(q)}" if q else "")
        method_, url, headers, body_, post = self.api.param_serialize(
            method=method, resource_path=url_path, header_params=headers, body=body,
            auth_settings=["BearerToken"])
        try:
            r = self.api.call_api(method_, url, headers, body_, post, _request_timeout=30)
            r.read()
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise KubeError(f"cannot reach the API server at {self.host}: {e} (check "
                            "--context and --kubeconfig)")
        text = (r.data or b"").decode(errors="replace")
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError:
            data = {"message": text[:200]}
        if r.status == 404 and missing_ok:
            return None
        if r.status >= 400:
            message = data.get("message") if isinstance(data, dict) else None
            raise KubeError(f"the API server answered {r.status}: {message or r.reason}",
                            obj=f"{method} {path}")
        return data if isinstance(data, dict) else {}

    # -- the verbs --
    def apply(self, obj: M.Object, doc: dict[str, Any], *, force: bool = False
              ) -> dict[str, Any]:
        query = [("fieldManager", FIELD_MANAGER)]
        if force:
            query.append(("force", "true"))
        try:
            out = self.request("PATCH", path_of(type(obj), obj.metadata.namespace, obj.name),
                               query, doc, APPLY_PATCH)
        except KubeError as e:
            hint = " (another manager owns these fields: kube apply --force-conflicts " \
                   "takes them)" if "409" in e.detail else ""
            raise KubeError(e.detail + hint, obj=obj.ref())
        return out or {}

    def get(self, cls: type[M.Object], namespace: str | None, name: str
            ) -> dict[str, Any] | None:
        return self.request("GET", path_of(cls, namespace, name), missing_ok=True)

    def labelled(self, cls: type[M.Object], namespace: str | None, selector: str
                 ) -> list[dict[str, Any]]:
        listed = self.request("GET", path_of(cls, namespace), [("labelSelector", selector)],
                              missing_ok=True) or {}
        return [i for i in listed.get("items") or [] if isinstance(i, dict)]

    def delete(self, cls: type[M.Object], namespace: str | None, name: str) -> bool:
        body = {"apiVersion": "v1", "kind": "DeleteOptions",
                "propagationPolicy": "Background"}
        return self.request("DELETE", path_of(cls, namespace, name), body=body,
                            content_type="application/json", missing_ok=True) is not None


def apply(cluster: Cluster, objects: list[M.Object], docs: list[dict[str, Any]],
          progress: Progress, *, force: bool = False) -> None:
    """Server-side apply of every object, in order (the namespace first)."""
    for obj, doc in zip(objects, docs, strict=True):
        cluster.apply(obj, doc, force=force)
        progress(line(obj.KIND, obj.name, "Applied"))


def _ready(kind: str, obj: dict[str, Any]) -> tuple[bool, str]:
    """(rolled out and ready, what to show) of a workload as the server reports it."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    meta = obj.get("metadata") or {}
    current = status.get("observedGeneration", 0) >= meta.get("generation", 0)
    if kind == "Job":
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if conds.get("Failed") == "True":
            raise KubeError("the Job failed", obj=f"Job/{meta.get('name')}")
        want = spec.get("completions") or 1
        done = int(status.get("succeeded") or 0)
        return done >= want, f"{done}/{want} completed"
    if kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
        return current and ready == want and updated == want, f"{ready}/{want} ready"
    want = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if kind == "StatefulSet":
        same = status.get("currentRevision") == status.get("updateRevision")
        return current and ready == want and same, f"{ready}/{want} ready"
    available = int(status.get("availableReplicas") or 0)
    return (current and updated == want and available == want and ready == want,
            f"{ready}/{want} ready")


def wait(cluster: Cluster, objects: list[M.Object], progress: Progress, *,
         timeout: float, interval: float = 1.0) -> None:
    """Until every workload is rolled out and ready (Jobs: completed), saying how far
    each is whenever that changes."""
    pending = [o for o in objects if isinstance(o, (M.Deployment, M.StatefulSet,
                                                      M.DaemonSet, M.Job))]
    shown: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while pending:
        for obj in list(pending):
            got = cluster.get(type(obj), obj.metadata.namespace, obj.name)
            ok, what = _ready(obj.KIND, got or {})
            if shown.get(obj.ref()) != what or ok:
                progress(line(obj.KIND, obj.name, "Ready" if ok and obj.KIND != "Job"
                              else ("Completed" if ok else what)))
                shown[obj.ref()] = what
            if ok:
                pending.remove(obj)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise KubeError(f"kube apply --wait: not ready after {timeout:g} s: "
                            + ", ".join(f"{o.ref()} ({shown.get(o.ref(), '?')})"
                                        for o in pending))
        time.sleep(interval)


def down(cluster: Cluster, project: str, namespace: str, progress: Progress, *,
         volumes: bool = False) -> int:
    """Delete what carries the project's labels in ``namespace``; returns how many."""
    selector = N.selector(project)
    kinds = DOWN_KINDS + ((M.PersistentVolumeClaim,) if volumes else ())
    count = 0
    for cls in kinds:
        for item in cluster.labelled(cls, namespace, selector):
            name = str((item.get("metadata") or {}).get("name") or "")
            labels = (item.get("metadata") or {}).get("labels") or {}
            if not name or any(labels.get(k) != v
                               for k, v in N.project_labels(project).items()):
                continue  # a server that ignored the selector: never delete others'
            if cluster.delete(cls, namespace, name):
                progress(line(cls.KIND, name, "Deleted"))
                count += 1
    if volumes:
        ns = cluster.get(M.Namespace, None, namespace)
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        if ns is not None and all(labels.get(k) == v
                                  for k, v in N.project_labels(project).items()):
            cluster.delete(M.Namespace, None, namespace)
            progress(line("Namespace", namespace, "Deleted"))
            count += 1
    return count

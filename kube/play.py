"""``kube play``: Kubernetes objects as a compose project, run by compose's own up/down.

kube play is a front end on compose, so a pod is what compose can say:

- each pod has an infra service ``POD-infra`` (the pause image, pause.py) holding the
  pod's network and IPC namespaces; its containers join them with ``network_mode`` and
  ``ipc: service:POD-infra``, so they talk over ``localhost`` as in Kubernetes, and each
  has the pod's name as host name;
- init containers run in order before the pod's containers (``depends_on`` with
  ``service_completed_successfully``, each on the one before);
- containers are named ``POD-CONTAINER`` (as ``podman kube play`` names them); a
  Deployment's replicas are pods ``NAME-1`` ... ``NAME-N``, a StatefulSet's ``NAME-0``
  ... as Kubernetes names them;
- all pods are on the project's one network, where each Service's name is an alias of
  the pods it selects (DNS answers with each of them); LoadBalancer and NodePort
  Services, and ``hostPort``s, are published on the host (on 127.0.0.1 unless said);
- PersistentVolumeClaims are named volumes; emptyDirs are volumes of the pod, removed
  with it; ConfigMaps and Secrets mounted as volumes are files under the state root
  (secrets root-only), bound read-only; probes are the healthcheck.

:func:`translate` is pure (documents in, a compose document and a validated Project
out); :func:`write_files` lays the ConfigMap and Secret files down before ``up``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compose.errors import ComposeError
from ..compose.loader import RawProject
from ..compose.model import Project, validate
from ..compose.yamlsrc import MDict, MList
from . import codec, pause, podmap
from . import manifest as M
from .errors import KubeError

#: Kinds whose pods kube play runs, and kinds it reads for them.
WORKLOADS = (M.Pod, M.Deployment, M.StatefulSet, M.DaemonSet, M.Job)
LABEL_POD = "io.kubernetes.pod.name"
LABEL_CONTAINER = "io.kubernetes.container.name"
LABEL_PLAY = "io.pycompose.kube.file"
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass
class PlayOptions:
    file: str
    project_name: str
    #: Where ConfigMap and Secret files go (``STATE_ROOT/kube/PROJECT``).
    state_dir: Path
    working_dir: Path = field(default_factory=Path.cwd)
    publish_address: str = "127.0.0.1"
    pause_image: str = pause.IMAGE


@dataclass
class FileToWrite:
    path: Path
    data: bytes
    mode: int


@dataclass
class Played:
    project: Project
    compose: dict[str, Any]
    warnings: list[str]
    files: list[FileToWrite]
    #: compose volume keys that live and die with their pod (emptyDir)
    pod_volumes: list[str]
    pods: list[str]


@dataclass
class _Pod:
    name: str
    labels: dict[str, str]
    spec: M.PodSpec
    origin: M.Object
    #: StatefulSet claims: template name -> this pod's claim
    claims: dict[str, str] = field(default_factory=dict)


class _Data:
    """ConfigMaps and Secrets by name, decoded (podmap.Data)."""

    def __init__(self) -> None:
        self.maps: dict[tuple[str, str], dict[str, bytes]] = {}

    def add(self, kind: str, name: str, values: dict[str, bytes]) -> None:
        self.maps[(kind, name)] = values

    def raw(self, kind: str, name: str, optional: bool) -> dict[str, bytes] | None:
        found = self.maps.get((kind, name))
        if found is None and not optional:
            raise KubeError(f"{kind} {name!r} is not in the file (add it, or mark the "
                            "reference optional)")
        return found

    def values(self, kind: str, name: str, optional: bool) -> dict[str, str]:
        return {k: v.decode(errors="replace")
                for k, v in (self.raw(kind, name, optional) or {}).items()}

    def value(self, kind: str, name: str, key: str, optional: bool) -> str | None:
        values = self.raw(kind, name, optional)
        if values is None:
            return None
        if key not in values:
            if optional:
                return None
            raise KubeError(f"{kind} {name!r} has no key {key!r}")
        return values[key].decode(errors="replace")


def _mdict(value: Any) -> Any:
    """A plain tree as the loader's MDict/MList (no marks: the errors name the
    Kubernetes object instead)."""
    if isinstance(value, dict):
        out = MDict()
        for k, v in value.items():
            out.set(k, _mdict(v), None)
        return out
    if isinstance(value, list):
        return MList(_mdict(v) for v in value)
    return value


def parse(docs: list[dict[str, Any]], file: str, warnings: list[str]) -> list[M.Object]:
    """The objects of ``docs`` kube play knows; the rest is a warning each."""
    out: list[M.Object] = []
    for doc in docs:
        api, kind = doc.get("apiVersion"), doc.get("kind")
        name = (doc.get("metadata") or {}).get("name") if isinstance(
            doc.get("metadata"), dict) else None
        ref = f"{kind}/{name}"
        cls = M.BY_KIND.get((str(api), str(kind)))
        if cls is None:
            warnings.append(f"{file}: {ref} ({api}) not played: kube play runs Pods, "
                            "Deployments, StatefulSets, DaemonSets and Jobs, with their "
                            "Services, ConfigMaps, Secrets and PersistentVolumeClaims")
            continue
        unknown: list[str] = []
        try:
            obj = codec.from_dict(cls, doc, unknown)
        except KubeError as e:
            raise KubeError(e.detail, file=file, obj=ref, key=e.key)
        if not obj.name:
            raise KubeError("metadata.name is missing", file=file, obj=ref)
        for key in unknown:
            if key == "status" or key.startswith("metadata.") or ".metadata." in key:
                continue
            warnings.append(f"{file}: {ref}: {key} is not played and is ignored")
        if cls in (M.Namespace, M.NetworkPolicy):
            warnings.append(f"{file}: {ref} not played: all pods of a play share one "
                            "network in one project")
            continue
        out.append(obj)
    return out


def _pods(objects: list[M.Object]) -> list[_Pod]:
    pods: list[_Pod] = []
    for obj in objects:
        if isinstance(obj, M.Pod):
            pods.append(_Pod(obj.name, dict(obj.metadata.labels or {}), obj.spec, obj))
        elif isinstance(obj, (M.Deployment, M.StatefulSet, M.DaemonSet, M.Job)):
            if obj.spec is None:
                raise KubeError("spec is missing", obj=obj.ref())
            t = obj.spec.template
            labels = dict(t.metadata.labels or {})
            if isinstance(obj, M.Deployment):
                names = [f"{obj.name}-{i}" for i in range(1, (
                    obj.spec.replicas if obj.spec.replicas is not None else 1) + 1)]
            elif isinstance(obj, M.StatefulSet):
                n = obj.spec.replicas if obj.spec.replicas is not None else 1
                names = [f"{obj.name}-{i}" for i in range(n)]
            elif isinstance(obj, M.Job):
                n = obj.spec.completions or 1
                names = [obj.name] if n == 1 else [f"{obj.name}-{i}" for i in range(1, n + 1)]
            else:
                names = [f"{obj.name}-1"]
            for name in names:
                pod = _Pod(name, labels, t.spec, obj)
                if isinstance(obj, M.StatefulSet):
                    for tmpl in obj.spec.volume_claim_templates or []:
                        pod.claims[tmpl.metadata.name or ""] = f"{tmpl.metadata.name}-{name}"
                pods.append(pod)
    return pods


def _data(objects: list[M.Object], file: str) -> _Data:
    data = _Data()
    for obj in objects:
        if isinstance(obj, M.ConfigMap):
            values = {k: v.encode() for k, v in (obj.data or {}).items()}
            for k, v in (obj.binary_data or {}).items():
                values[k] = _b64(v, file, obj, k)
            data.add("ConfigMap", obj.name, values)
        elif isinstance(obj, M.Secret):
            values = {k: _b64(v, file, obj, k) for k, v in (obj.data or {}).items()}
            values.update({k: v.encode() for k, v in (obj.string_data or {}).items()})
            data.add("Secret", obj.name, values)
    for (kind, name), values in data.maps.items():
        for k in values:
            if not _KEY.match(k) or k in (".", ".."):
                raise KubeError(f"key {k!r} is not a valid {kind} key (letters, digits, "
                                "'-', '_', '.')", file=file, obj=f"{kind}/{name}")
    return data


def _b64(text: str, file: str, obj: M.Object, key: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KubeError("not base64", file=file, obj=obj.ref(), key=f"data.{key}")


def _relative(path: str, what: str) -> str:
    parts = Path(path).parts
    if not path or path.startswith("/") or ".." in parts:
        raise KubeError(f"{what} {path!r} must be a relative path without '..'")
    return path


class _Builder:
    def __init__(self, objects: list[M.Object], opts: PlayOptions, warnings: list[str]
                 ) -> None:
        self.opts = opts
        self.warnings = warnings
        self.data = _data(objects, opts.file)
        self.pods = _pods(objects)
        self.services = [o for o in objects if isinstance(o, M.Service)]
        self.claims = {o.name for o in objects if isinstance(o, M.PersistentVolumeClaim)}
        self.compose_services: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.files: list[FileToWrite] = []
        self.pod_volumes: list[str] = []
        self.published_first: set[str] = set()

    def warn(self, pod: str, message: str) -> None:
        self.warnings.append(f"{self.opts.file}: pod {pod}: {message}")

    def add_service(self, name: str, svc: dict[str, Any]) -> None:
        if name in self.compose_services:
            raise KubeError(f"two containers would be named {name}: rename a pod or a "
                            "container", file=self.opts.file)
        self.compose_services[name] = svc

    # -- networking --
    def aliases_and_ports(self, pod: _Pod) -> tuple[list[str], list[str]]:
        aliases: list[str] = []
        ports: list[str] = []
        for s in self.services:
            sel = s.spec.selector
            if not sel or any(pod.labels.get(k) != v for k, v in sel.items()):
                continue
            aliases.append(s.name)
            for p in s.spec.ports or []:
                target = self.target_port(pod, p)
                if target != p.port and s.spec.type not in ("LoadBalancer", "NodePort"):
                    self.warn(pod.name, f"Service {s.name} port {p.port} -> {target}: on "
                              f"pycompose connect to {s.name}:{target} (no port mapping "
                              "between pods)")
                host = p.port if s.spec.type == "LoadBalancer" else (
                    p.node_port if s.spec.type == "NodePort" else None)
                key = f"{s.name}/{p.port}/{p.protocol}"
                if host is not None and key not in self.published_first:
                    self.published_first.add(key)  # one pod answers on the host port
                    ports.append(f"{self.opts.publish_address}:{host}:{target}/"
                                 f"{(p.protocol or 'TCP').lower()}")
        return aliases, ports

    def target_port(self, pod: _Pod, p: M.ServicePort) -> int:
        t = p.target_port if p.target_port is not None else p.port
        if isinstance(t, int):
            return t
        for c in pod.spec.containers:
            for cp in c.ports or []:
                if cp.name == t:
                    return cp.container_port
        return int(t) if t.isdigit() else p.port

    # -- volumes --
    def volume(self, pod: _Pod, c: M.Container, m: M.VolumeMount, vols: dict[str, M.Volume]
               ) -> dict[str, Any] | None:
        v = vols.get(m.name)
        if v is None and m.name in pod.claims:  # a StatefulSet's volumeClaimTemplate
            v = M.Volume(name=m.name, persistent_volume_claim=(
                M.PersistentVolumeClaimVolumeSource(claim_name=m.name)))
        if v is None:
            raise KubeError(f"container {c.name} mounts {m.name!r}, which is not among "
                            "the pod's volumes", file=self.opts.file, obj=pod.origin.ref())
        ro = bool(m.read_only)
        if v.persistent_volume_claim is not None or v.empty_dir is not None:
            if v.persistent_volume_claim is not None:
                key = pod.claims.get(v.persistent_volume_claim.claim_name,
                                     v.persistent_volume_claim.claim_name)
                if key not in self.claims and v.persistent_volume_claim.claim_name \
                        not in pod.claims:
                    self.warn(pod.name, f"claim {key} is not in the file: a volume of "
                              "that name is used")
                ro = ro or bool(v.persistent_volume_claim.read_only)
            else:
                key = f"{pod.name}-{v.name}"
                if key not in self.pod_volumes:
                    self.pod_volumes.append(key)
            self.volumes.setdefault(key, {})
            if m.sub_path:
                self.warn(pod.name, f"subPath of volume {m.name} not played: the whole "
                          "volume is mounted")
            return {"type": "volume", "source": key, "target": m.mount_path, "read_only": ro}
        if v.config_map is not None or v.secret is not None:
            folder = self.write_volume(pod, v)
            source = folder / _relative(m.sub_path, "subPath") if m.sub_path else folder
            return {"type": "bind", "source": str(source), "target": m.mount_path,
                    "read_only": True}
        if v.host_path is not None:
            create = v.host_path.type in ("DirectoryOrCreate", "")
            out: dict[str, Any] = {"type": "bind", "source": v.host_path.path,
                                   "target": m.mount_path, "read_only": ro}
            if create or v.host_path.type is None:
                out["bind"] = {"create_host_path": True}
            return out
        self.warn(pod.name, f"volume {m.name}: its kind is not played")
        return None

    def write_volume(self, pod: _Pod, v: M.Volume) -> Path:
        """The files of a ConfigMap or Secret volume, one per key (or per item)."""
        folder = self.opts.state_dir / "volumes" / pod.name / v.name
        if v.secret is not None:
            kind, name, items, mode, optional = ("Secret", v.secret.secret_name, v.secret.items,
                                                 v.secret.default_mode, v.secret.optional)
        else:
            assert v.config_map is not None
            kind, name, items, mode, optional = ("ConfigMap", v.config_map.name,
                                                 v.config_map.items, v.config_map.default_mode,
                                                 v.config_map.optional)
        values = self.data.raw(kind, name, bool(optional)) or {}
        chosen = [(i.key, _relative(i.path, "items.path"), i.mode) for i in items] if items \
            else [(k, k, None) for k in values]
        for key, path, item_mode in chosen:
            if key not in values:
                raise KubeError(f"{kind} {name!r} has no key {key!r}", file=self.opts.file)
            self.files.append(FileToWrite(folder / path, values[key],
                                          item_mode or mode or 0o644))
        return folder

    # -- pods --
    def pod(self, pod: _Pod) -> None:
        spec = pod.spec
        infra = f"{pod.name}-infra"
        hostname = spec.hostname or pod.name
        aliases, ports = self.aliases_and_ports(pod)
        for c in [*(spec.init_containers or []), *spec.containers]:
            for p in c.ports or []:
                if p.host_port:
                    ports.append(f"{p.host_ip or self.opts.publish_address}:{p.host_port}:"
                                 f"{p.container_port}/{(p.protocol or 'TCP').lower()}")
        labels = {LABEL_POD: pod.name, LABEL_PLAY: self.opts.file}
        isvc: dict[str, Any] = {
            "image": self.opts.pause_image, "entrypoint": pause.ENTRYPOINT,
            "container_name": infra, "hostname": hostname, "ipc": "shareable",
            "labels": {**labels, LABEL_CONTAINER: "infra"},
        }
        if spec.host_network:
            isvc["network_mode"] = "host"
        else:
            isvc["networks"] = {"default": {"aliases": list(dict.fromkeys(aliases))}}
            if ports:
                isvc["ports"] = ports
        if spec.host_aliases:
            isvc["extra_hosts"] = [f"{h}={a.ip}" for a in spec.host_aliases
                                   for h in a.hostnames or []]
        if spec.dns_config is not None:
            d = spec.dns_config
            if d.nameservers:
                isvc["dns"] = d.nameservers
            if d.searches:
                isvc["dns_search"] = d.searches
            if d.options:
                isvc["dns_opt"] = [f"{o.name}:{o.value}" if o.value else o.name
                                   for o in d.options]
        psc = spec.security_context
        if psc is not None and psc.sysctls:
            isvc["sysctls"] = {s.name: s.value for s in psc.sysctls}
        self.add_service(infra, isvc)
        vols = {v.name: v for v in spec.volumes or []}
        previous: tuple[str, str] = (infra, "service_started")
        restart = podmap.restart(spec.restart_policy)
        for c in spec.init_containers or []:
            sidecar = c.restart_policy == "Always"
            name = self.container(pod, c, vols, hostname, previous,
                                  "always" if sidecar else "no", labels)
            previous = (name, "service_started" if sidecar else
                        "service_completed_successfully")
        for c in spec.containers:
            self.container(pod, c, vols, hostname, previous, restart, labels)

    def container(self, pod: _Pod, c: M.Container, vols: dict[str, M.Volume],
                  hostname: str, after: tuple[str, str], restart: str,
                  labels: dict[str, str]) -> str:
        name = f"{pod.name}-{c.name}"
        infra = f"{pod.name}-infra"
        if c.image is None:
            raise KubeError(f"container {c.name} has no image", file=self.opts.file,
                            obj=pod.origin.ref())
        env = podmap.environment(c, pod.name, self.opts.project_name, self.data,
                                 lambda m: self.warn(pod.name, m))
        svc: dict[str, Any] = {
            "image": c.image, "container_name": name, "hostname": hostname,
            "network_mode": f"service:{infra}", "ipc": f"service:{infra}",
            "restart": restart, "labels": {**labels, LABEL_CONTAINER: c.name},
            "depends_on": {infra: {"condition": "service_started"}},
        }
        if after[0] != infra:
            svc["depends_on"][after[0]] = {"condition": after[1]}
        if c.command is not None:
            svc["entrypoint"] = [podmap.expand(a, env) for a in c.command]
        if c.args is not None:
            svc["command"] = [podmap.expand(a, env) for a in c.args]
        if env:
            svc["environment"] = env
        if c.working_dir:
            svc["working_dir"] = c.working_dir
        if c.tty:
            svc["tty"] = True
        if c.stdin:
            svc["stdin_open"] = True
        mounts = [m for m in (self.volume(pod, c, vm, vols)
                              for vm in c.volume_mounts or []) if m is not None]
        if mounts:
            svc["volumes"] = mounts
        hc = podmap.healthcheck(c)
        if hc is not None:
            svc["healthcheck"] = hc
        svc.update(podmap.security(c, pod.spec.security_context))
        svc.update(podmap.limits(c, lambda m: self.warn(pod.name, f"{c.name}: {m}")))
        if pod.spec.termination_grace_period_seconds is not None:
            svc["stop_grace_period"] = f"{pod.spec.termination_grace_period_seconds}s"
        self.add_service(name, svc)
        return name


def translate(docs: list[dict[str, Any]], opts: PlayOptions) -> Played:
    """The compose project that plays ``docs`` (validated as any compose file is)."""
    warnings: list[str] = []
    objects = parse(docs, opts.file, warnings)
    b = _Builder(objects, opts, warnings)
    if not b.pods:
        raise KubeError("nothing to play: no Pod, Deployment, StatefulSet, DaemonSet or "
                        "Job", file=opts.file)
    for s in b.services:
        if not s.spec.selector:
            warnings.append(f"{opts.file}: Service/{s.name} has no selector: not played")
    seen: set[str] = set()
    for pod in b.pods:
        if pod.name in seen:
            raise KubeError(f"two pods would be named {pod.name}: rename one of their "
                            "objects", file=opts.file)
        seen.add(pod.name)
        b.pod(pod)
    doc: dict[str, Any] = {"name": opts.project_name, "services": b.compose_services}
    if b.volumes:
        doc["volumes"] = b.volumes
    raw = RawProject(name=opts.project_name, working_dir=opts.working_dir,
                     config_files=[opts.file], environment=dict(os.environ),
                     data=_mdict(doc), profiles=set())
    try:
        project = validate(raw)
    except ComposeError as e:  # a value Kubernetes took and compose does not
        raise KubeError(f"cannot be played: {e}", file=opts.file)
    return Played(project=project, compose=doc, warnings=warnings, files=b.files,
                  pod_volumes=b.pod_volumes, pods=[p.name for p in b.pods])


def write_files(played: Played, state_dir: Path) -> None:
    """Lay the ConfigMap and Secret files down under ``state_dir`` (made root-only):
    each created fresh, never through a link."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(state_dir, 0o700)
    for f in played.files:
        if state_dir not in f.path.parents:
            raise KubeError(f"refusing to write {f.path} outside {state_dir}")
        f.path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        try:
            os.unlink(f.path)
        except FileNotFoundError:
            pass
        fd = os.open(f.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, f.data)
            os.fchmod(fd, f.mode & 0o777)
        finally:
            os.close(fd)

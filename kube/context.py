"""What the translation of one compose project into Kubernetes objects collects and is
given: the options, the objects by kind and name (each made once, however many services
use it) and the warnings. generate.py makes the workloads and Services, pods.py the pod
specs; both fill one :class:`Context`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import manifest as M
from . import names as N
from .errors import KubeError

if TYPE_CHECKING:
    from ..compose.model import Project


@dataclass(frozen=True)
class Untranslated:
    """A compose key that has no Kubernetes form here, and why."""

    service: str | None  # None for a top-level key (``volumes.data``)
    key: str
    message: str

    def __str__(self) -> str:
        where = ".".join(p for p in (f"services.{self.service}" if self.service else "",
                                     self.key) if p)
        return f"{where}: {self.message}"


@dataclass
class GenerateOptions:
    services: Sequence[str] = ()
    #: An existing namespace to put everything in; default: one named after the project
    #: (made by the manifests themselves).
    namespace: str | None = None
    #: ``nodeport`` or ``loadbalancer``: a Service of that type for published ports.
    expose: str | None = None
    #: The image of the init containers that wait for a service_healthy dependency.
    init_image: str = "busybox:1.37"
    volume_size: str = "1Gi"
    storage_class: str | None = None


class Context:
    """What the translation of one project collects: objects by kind and name (each
    made once, however many services use it) and the warnings."""

    def __init__(self, project: Project, opts: GenerateOptions, selected: list[str]) -> None:
        self.project = project
        self.opts = opts
        self.selected = selected
        self.namespace = opts.namespace or N.dns_label(project.name)
        self.warnings: list[Untranslated] = []
        self.objects: dict[tuple[str, str], M.Object] = {}
        self.claim_users: dict[str, list[str]] = {}

    def warn(self, service: str | None, key: str, message: str) -> None:
        w = Untranslated(service, key, message)
        if w not in self.warnings:
            self.warnings.append(w)

    def meta(self, name: str, service: str | None = None) -> M.ObjectMeta:
        labels = N.service_labels(self.project.name, service) if service else \
            N.project_labels(self.project.name)
        annotations = {N.ANNOTATION_SERVICE: service} if service else None
        return M.ObjectMeta(name=name, namespace=self.namespace, labels=labels,
                            annotations=annotations)

    def add(self, obj: M.Object) -> None:
        key = (obj.KIND, obj.name)
        if key in self.objects and self.objects[key] != obj:
            raise KubeError(f"two objects would be named {obj.ref()}: rename one of the "
                            "compose names that become it")
        self.objects[key] = obj

    def service_name(self, service: str) -> str:
        """A Service name is an RFC 1035 label: it starts with a letter."""
        name = N.dns_label(service)
        return name if name[0].isalpha() else f"s-{name}"[:63]

    def config_map(self, name: str, data: dict[str, str], service: str, key: str) -> str:
        name = N.dns_label(name, 253)
        self.add(M.ConfigMap(metadata=self.meta(name, service), data=data or None))
        return name

    def claim(self, volume: str, service: str) -> str:
        decl = self.project.volumes.get(volume)
        self.claim_users.setdefault(volume, []).append(service)
        if decl is not None and decl.external:
            return decl.name or volume  # a claim that exists already
        name = N.dns_label(volume, 253)
        spec = M.PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=M.VolumeResourceRequirements(requests={"storage": self.opts.volume_size}),
            storage_class_name=self.opts.storage_class)
        meta = self.meta(name)
        if decl is not None and decl.labels:
            meta.annotations = dict(decl.labels)
        if decl is not None and (decl.driver or decl.driver_opts):
            self.warn(None, f"volumes.{volume}.driver", "not translated: the claim's "
                      "storage class decides (kube generate --storage-class)")
        self.add(M.PersistentVolumeClaim(metadata=meta, spec=spec))
        return name

    def file_object(self, kind: str, source: str, service: str) -> tuple[str, str] | None:
        """The Secret or ConfigMap holding a compose secret or config: (name, key)."""
        decls = self.project.secrets if kind == "secrets" else self.project.configs
        decl = decls[source]
        if decl.external:
            return decl.name or source, source
        where = f"{kind}.{source}"
        if decl.file is not None:
            try:
                raw = Path(decl.file).read_bytes()
            except OSError as e:
                raise KubeError(f"cannot read {decl.file}: {e.strerror}", key=where)
        elif decl.environment is not None:
            value = self.project.environment.get(decl.environment)
            if value is None:
                self.warn(None, where, f"not translated: the variable {decl.environment} "
                          "is not set")
                return None
            raw = value.encode()
        else:
            raw = (decl.content or "").encode()
        name = N.dns_label(source, 253)
        if kind == "secrets":
            self.add(M.Secret(metadata=self.meta(name), type="Opaque",
                              data={source: base64.b64encode(raw).decode()}))
        else:
            try:
                cm = M.ConfigMap(metadata=self.meta(name), data={source: raw.decode()})
            except UnicodeDecodeError:
                cm = M.ConfigMap(metadata=self.meta(name),
                                 binary_data={source: base64.b64encode(raw).decode()})
            self.add(cm)
        return name, source

"""The Kubernetes objects pycompose writes (``kube generate``) and reads (``kube play``),
as typed records.

Only the fields pycompose translates are declared; they are named as in the API, in
snake case (``container_port`` is ``containerPort``; ``key`` in a field's metadata when
the camel form is not the rule, as ``from``). codec.py turns them into the API's plain
mappings and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

IntOrStr = int | str


def _key(name: str) -> dict[str, str]:
    return {"key": name}


# --- metadata, selectors -------------------------------------------------------------


@dataclass
class ObjectMeta:
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


@dataclass
class LabelSelector:
    match_labels: dict[str, str] | None = None


# --- pods ------------------------------------------------------------------------------


@dataclass
class KeyToPath:
    key: str
    path: str
    mode: int | None = None


@dataclass
class ConfigMapVolumeSource:
    name: str
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None


@dataclass
class SecretVolumeSource:
    secret_name: str
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None


@dataclass
class PersistentVolumeClaimVolumeSource:
    claim_name: str
    read_only: bool | None = None


@dataclass
class EmptyDirVolumeSource:
    medium: str | None = None
    size_limit: str | None = None


@dataclass
class HostPathVolumeSource:
    path: str
    type: str | None = None


@dataclass
class Volume:
    name: str
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None


@dataclass
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool | None = None
    sub_path: str | None = None


@dataclass
class KeySelector:
    """``configMapKeyRef`` and ``secretKeyRef`` have the same shape."""

    name: str
    key: str
    optional: bool | None = None


@dataclass
class ObjectFieldSelector:
    field_path: str


@dataclass
class EnvVarSource:
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None
    field_ref: ObjectFieldSelector | None = None


@dataclass
class EnvVar:
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


@dataclass
class EnvSourceRef:
    name: str
    optional: bool | None = None


@dataclass
class EnvFromSource:
    prefix: str | None = None
    config_map_ref: EnvSourceRef | None = None
    secret_ref: EnvSourceRef | None = None


@dataclass
class ContainerPort:
    container_port: int
    protocol: str | None = None
    name: str | None = None
    host_port: int | None = None
    host_ip: str | None = None


@dataclass
class ExecAction:
    command: list[str]


@dataclass
class HTTPGetAction:
    port: IntOrStr
    path: str | None = None
    host: str | None = None
    scheme: str | None = None


@dataclass
class TCPSocketAction:
    port: IntOrStr
    host: str | None = None


@dataclass
class Probe:
    exec_: ExecAction | None = field(default=None, metadata=_key("exec"))
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    initial_delay_seconds: int | None = None
    period_seconds: int | None = None
    timeout_seconds: int | None = None
    failure_threshold: int | None = None
    success_threshold: int | None = None


@dataclass
class ResourceRequirements:
    limits: dict[str, str] | None = None
    requests: dict[str, str] | None = None


@dataclass
class Capabilities:
    add: list[str] | None = None
    drop: list[str] | None = None


@dataclass
class SecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    capabilities: Capabilities | None = None
    read_only_root_filesystem: bool | None = None
    privileged: bool | None = None
    allow_privilege_escalation: bool | None = None


@dataclass
class Container:
    name: str
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    env: list[EnvVar] | None = None
    env_from: list[EnvFromSource] | None = None
    ports: list[ContainerPort] | None = None
    volume_mounts: list[VolumeMount] | None = None
    resources: ResourceRequirements | None = None
    startup_probe: Probe | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    security_context: SecurityContext | None = None
    image_pull_policy: str | None = None
    #: ``Always`` on an init container makes it a sidecar (Kubernetes 1.29+).
    restart_policy: str | None = None
    tty: bool | None = None
    stdin: bool | None = None


@dataclass
class HostAlias:
    ip: str
    hostnames: list[str] | None = None


@dataclass
class PodDNSConfigOption:
    name: str
    value: str | None = None


@dataclass
class PodDNSConfig:
    nameservers: list[str] | None = None
    searches: list[str] | None = None
    options: list[PodDNSConfigOption] | None = None


@dataclass
class Sysctl:
    name: str
    value: str


@dataclass
class PodSecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: list[int] | None = None
    sysctls: list[Sysctl] | None = None


@dataclass
class PodSpec:
    containers: list[Container]
    init_containers: list[Container] | None = None
    volumes: list[Volume] | None = None
    restart_policy: str | None = None
    hostname: str | None = None
    subdomain: str | None = None
    host_network: bool | None = None
    host_ipc: bool | None = None
    host_aliases: list[HostAlias] | None = None
    dns_config: PodDNSConfig | None = None
    node_selector: dict[str, str] | None = None
    security_context: PodSecurityContext | None = None
    termination_grace_period_seconds: int | None = None


@dataclass
class PodTemplateSpec:
    spec: PodSpec
    metadata: ObjectMeta = field(default_factory=ObjectMeta)


# --- controllers -----------------------------------------------------------------------


@dataclass
class DeploymentStrategy:
    type: str | None = None


@dataclass
class DeploymentSpec:
    selector: LabelSelector
    template: PodTemplateSpec
    replicas: int | None = None
    strategy: DeploymentStrategy | None = None


@dataclass
class VolumeResourceRequirements:
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None


@dataclass
class PersistentVolumeClaimSpec:
    access_modes: list[str] | None = None
    resources: VolumeResourceRequirements | None = None
    storage_class_name: str | None = None


@dataclass
class PersistentVolumeClaimTemplate:
    metadata: ObjectMeta
    spec: PersistentVolumeClaimSpec


@dataclass
class StatefulSetSpec:
    selector: LabelSelector
    template: PodTemplateSpec
    service_name: str | None = None
    replicas: int | None = None
    volume_claim_templates: list[PersistentVolumeClaimTemplate] | None = None


@dataclass
class DaemonSetSpec:
    selector: LabelSelector
    template: PodTemplateSpec


@dataclass
class JobSpec:
    template: PodTemplateSpec
    backoff_limit: int | None = None
    completions: int | None = None
    parallelism: int | None = None


# --- services, storage, policy ---------------------------------------------------------


@dataclass
class ServicePort:
    port: int
    target_port: IntOrStr | None = None
    protocol: str | None = None
    name: str | None = None
    node_port: int | None = None


@dataclass
class ServiceSpec:
    selector: dict[str, str] | None = None
    ports: list[ServicePort] | None = None
    type: str | None = None
    cluster_ip: str | None = field(default=None, metadata=_key("clusterIP"))


@dataclass
class NetworkPolicyPeer:
    pod_selector: LabelSelector | None = None


@dataclass
class NetworkPolicyPort:
    port: IntOrStr | None = None
    protocol: str | None = None


@dataclass
class NetworkPolicyIngressRule:
    from_: list[NetworkPolicyPeer] | None = field(default=None, metadata=_key("from"))
    ports: list[NetworkPolicyPort] | None = None


@dataclass
class NetworkPolicySpec:
    pod_selector: LabelSelector
    ingress: list[NetworkPolicyIngressRule] | None = None
    policy_types: list[str] | None = None


# --- top-level objects -----------------------------------------------------------------


@dataclass
class Object:
    """A top-level object: ``apiVersion`` and ``kind`` come from the class."""

    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = ""
    #: The URL path segment of the kind's collection (``deployments``).
    PLURAL: ClassVar[str] = ""
    NAMESPACED: ClassVar[bool] = True

    metadata: ObjectMeta

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    def ref(self) -> str:
        """``Deployment/web``: how messages name the object."""
        return f"{self.KIND}/{self.name}"


@dataclass
class Namespace(Object):
    KIND: ClassVar[str] = "Namespace"
    PLURAL: ClassVar[str] = "namespaces"
    NAMESPACED: ClassVar[bool] = False


@dataclass
class ConfigMap(Object):
    KIND: ClassVar[str] = "ConfigMap"
    PLURAL: ClassVar[str] = "configmaps"
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None


@dataclass
class Secret(Object):
    KIND: ClassVar[str] = "Secret"
    PLURAL: ClassVar[str] = "secrets"
    type: str | None = None
    #: values base64-encoded, as the API keeps them
    data: dict[str, str] | None = None
    string_data: dict[str, str] | None = None


@dataclass
class PersistentVolumeClaim(Object):
    KIND: ClassVar[str] = "PersistentVolumeClaim"
    PLURAL: ClassVar[str] = "persistentvolumeclaims"
    spec: PersistentVolumeClaimSpec = field(default_factory=PersistentVolumeClaimSpec)


@dataclass
class Service(Object):
    KIND: ClassVar[str] = "Service"
    PLURAL: ClassVar[str] = "services"
    spec: ServiceSpec = field(default_factory=ServiceSpec)


@dataclass
class Pod(Object):
    KIND: ClassVar[str] = "Pod"
    PLURAL: ClassVar[str] = "pods"
    spec: PodSpec = field(default_factory=lambda: PodSpec(containers=[]))


@dataclass
class Deployment(Object):
    API_VERSION: ClassVar[str] = "apps/v1"
    KIND: ClassVar[str] = "Deployment"
    PLURAL: ClassVar[str] = "deployments"
    spec: DeploymentSpec | None = None


@dataclass
class StatefulSet(Object):
    API_VERSION: ClassVar[str] = "apps/v1"
    KIND: ClassVar[str] = "StatefulSet"
    PLURAL: ClassVar[str] = "statefulsets"
    spec: StatefulSetSpec | None = None


@dataclass
class DaemonSet(Object):
    API_VERSION: ClassVar[str] = "apps/v1"
    KIND: ClassVar[str] = "DaemonSet"
    PLURAL: ClassVar[str] = "daemonsets"
    spec: DaemonSetSpec | None = None


@dataclass
class Job(Object):
    API_VERSION: ClassVar[str] = "batch/v1"
    KIND: ClassVar[str] = "Job"
    PLURAL: ClassVar[str] = "jobs"
    spec: JobSpec | None = None


@dataclass
class NetworkPolicy(Object):
    API_VERSION: ClassVar[str] = "networking.k8s.io/v1"
    KIND: ClassVar[str] = "NetworkPolicy"
    PLURAL: ClassVar[str] = "networkpolicies"
    spec: NetworkPolicySpec | None = None


#: Every kind pycompose knows, in the order ``apply`` sends them (namespace and what
#: pods use first, workloads last) and ``down`` deletes them in reverse.
KINDS: tuple[type[Object], ...] = (
    Namespace, NetworkPolicy, ConfigMap, Secret, PersistentVolumeClaim, Service,
    StatefulSet, Deployment, DaemonSet, Job, Pod,
)
BY_KIND: dict[tuple[str, str], type[Object]] = {(k.API_VERSION, k.KIND): k for k in KINDS}

#: Workloads: the objects whose pods ``kube play`` runs.
Workload = Pod | Deployment | StatefulSet | DaemonSet | Job

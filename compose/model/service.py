"""A service of the Compose Specification, with every key in its long form.

Fields are declared in the order docker compose prints them in ``config`` (compose-go's
``ServiceConfig``), so that rendering is a plain dump. Short syntaxes are normalised on
the way in (see :mod:`.syntax`); the engine only ever sees the long forms.
"""

import posixpath
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    PrivateAttr,
    field_validator,
    model_serializer,
    model_validator,
)

from . import syntax
from .base import (
    Bytes,
    Command,
    Duration,
    EnvMap,
    EnvVars,
    LabelMap,
    Mapping,
    Options,
    Spec,
    StrList,
    Text,
    TextList,
    problem,
    wrap,
)

# -- build ---------------------------------------------------------------------------


def _hosts_as_list(value: dict[str, list[str]]) -> list[str]:
    return [f"{host}={ip}" for host in sorted(value) for ip in value[host]]


#: ``extra_hosts``: kept as host -> IPs, printed as docker compose prints it
#: (``host=ip``, sorted: ``=`` reads better than ``:`` with IPv6).
ExtraHosts = Annotated[dict[str, list[str]], BeforeValidator(wrap(syntax.extra_hosts)),
                       PlainSerializer(_hosts_as_list)]


class ServiceSecretRef(Spec):
    """A secret or config granted to a service (long form of ``- name``)."""

    source: str
    target: str | None = None
    uid: Text | None = None
    gid: Text | None = None
    #: Printed in octal as a string ("0440"), as compose-go's FileMode prints it.
    mode: Annotated[int, BeforeValidator(wrap(syntax.check_octal_mode)),
                    PlainSerializer(lambda v: f"0{v:o}", return_type=str)] | None = None


def _refs(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, list):
        raise syntax.SyntaxProblem(f"expected a list, got {syntax.kind_of(value)}")
    return [{"source": v} if isinstance(v, str) else v for v in value]


RefList = Annotated[list[ServiceSecretRef], BeforeValidator(wrap(_refs))]


class Ulimit(Spec):
    """One limit: ``nofile: 1024`` (one value for both) or ``{soft, hard}``. The one
    value is remembered so that ``config`` prints it as written, as compose-go's
    ``UlimitsConfig.Single`` does."""

    soft: int
    hard: int
    _single: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _one_value(cls, value: Any, handler: Any) -> Any:
        if (isinstance(value, int) and not isinstance(value, bool)) or \
                (isinstance(value, str) and value.strip().isdigit()):
            limit = handler({"soft": value, "hard": value})
            limit._single = True
            return limit
        return handler(value)

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> Any:
        return self.soft if self._single and self.soft else handler(self)

    def __eq__(self, other: object) -> bool:
        # the same limits, however they were written
        if isinstance(other, Ulimit):
            return (self.soft, self.hard) == (other.soft, other.hard)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _ulimits(value: Any) -> Any:
    if not isinstance(value, dict):
        raise syntax.SyntaxProblem(f"expected a mapping of limits, got {syntax.kind_of(value)}")
    return value


Ulimits = Annotated[dict[str, Ulimit], BeforeValidator(wrap(_ulimits))]


class Build(Spec):
    context: str | None = None
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    entitlements: TextList | None = None
    args: EnvVars | None = None
    provenance: Text | None = None
    sbom: Text | None = None
    #: Printed as a list (``default``, ``id=path``), as compose-go prints SSH keys.
    ssh: Annotated[EnvMap, PlainSerializer(
        lambda m: [k if not v else f"{k}={v}" for k, v in m.items()],
        return_type=list[str])] | None = None
    labels: LabelMap | None = None
    cache_from: TextList | None = None
    cache_to: TextList | None = None
    no_cache: bool | None = None
    #: Stages built without the cache (``no_cache_filter: [deps]``, or one stage).
    no_cache_filter: StrList | None = None
    additional_contexts: Mapping | None = None
    pull: bool | None = None
    extra_hosts: ExtraHosts | None = None
    isolation: str | None = None
    network: str | None = None
    target: str | None = None
    secrets: RefList | None = None
    shm_size: Bytes | None = None
    tags: TextList | None = None
    ulimits: Ulimits | None = None
    platforms: TextList | None = None
    privileged: bool | None = None

    @model_validator(mode="after")
    def _default_dockerfile(self) -> "Build":
        if self.dockerfile is None and self.dockerfile_inline is None:
            self.dockerfile = "Dockerfile"
        return self


def _build(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


# -- development, hooks, deploy -------------------------------------------------------


class Hook(Spec):
    """A ``post_start``/``pre_stop`` command run in the service's container."""

    command: Command
    user: str | None = None
    privileged: bool | None = None
    working_dir: str | None = None
    environment: EnvVars | None = None


class PreStartHook(Spec):
    """A ``pre_start`` step: an ephemeral container run to completion before the
    service's own starts. Without ``image`` it takes the service's (compose-go's
    normalisation, done in :meth:`Service._pre_start_images`); ``command`` may be left
    to the image's entrypoint. Fields in compose-go's ``ServiceHook`` order."""

    command: Command = None
    image: str | None = None
    user: str | None = None
    privileged: bool | None = None
    working_dir: str | None = None
    environment: EnvVars | None = None
    per_replica: bool | None = None


def _provider_options(value: Any) -> Any:
    """``options`` of a provider: each value one scalar or a list of them, kept as a
    list of strings, as compose-go's ``MultiOptions`` keeps (and prints) them."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise syntax.SyntaxProblem(f"expected a mapping, got {syntax.kind_of(value)}")
    out: dict[str, list[str]] = {}
    for k, v in value.items():
        items = v if isinstance(v, list) else [v]
        for item in items:
            if isinstance(item, (dict, list)) or item is None:
                raise syntax.SyntaxProblem(
                    f"expected a string, number or boolean (or a list of them) for "
                    f"{k!r}, got {syntax.kind_of(item)}")
        out[str(k)] = [syntax.scalar_text(i) for i in items]
    return out


class Provider(Spec):
    """``provider:``: a service that an external component sets up and tears down."""

    type: str
    options: Annotated[dict[str, list[str]],
                       BeforeValidator(wrap(_provider_options))] | None = None


def _watched_path(value: str) -> str:
    if not value:
        raise problem("the path to watch is blank: give a file or folder of the project")
    return value


class Watch(Spec):
    path: Annotated[str, AfterValidator(_watched_path)]
    action: Literal["rebuild", "sync", "restart", "sync+restart", "sync+exec"]
    target: str | None = None
    exec: Hook | None = None
    include: StrList | None = None
    ignore: StrList | None = None
    initial_sync: bool | None = None


class Develop(Spec):
    watch: list[Watch] | None = None


class BlkioLimit(Spec):
    path: str
    rate: Bytes


class BlkioWeight(Spec):
    path: str
    weight: Annotated[int, Field(ge=10, le=1000)]


class BlkioConfig(Spec):
    weight: Annotated[int, Field(ge=10, le=1000)] | None = None
    weight_device: list[BlkioWeight] | None = None
    device_read_bps: list[BlkioLimit] | None = None
    device_read_iops: list[BlkioLimit] | None = None
    device_write_bps: list[BlkioLimit] | None = None
    device_write_iops: list[BlkioLimit] | None = None


def _device_count(value: Any) -> Any:
    """``count: all`` or a number, kept as compose-go keeps it: an integer, -1 for all
    (and printed so: ``docker compose config`` writes ``count: -1``)."""
    if isinstance(value, bool):
        raise syntax.SyntaxProblem("expected 'all' or a number of devices")
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return -1
        try:
            return int(value)
        except ValueError:
            raise syntax.SyntaxProblem(
                f"invalid value {value!r}, the only value allowed is 'all' or a number")
    return value


class DeviceRequest(Spec):
    """A ``gpus`` entry or a ``deploy.resources.reservations.devices`` one: keys in
    compose-go's ``DeviceRequest`` order; neither count nor device_ids means all."""

    capabilities: TextList | None = None
    driver: str | None = None
    count: Annotated[int, BeforeValidator(wrap(_device_count))] | None = None
    device_ids: TextList | None = None
    options: Mapping | None = None

    @model_validator(mode="after")
    def _count_or_ids(self) -> "DeviceRequest":
        if self.count is not None and self.device_ids is not None:
            raise problem('"count" and "device_ids" attributes are exclusive: '
                          "give the number of devices or their ids")
        if self.count is None and self.device_ids is None:
            self.count = -1
        return self


class ReservedDevice(DeviceRequest):
    """A ``deploy.resources.reservations.devices`` entry: ``capabilities`` is
    required there (the spec's schema)."""

    capabilities: TextList


class DiscreteResource(Spec):
    kind: str | None = None
    value: float | None = None


class GenericResource(Spec):
    discrete_resource_spec: DiscreteResource | None = None


class Limits(Spec):
    cpus: float | None = None
    memory: Bytes | None = None
    pids: int | None = None


class Reservations(Spec):
    cpus: float | None = None
    memory: Bytes | None = None
    generic_resources: list[GenericResource] | None = None
    devices: list[ReservedDevice] | None = None


class Resources(Spec):
    limits: Limits | None = None
    reservations: Reservations | None = None


class RestartPolicy(Spec):
    condition: Literal["none", "on-failure", "any"] | None = None
    delay: Duration | None = None
    max_attempts: int | None = None
    window: Duration | None = None


class UpdateConfig(Spec):
    parallelism: int | None = None
    delay: Duration | None = None
    failure_action: str | None = None
    monitor: Duration | None = None
    max_failure_ratio: float | None = None
    order: Literal["start-first", "stop-first"] | None = None


class Preference(Spec):
    spread: str | None = None


class Placement(Spec):
    constraints: TextList | None = None
    preferences: list[Preference] | None = None
    max_replicas_per_node: int | None = None


class Deploy(Spec):
    mode: Literal["replicated", "global", "replicated-job", "global-job"] | None = None
    replicas: Annotated[int, Field(ge=0)] | None = None
    labels: LabelMap | None = None
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    placement: Placement | None = None
    endpoint_mode: str | None = None


# -- the service's own keys ----------------------------------------------------------


class CredentialSpec(Spec):
    config: str | None = None
    file: str | None = None
    registry: str | None = None


class Dependency(Spec):
    condition: Literal["service_started", "service_healthy",
                       "service_completed_successfully"]
    restart: bool | None = None
    required: bool = True


def _depends_on(value: Any) -> Any:
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if not isinstance(item, str):
                raise syntax.SyntaxProblem(f"expected service names, got "
                                           f"{syntax.kind_of(item)}")
            out[item] = {"condition": "service_started", "required": True}
        return out
    return value


class Device(Spec):
    source: str
    target: str | None = None
    permissions: str | None = None


def _device(value: Any) -> Any:
    return syntax.parse_device(value) if isinstance(value, str) else value


class EnvFile(Spec):
    path: str
    required: bool = True
    format: str | None = None


def _env_file(value: Any) -> Any:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [{"path": v} if isinstance(v, str) else v for v in items]


class Extends(Spec):
    file: str | None = None
    service: str


class Healthcheck(Spec):
    test: Annotated[list[str] | None, BeforeValidator(wrap(
        lambda v: ["CMD-SHELL", v] if isinstance(v, str) else syntax.command(v)))] = None
    timeout: Duration | None = None
    interval: Duration | None = None
    retries: int | None = None
    start_period: Duration | None = None
    start_interval: Duration | None = None
    disable: bool | None = None

    @field_validator("test")
    @classmethod
    def _test(cls, v: list[str] | None) -> list[str] | None:
        if v and v[0] not in ("NONE", "CMD", "CMD-SHELL"):
            raise problem(f"a healthcheck test list must start with CMD, CMD-SHELL or "
                          f"NONE, got {v[0]!r}")
        return v


class Logging(Spec):
    driver: str | None = None
    options: Options | None = None


class ServiceNetwork(Spec):
    aliases: TextList | None = None
    driver_opts: Options | None = None
    gw_priority: int | None = None
    interface_name: str | None = None
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: TextList | None = None
    mac_address: str | None = None
    priority: int | None = None


def _networks(value: Any) -> Any:
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise syntax.SyntaxProblem(f"expected network names, got "
                                           f"{syntax.kind_of(item)}")
        return dict.fromkeys(value)
    return value


class PortConfig(Spec):
    name: str | None = None
    mode: str = "ingress"
    host_ip: str | None = None
    target: Annotated[int, BeforeValidator(wrap(syntax.check_target))]
    published: Annotated[str | None, BeforeValidator(wrap(syntax.check_published))] = None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    app_protocol: str | None = None

    @model_validator(mode="after")
    def _host_ip(self) -> "PortConfig":
        if self.host_ip:
            import ipaddress

            try:
                ipaddress.ip_address(self.host_ip)
            except ValueError:
                raise problem(f"invalid ip address: {self.host_ip} (host_ip is an IPv4 or "
                              "IPv6 address of this host, like 127.0.0.1)")
        return self


def _port_item(value: Any) -> Any:
    return [value] if isinstance(value, dict) else syntax.parse_port(value)


def _flatten(value: list[list[PortConfig]]) -> list[PortConfig]:
    return [p for group in value for p in group]


def _dump_ports(value: list[PortConfig]) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json", exclude_none=True) for p in value]


# Each written entry is validated at its own index (so errors say ``ports[1]``), then
# the expanded ranges are flattened into one list.
Ports = Annotated[
    list[Annotated[list[PortConfig], BeforeValidator(wrap(_port_item))]],
    AfterValidator(_flatten),
    PlainSerializer(_dump_ports),
]


class BindOptions(Spec):
    selinux: Literal["z", "Z"] | None = None
    propagation: Literal["shared", "rshared", "slave", "rslave", "private",
                         "rprivate"] | None = None
    create_host_path: bool | None = None
    recursive: Literal["enabled", "disabled", "writable", "readonly"] | None = None


class VolumeOptions(Spec):
    labels: LabelMap | None = None
    nocopy: bool | None = None
    subpath: str | None = None


class TmpfsOptions(Spec):
    size: Annotated[Bytes, Field(ge=0)] | None = None
    mode: Annotated[int, BeforeValidator(wrap(syntax.check_octal_mode))] | None = None


class ImageOptions(Spec):
    subpath: str | None = None


class VolumeMount(Spec):
    type: Literal["bind", "volume", "tmpfs", "cluster", "npipe", "image"]
    source: str | None = None
    target: str | None = None
    read_only: bool | None = None
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image: ImageOptions | None = None

    @model_validator(mode="after")
    def _check(self) -> "VolumeMount":
        if not self.target and self.type != "npipe":
            raise problem(f"a {self.type} mount needs a target path")
        if self.type in ("bind", "image", "npipe") and not self.source:
            raise problem(f"a {self.type} mount needs a source")
        if self.type == "volume" and self.volume is None:
            self.volume = VolumeOptions()
        if self.target:
            self.target = clean_path(self.target)
        return self


def clean_path(path: str) -> str:
    """A container path cleaned as Go's ``path.Clean`` cleans it (docker compose
    normalises mount targets so): no trailing ``/``, no ``.``/``..`` steps, one
    leading ``/`` (POSIX's ``normpath`` keeps two)."""
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


def _volume(value: Any) -> Any:
    return syntax.parse_volume(value) if isinstance(value, str) else value


_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def _container_name(value: Any) -> Any:
    if isinstance(value, str) and not _CONTAINER_NAME.match(value):
        raise syntax.SyntaxProblem(
            f"invalid container name {value!r}: expected letters, digits, '_', '.', '-', "
            "starting with a letter or digit")
    return value


def _gpus(value: Any) -> Any:
    if value == "all":
        return [{"count": "all"}]
    return value


class Service(Spec):
    """One ``services.NAME`` entry. ``None`` means "not set" for every key."""

    profiles: TextList | None = None
    annotations: LabelMap | None = None
    attach: bool | None = None
    build: Annotated[Build, BeforeValidator(_build)] | None = None
    develop: Develop | None = None
    blkio_config: BlkioConfig | None = None
    cap_add: TextList | None = None
    cap_drop: TextList | None = None
    cgroup_parent: str | None = None
    cgroup: Literal["host", "private"] | None = None
    cpu_count: Annotated[int, Field(ge=0)] | None = None
    cpu_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpu_rt_period: int | None = None
    cpu_rt_runtime: int | None = None
    cpus: float | None = None
    cpuset: str | None = None
    cpu_shares: int | None = None
    command: Command = None
    configs: RefList | None = None
    container_name: Annotated[str, BeforeValidator(wrap(_container_name))] | None = None
    credential_spec: CredentialSpec | None = None
    depends_on: Annotated[dict[str, Dependency],
                          BeforeValidator(wrap(_depends_on))] | None = None
    deploy: Deploy | None = None
    device_cgroup_rules: TextList | None = None
    devices: list[Annotated[Device, BeforeValidator(wrap(_device))]] | None = None
    #: Empty entries are dropped (``dns: ${DNS}`` with DNS unset is no server, as
    #: compose-go's OmitEmpty has it).
    dns: Annotated[StrList, AfterValidator(lambda v: [x for x in v if x])] | None = None
    dns_opt: TextList | None = None
    dns_search: StrList | None = None
    domainname: str | None = None
    entrypoint: Command = None
    provider: Provider | None = None
    environment: EnvVars | None = None
    env_file: Annotated[list[EnvFile], BeforeValidator(_env_file)] | None = None
    expose: TextList | None = None
    extends: Annotated[Extends, BeforeValidator(
        lambda v: {"service": v} if isinstance(v, str) else v)] | None = None
    external_links: TextList | None = None
    extra_hosts: ExtraHosts | None = None
    group_add: TextList | None = None
    gpus: Annotated[list[DeviceRequest], BeforeValidator(_gpus)] | None = None
    hostname: str | None = None
    healthcheck: Healthcheck | None = None
    image: str | None = None
    init: bool | None = None
    ipc: str | None = None
    isolation: str | None = None
    labels: LabelMap | None = None
    label_file: StrList | None = None
    links: TextList | None = None
    logging: Logging | None = None
    mem_limit: Bytes | None = None
    mem_reservation: Bytes | None = None
    memswap_limit: Bytes | None = None
    mem_swappiness: Annotated[int, Field(ge=0, le=100)] | None = None
    mac_address: str | None = None
    #: ``[llm]`` or ``{llm: {endpoint_var, model_var}}``; kept as a mapping, as
    #: compose-go keeps it (a list entry has no options).
    models: Annotated[Any, BeforeValidator(
        lambda v: {str(m): None for m in v} if isinstance(v, list) else v)] = None
    network_mode: str | None = None
    networks: Annotated[dict[str, ServiceNetwork | None],
                        BeforeValidator(wrap(_networks))] | None = None
    oom_kill_disable: bool | None = None
    oom_score_adj: Annotated[int, Field(ge=-1000, le=1000)] | None = None
    pid: str | None = None
    pids_limit: int | None = None
    platform: str | None = None
    ports: Ports | None = None
    privileged: bool | None = None
    pull_policy: Annotated[str, BeforeValidator(wrap(syntax.check_pull_policy))] | None = None
    pull_refresh_after: str | None = None
    read_only: bool | None = None
    restart: Annotated[str, BeforeValidator(wrap(syntax.check_restart))] | None = None
    runtime: str | None = None
    scale: Annotated[int, Field(ge=0)] | None = None
    secrets: RefList | None = None
    security_opt: TextList | None = None
    shm_size: Bytes | None = None
    stdin_open: bool | None = None
    stop_grace_period: Duration | None = None
    stop_signal: str | None = None
    storage_opt: Options | None = None
    sysctls: Mapping | None = None
    tmpfs: StrList | None = None
    tty: bool | None = None
    ulimits: Ulimits | None = None
    use_api_socket: bool | None = None
    user: Text | None = None
    userns_mode: str | None = None
    uts: str | None = None
    volumes: list[Annotated[VolumeMount, BeforeValidator(wrap(_volume))]] | None = None
    volumes_from: TextList | None = None
    working_dir: str | None = None
    pre_start: list[PreStartHook] | None = None
    post_start: list[Hook] | None = None
    pre_stop: list[Hook] | None = None

    #: What each ``env_file`` gave, in order (absolute path -> its variables), kept
    #: when validation folds them into ``environment`` and drops the key (as ``docker
    #: compose config`` does): ``kube generate`` makes a ConfigMap of each file.
    _env_files: list[tuple[str, dict[str, str]]] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _pre_start_images(self) -> "Service":
        # a pre_start step without an image runs in the service's (compose-go's
        # normalisation; a service that only builds leaves it unset)
        if self.image:
            for hook in self.pre_start or ():
                if hook.image is None:
                    hook.image = self.image
        return self

    def env_files_read(self) -> list[tuple[str, dict[str, str]]]:
        """The env files folded into ``environment``, with the variables each gave."""
        return list(self._env_files)

    def replicas(self) -> int:
        """How many containers this service runs (``scale``, else ``deploy.replicas``)."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1

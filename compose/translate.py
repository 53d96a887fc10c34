"""From a validated service to what the engine runs: names, labels, the config hash,
and the options of one container.

Pure functions: no engine, no kernel. The options are the engine's ``create`` request
(:class:`pycompose.engine.api.CreateRequest`, the same ``pycompose container run``
builds from its flags), so a compose service runs exactly as the equivalent
``container run`` would.
"""

from __future__ import annotations

from typing import Any

from ..engine.api import (
    CreateRequest,
    DeviceCgroupRule,
    DeviceMapping,
    Endpoint,
    Healthcheck,
    LogConfig,
    Mount,
    PortBinding,
    Resources,
    RestartPolicy,
    Ulimit,
    device_mapping,
    parse_device_cgroup_rule,
)
from .model import Project, Service

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_HASH = "com.docker.compose.config-hash"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_DEPENDS = "com.docker.compose.depends_on"
LABEL_IMAGE = "com.docker.compose.image"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"
LABEL_VERSION = "com.docker.compose.version"

COMPOSE_VERSION = "2.40.0-pycompose"

def image_of(project: Project, service: str, svc: Service) -> str:
    """The image a service runs: ``image:``, else the name docker compose gives a build."""
    return svc.image or f"{project.name}-{service}"


def container_name(project: Project, service: str, svc: Service, number: int) -> str:
    """``PROJECT-SERVICE-N``; docker compose v1's ``PROJECT_SERVICE_N`` with
    ``--compatibility`` (``COMPOSE_COMPATIBILITY=true``, as docker compose reads it)."""
    if svc.container_name:
        return svc.container_name
    sep = "_" if compatibility() else "-"
    return f"{project.name}{sep}{service}{sep}{number}"


def compatibility() -> bool:
    import os

    return os.environ.get("COMPOSE_COMPATIBILITY", "").lower() in ("1", "true")


def replicas(svc: Service) -> int:
    if svc.scale is not None:
        return svc.scale
    if svc.deploy is not None and svc.deploy.replicas is not None:
        return svc.deploy.replicas
    return 1


def network_name(project: Project, key: str) -> str:
    """A project network's real name: ``name:``, else the key for an external one,
    else ``PROJECT_KEY`` (compose-go's rule)."""
    net = project.networks.get(key)
    if net is not None and net.name:
        return net.name
    if net is not None and net.external:
        return key
    return f"{project.name}_{key}"


def volume_name(project: Project, key: str) -> str:
    """A project volume's real name, by the same rule as networks'."""
    vol = project.volumes.get(key)
    if vol is not None and vol.name:
        return vol.name
    if vol is not None and vol.external:
        return key
    return f"{project.name}_{key}"


def service_networks(svc: Service) -> dict[str, Any]:
    """The networks a service joins (``default`` when it names none), in priority order."""
    if svc.network_mode:
        return {}
    nets = dict(svc.networks or {"default": None})
    return dict(sorted(nets.items(),
                       key=lambda kv: -((kv[1].priority or 0) if kv[1] is not None else 0)))


def config_hash(project: Project, service: str) -> str:
    """docker compose's ``config-hash`` label: when it changes, ``up`` recreates."""
    from .render import service_hash

    return service_hash(project, service)


def _port(p: Any) -> PortBinding:
    lo, _, hi = (p.published or "").partition("-")
    return PortBinding(p.host_ip or "", int(lo) if lo else None, int(p.target), p.protocol,
                       int(hi) if hi and hi != lo else None)


def _mount(project: Project, m: Any) -> Mount:
    """A ``volumes:`` entry of a service as the engine's typed mount."""
    if m.type == "tmpfs":
        return Mount("tmpfs", m.target.rstrip("/") or "/",
                     tmpfs_size=m.tmpfs.size if m.tmpfs is not None else None,
                     tmpfs_mode=m.tmpfs.mode if m.tmpfs is not None else None)
    if m.type == "volume":
        return Mount("volume", m.target.rstrip("/") or "/",
                     volume_name(project, m.source) if m.source else "", bool(m.read_only),
                     no_copy=bool(m.volume is not None and m.volume.nocopy))
    return Mount(m.type, m.target.rstrip("/") or "/", m.source or "", bool(m.read_only),
                 create_host_path=bool(m.bind is not None and m.bind.create_host_path))


def _secret_mounts(project: Project, svc: Service) -> list[Mount]:
    """``secrets`` and ``configs`` backed by a file: read-only binds at
    ``/run/secrets/NAME`` (secrets) or ``/NAME`` (configs), or the given target."""
    out = []
    for refs, decls, default_dir in ((svc.secrets, project.secrets, "/run/secrets/"),
                                     (svc.configs, project.configs, "/")):
        for ref in refs or []:
            decl = decls.get(ref.source)
            if decl is None or not decl.file:
                continue
            target = ref.target or ref.source
            if not target.startswith("/"):
                target = default_dir + target
            out.append(Mount("bind", target, decl.file, read_only=True))
    return out


def unsupported_secrets(project: Project, service: str, svc: Service) -> list[str]:
    """Secrets and configs given by ``content``/``environment``/``external``, which are
    not mounted yet: the caller warns naming them."""
    out = []
    for kind, refs, decls in (("secrets", svc.secrets, project.secrets),
                              ("configs", svc.configs, project.configs)):
        for ref in refs or []:
            decl = decls.get(ref.source)
            if decl is not None and not decl.file:
                out.append(f"services.{service}.{kind}.{ref.source}")
    return out


def _restart(svc: Service) -> str | None:
    if svc.restart:
        return svc.restart
    policy = svc.deploy.restart_policy if svc.deploy else None
    if policy is None or policy.condition is None:
        return None
    if policy.condition == "any":
        return "always"
    if policy.condition == "on-failure":
        return f"on-failure:{policy.max_attempts}" if policy.max_attempts else "on-failure"
    return "no"


def labels_for(project: Project, service: str, svc: Service, number: int,
               *, oneoff: bool = False) -> dict[str, str]:
    labels = dict(svc.labels or {})
    deps = ",".join(f"{name}:{d.condition}:{str(bool(d.restart)).lower()}"
                    for name, d in (svc.depends_on or {}).items())
    labels.update({
        LABEL_PROJECT: project.name,
        LABEL_SERVICE: service,
        LABEL_NUMBER: str(number),
        LABEL_ONEOFF: "True" if oneoff else "False",
        LABEL_HASH: config_hash(project, service),
        LABEL_WORKDIR: str(project.working_dir),
        LABEL_FILES: ",".join(project.config_files),
        LABEL_DEPENDS: deps,
        LABEL_IMAGE: image_of(project, service, svc),
        LABEL_VERSION: COMPOSE_VERSION,
    })
    return labels


def _healthcheck(hc: Any) -> Healthcheck | None:
    if hc is None:
        return None
    if hc.disable:
        return Healthcheck(disable=True)

    def ns(seconds: float | None) -> int | None:
        return None if seconds is None else round(seconds * 1e9)

    return Healthcheck(test=list(hc.test) if hc.test else None, interval=ns(hc.interval),
                       timeout=ns(hc.timeout), start_period=ns(hc.start_period),
                       start_interval=ns(hc.start_interval), retries=hc.retries)


def _restart_policy(svc: Service) -> RestartPolicy:
    text = _restart(svc)
    if not text:
        return RestartPolicy()
    name, _, count = text.partition(":")
    return RestartPolicy(name, int(count) if count.isdigit() else 0)


def _network(project: Project, service: str, svc: Service,
             network_container: str | None) -> tuple[str, list[Endpoint]]:
    """(network mode, endpoints) of the service's containers."""
    mode = svc.network_mode
    if mode in ("host", "none"):
        return mode, []
    if mode and (mode.startswith("service:") or mode.startswith("container:")):
        return f"container:{network_container or mode.split(':', 1)[1]}", []
    if mode and mode != "bridge":
        return mode, []
    endpoints = []
    for key, att in service_networks(svc).items():
        aliases = [service, *(att.aliases or [] if att is not None else [])]
        endpoints.append(Endpoint(network_name(project, key), list(dict.fromkeys(aliases)),
                                  att.ipv4_address if att is not None else None,
                                  att.mac_address if att is not None else None))
    return "", endpoints


def _ipc(project: Project, svc: Service) -> str:
    """``ipc: service:X`` joins X's first container (by name: the engine resolves it at
    start, when depends_on has X running); the other modes pass as they are."""
    kind, _, target = (svc.ipc or "").partition(":")
    if kind != "service":
        return svc.ipc or ""
    other = project.all_services().get(target)
    return "container:" + (container_name(project, target, other, 1) if other is not None
                           else target)


def create_request(project: Project, service: str, svc: Service, number: int, *,
                   network_container: str | None = None) -> CreateRequest:
    """The engine's request for container ``number`` of ``service``.

    ``network_container`` is the container whose network namespace a
    ``network_mode: service:X`` joins (the caller picks X's running container).
    """
    network, endpoints = _network(project, service, svc, network_container)
    limits = svc.deploy.resources.limits if svc.deploy and svc.deploy.resources else None
    memory = svc.mem_limit or (limits.memory if limits else None)
    cpus = svc.cpus or (limits.cpus if limits else None)
    pids = svc.pids_limit or (limits.pids if limits else None)
    extra_hosts = [f"{h}:{ip}" for h, ips in (svc.extra_hosts or {}).items()
                   for ip in (ips if isinstance(ips, list) else [ips])]
    return CreateRequest(
        image=image_of(project, service, svc),
        name=container_name(project, service, svc, number),
        labels=labels_for(project, service, svc, number),
        command=list(svc.command) if svc.command is not None else [],
        entrypoint=list(svc.entrypoint) if svc.entrypoint is not None else None,
        env=[f"{k}={v}" for k, v in (svc.environment or {}).items() if v is not None],
        network=network, endpoints=endpoints, scope=project.name if endpoints else None,
        links=list(svc.links or []) if endpoints else [],
        ports=[_port(p) for p in svc.ports or []],
        expose=[p if "/" in str(p) else f"{p}/tcp" for p in svc.expose or []],
        mounts=[_mount(project, m) for m in svc.volumes or [] if m.type != "tmpfs"]
        + [_mount(project, m) for m in svc.volumes or [] if m.type == "tmpfs"]
        + _secret_mounts(project, svc) + [_tmpfs(t) for t in svc.tmpfs or []],
        hostname=svc.hostname or "", domainname=svc.domainname or "",
        user=svc.user or "", workdir=svc.working_dir or "", stop_signal=svc.stop_signal or "",
        tty=bool(svc.tty), open_stdin=bool(svc.stdin_open), privileged=bool(svc.privileged),
        read_only=bool(svc.read_only), init=bool(svc.init),
        stop_timeout=int(svc.stop_grace_period) if svc.stop_grace_period is not None
        else None,
        cap_add=list(svc.cap_add or []), cap_drop=list(svc.cap_drop or []),
        security_opt=list(svc.security_opt or []), dns=list(svc.dns or []),
        dns_search=list(svc.dns_search or []), dns_options=list(svc.dns_opt or []),
        group_add=[str(g) for g in svc.group_add or []], extra_hosts=extra_hosts,
        restart=_restart_policy(svc), userns=svc.userns_mode or "", ipc=_ipc(project, svc),
        resources=Resources(
            memory=int(memory or 0), memory_swap=int(svc.memswap_limit or 0),
            nano_cpus=int(float(cpus) * 1e9) if cpus else 0,
            cpu_shares=int(svc.cpu_shares or 0), cpuset_cpus=svc.cpuset or "",
            pids_limit=int(pids) if pids else None,
            oom_score_adj=int(svc.oom_score_adj or 0),
            shm_size=int(svc.shm_size) if svc.shm_size else 64 << 20),
        ulimits=[Ulimit(k, u.soft, u.hard) for k, u in (svc.ulimits or {}).items()],
        devices=_devices(service, svc),
        device_cgroup_rules=_device_cgroup_rules(service, svc),
        sysctls={k: str(v) for k, v in (svc.sysctls or {}).items()},
        healthcheck=_healthcheck(svc.healthcheck),
        log_config=_log_config(svc),
    )


def _devices(service: str, svc: Service) -> list[DeviceMapping]:
    """``devices:`` (short or long syntax, both a source, target and permissions by
    now) as ``--device`` gives them."""
    return [device_mapping(d.source, d.target or "", d.permissions or "rwm",
                           f"services.{service}.devices")
            for d in svc.devices or []]


def _device_cgroup_rules(service: str, svc: Service) -> list[DeviceCgroupRule]:
    return [parse_device_cgroup_rule(r, f"services.{service}.device_cgroup_rules")
            for r in svc.device_cgroup_rules or []]


def _tmpfs(text: str) -> Mount:
    """A ``tmpfs:`` entry (``/run`` or ``/run:size=64m``)."""
    from pycompose.util.units import parse_size

    target, _, opts = text.partition(":")
    m = Mount("tmpfs", target.rstrip("/") or "/")
    for o in (o for o in opts.split(",") if o):
        k, _, v = o.partition("=")
        if k == "size":
            m.tmpfs_size = parse_size(v)
        elif k == "mode":
            m.tmpfs_mode = int(v, 8)
    return m


def _log_config(svc: Service) -> LogConfig:
    """``logging: {driver, options}`` as the engine's log config (``--log-driver``,
    ``--log-opt``); an option without a value (null or "") is left out: the driver's
    default stands."""
    logging = getattr(svc, "logging", None)
    if logging is None:
        return LogConfig()
    return LogConfig(logging.driver or "",
                     {k: str(v) for k, v in (logging.options or {}).items() if v != ""})

"""From a validated service to what the engine runs: names, labels, the config hash,
and the options of one container.

Pure functions: no engine, no kernel. The options are the engine's ``create`` request
(the same dictionary ``pycompose container run`` builds from its flags), so a compose
service runs exactly as the equivalent ``container run`` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    return svc.container_name or f"{project.name}-{service}-{number}"


def replicas(svc: Service) -> int:
    if svc.scale is not None:
        return svc.scale
    if svc.deploy is not None and svc.deploy.replicas is not None:
        return svc.deploy.replicas
    return 1


def network_name(project: Project, key: str) -> str:
    """A project network's real name: ``name:``, else ``PROJECT_KEY``."""
    net = project.networks.get(key)
    if net is not None and net.name:
        return net.name
    return f"{project.name}_{key}"


def volume_name(project: Project, key: str) -> str:
    vol = project.volumes.get(key)
    if vol is not None and vol.name:
        return vol.name
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


@dataclass(frozen=True)
class Placement:
    """Where one container of a service stands: its number and name."""

    service: str
    number: int
    name: str


def _port(p: Any) -> str:
    host = ""
    if p.host_ip:
        host = f"[{p.host_ip}]:" if ":" in p.host_ip else f"{p.host_ip}:"
    published = f"{p.published}:" if p.published else ("" if not host else ":")
    return f"{host}{published}{p.target}/{p.protocol}"


def _mount(project: Project, m: Any) -> tuple[str, str]:
    """A volume entry as the engine's ``--mount`` or ``--tmpfs`` text: (kind, text)."""
    if m.type == "tmpfs":
        opts = []
        if m.tmpfs is not None and m.tmpfs.size:
            opts.append(f"size={m.tmpfs.size}")
        if m.tmpfs is not None and m.tmpfs.mode is not None:
            opts.append(f"mode={m.tmpfs.mode:o}")
        return "tmpfs", m.target + (":" + ",".join(opts) if opts else "")
    parts = [f"type={m.type}"]
    if m.type == "volume":
        if m.source:
            parts.append(f"source={volume_name(project, m.source)}")
        if m.volume is not None and m.volume.nocopy:
            parts.append("volume-nocopy=true")
    elif m.source:
        parts.append(f"source={m.source}")
    parts.append(f"target={m.target}")
    if m.read_only:
        parts.append("readonly")
    return "mount", ",".join(parts)


def _secret_mounts(project: Project, svc: Service) -> list[str]:
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
            out.append(f"type=bind,source={decl.file},target={target},readonly")
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


def run_options(project: Project, service: str, svc: Service, number: int, *,
                network_container: str | None = None) -> dict[str, Any]:
    """The engine's create options for container ``number`` of ``service``.

    ``network_container`` is the container whose network namespace a
    ``network_mode: service:X`` joins (the caller picks X's running container).
    """
    o: dict[str, Any] = {
        "name": container_name(project, service, svc, number),
        "image": image_of(project, service, svc),
        "detach": True,
        "labels": [f"{k}={v}" for k, v in
                   labels_for(project, service, svc, number).items()],
    }
    if svc.command is not None:
        o["command"] = list(svc.command)
    if svc.entrypoint is not None:
        o["entrypoint"] = list(svc.entrypoint)  # a list: exact argv ([] clears it)
    env = {k: v for k, v in (svc.environment or {}).items() if v is not None}
    if env:
        o["env"] = [f"{k}={v}" for k, v in env.items()]
    # network
    mode = svc.network_mode
    if mode in ("host", "none"):
        o["network"] = mode
    elif mode and (mode.startswith("service:") or mode.startswith("container:")):
        o["network"] = f"container:{network_container or mode.split(':', 1)[1]}"
    elif mode and mode != "bridge":
        o["network"] = mode
    else:
        nets = []
        for key, att in service_networks(svc).items():
            aliases = [service, *(att.aliases or [] if att is not None else [])]
            entry: dict[str, Any] = {"name": network_name(project, key),
                                     "aliases": list(dict.fromkeys(aliases))}
            if att is not None and att.ipv4_address:
                entry["ipv4_address"] = att.ipv4_address
            if att is not None and att.mac_address:
                entry["mac_address"] = att.mac_address
            nets.append(entry)
        o["networks"] = nets
        if svc.links:
            o["links"] = list(svc.links)
    if svc.ipc:
        # ``service:X`` joins X's first container (by name: the engine resolves it at
        # start, when depends_on has X running)
        kind, _, target = svc.ipc.partition(":")
        if kind == "service":
            other = project.all_services().get(target)
            o["ipc"] = "container:" + (container_name(project, target, other, 1)
                                       if other is not None else target)
        else:
            o["ipc"] = svc.ipc
    if svc.ports:
        o["publish"] = [_port(p) for p in svc.ports]
    if svc.expose:
        o["expose"] = list(svc.expose)
    # storage
    mounts: list[str] = []
    tmpfs: list[str] = list(svc.tmpfs or [])
    for m in svc.volumes or []:
        kind, text = _mount(project, m)
        (tmpfs if kind == "tmpfs" else mounts).append(text)
    mounts += _secret_mounts(project, svc)
    if mounts:
        o["mounts"] = mounts
    if tmpfs:
        o["tmpfs"] = tmpfs
    # identity and process
    simple = {
        "hostname": svc.hostname, "domainname": svc.domainname, "user": svc.user,
        "workdir": svc.working_dir, "stop_signal": svc.stop_signal,
        "cpuset_cpus": svc.cpuset, "userns": svc.userns_mode,
    }
    o.update({k: v for k, v in simple.items() if v})
    flags = {"tty": svc.tty, "interactive": svc.stdin_open, "privileged": svc.privileged,
             "read_only": svc.read_only, "init": svc.init}
    o.update({k: True for k, v in flags.items() if v})
    if svc.stop_grace_period is not None:
        o["stop_timeout"] = int(svc.stop_grace_period)
    for key in ("cap_add", "cap_drop", "security_opt", "dns", "dns_search", "dns_opt",
                "group_add"):
        value = getattr(svc, key, None)
        if value:
            o[key] = list(value)
    if svc.extra_hosts:
        o["extra_hosts"] = [f"{h}:{ip}" for h, ips in svc.extra_hosts.items()
                            for ip in (ips if isinstance(ips, list) else [ips])]
    restart = _restart(svc)
    if restart:
        o["restart"] = restart
    # resources
    limits = svc.deploy.resources.limits if svc.deploy and svc.deploy.resources else None
    memory = svc.mem_limit or (limits.memory if limits else None)
    if memory:
        o["memory"] = str(memory)
    if svc.memswap_limit:
        o["memory_swap"] = str(svc.memswap_limit)
    cpus = svc.cpus or (limits.cpus if limits else None)
    if cpus:
        o["cpus"] = str(cpus)
    pids = svc.pids_limit or (limits.pids if limits else None)
    if pids:
        o["pids_limit"] = pids
    if svc.cpu_shares:
        o["cpu_shares"] = svc.cpu_shares
    if svc.oom_score_adj is not None:
        o["oom_score_adj"] = svc.oom_score_adj
    if svc.shm_size:
        o["shm_size"] = str(svc.shm_size)
    if svc.ulimits:
        o["ulimits"] = [f"{k}={u.soft}:{u.hard}" for k, u in svc.ulimits.items()]
    if svc.sysctls:
        o["sysctls"] = [f"{k}={v}" for k, v in svc.sysctls.items()]
    if svc.healthcheck is not None:
        o["healthcheck"] = svc.healthcheck.model_dump(mode="python", exclude_none=True)
    return o

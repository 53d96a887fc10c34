"""One compose service as a pod template: its container, volumes, environment, probes,
security context and init containers. Part of ``kube generate`` (see generate.py): the
objects a pod refers to (ConfigMaps, Secrets, claims) are handed to the ``Context``,
which makes each once however many services use it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..compose import translate as T
from ..compose.model.syntax import parse_bytes
from . import manifest as M
from . import names as N
from . import quantity as Q

if TYPE_CHECKING:
    from ..compose.model import Service
    from ..compose.model.service import PortConfig
    from .context import Context

#: docker's healthcheck defaults, which Kubernetes' probes do not share.
HC_INTERVAL, HC_TIMEOUT, HC_RETRIES, HC_START_INTERVAL = 30.0, 30.0, 3, 5.0


def escape(text: str) -> str:
    """Kubernetes expands ``$(VAR)`` in env values, command and args; compose does not:
    ``$$(`` keeps the text as written."""
    return text.replace("$(", "$$(")


def _command(test: list[str]) -> list[str] | None:
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:])


def probes(svc: Service) -> tuple[M.Probe | None, M.Probe | None]:
    """(probe, startup probe) of a healthcheck: the probe serves as readiness (Services
    route only to healthy pods, as service_healthy waits for them) and liveness (swarm
    restarts an unhealthy task); ``start_period`` becomes a startup probe, whose budget
    is the start period plus the retries."""
    hc = svc.healthcheck
    if hc is None or hc.disable or not hc.test:
        return None, None
    command = _command(hc.test)
    if command is None:
        return None, None
    period = Q.seconds(hc.interval if hc.interval is not None else HC_INTERVAL)
    timeout = Q.seconds(hc.timeout if hc.timeout is not None else HC_TIMEOUT)
    retries = max(1, hc.retries if hc.retries is not None else HC_RETRIES)
    probe = M.Probe(exec_=M.ExecAction(command=command), period_seconds=period,
                    timeout_seconds=timeout, failure_threshold=retries)
    startup = None
    if hc.start_period:
        every = hc.start_interval or HC_START_INTERVAL
        startup = M.Probe(exec_=M.ExecAction(command=command),
                          period_seconds=Q.seconds(every), timeout_seconds=timeout,
                          failure_threshold=math.ceil(hc.start_period / every) + retries)
    return probe, startup


def _ids(user: str) -> tuple[int | None, int | None] | None:
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return None
    return int(uid), (int(gid) if gid else None)


def security(ctx: Context, service: str, svc: Service) -> M.SecurityContext | None:
    sc = M.SecurityContext()
    if svc.user:
        ids = _ids(svc.user)
        if ids is None:
            ctx.warn(service, "user", f"{svc.user!r} not translated: runAsUser and "
                     "runAsGroup take numeric ids (give the ids the image's user has)")
        else:
            sc.run_as_user, sc.run_as_group = ids
    caps = M.Capabilities(
        add=[c.upper().removeprefix("CAP_") for c in svc.cap_add] if svc.cap_add else None,
        drop=[c.upper().removeprefix("CAP_") for c in svc.cap_drop] if svc.cap_drop else None)
    if caps.add or caps.drop:
        sc.capabilities = caps
    if svc.read_only:
        sc.read_only_root_filesystem = True
    for opt in svc.security_opt or []:
        key, _, value = opt.replace(":", "=", 1).partition("=")
        if key == "no-new-privileges" and value in ("", "true"):
            sc.allow_privilege_escalation = False
        else:
            ctx.warn(service, "security_opt", f"{opt!r} not translated: only "
                     "no-new-privileges has a Kubernetes field (allowPrivilegeEscalation)")
    return sc if sc != M.SecurityContext() else None


def resources(ctx: Context, service: str, svc: Service) -> M.ResourceRequirements | None:
    res = svc.deploy.resources if svc.deploy and svc.deploy.resources else None
    lim = res.limits if res else None
    rsv = res.reservations if res else None
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    cpus = svc.cpus or (lim.cpus if lim else None)
    if cpus:
        limits["cpu"] = Q.cpu(cpus)
    memory = svc.mem_limit or (lim.memory if lim else None)
    if memory:
        limits["memory"] = Q.memory(memory)
    if rsv is not None and rsv.cpus:
        requests["cpu"] = Q.cpu(rsv.cpus)
    elif svc.cpu_shares:
        requests["cpu"] = Q.cpu(svc.cpu_shares / 1024)
    reserved = svc.mem_reservation or (rsv.memory if rsv else None)
    if reserved:
        requests["memory"] = Q.memory(reserved)
    if lim is not None and lim.pids:
        ctx.warn(service, "deploy.resources.limits.pids",
                 "not translated: the kubelet sets a node-wide pids limit")
    if rsv is not None and (rsv.devices or rsv.generic_resources):
        ctx.warn(service, "deploy.resources.reservations.devices",
                 "not translated: devices need a device plugin's resource name")
    if not limits and not requests:
        return None
    return M.ResourceRequirements(limits=limits or None, requests=requests or None)


def _expose(entry: str) -> list[tuple[int, str]]:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", entry.strip())
    if not m:
        return []
    low, high, proto = int(m[1]), int(m[2] or m[1]), (m[3] or "tcp")
    return [(p, proto) for p in range(low, high + 1)]


def published(svc: Service) -> list[PortConfig]:
    """``ports``, flat (the model's annotation is the nested form it validates)."""
    return cast("list[PortConfig]", svc.ports or [])


def container_ports(svc: Service) -> list[tuple[int, str]]:
    """(port, protocol) the service listens on: published targets, then ``expose``."""
    out: list[tuple[int, str]] = [(p.target, p.protocol) for p in published(svc)]
    for entry in svc.expose or []:
        out += _expose(entry)
    return list(dict.fromkeys(out))


def environment(ctx: Context, service: str, svc: Service
                ) -> tuple[list[M.EnvVar] | None, list[M.EnvFromSource] | None]:
    """``env_file``s as ConfigMaps (``envFrom``, later files win as in compose), the
    ``environment`` keys they do not already give as ``env`` (which wins over envFrom)."""
    env_from: list[M.EnvFromSource] = []
    from_files: dict[str, str] = {}
    for path, values in svc.env_files_read():
        name = ctx.config_map(f"{service}-{Path(path).name}", dict(values),
                              service, "env_file")
        env_from.append(M.EnvFromSource(config_map_ref=M.EnvSourceRef(name=name)))
        from_files.update(values)
    env = [M.EnvVar(name=k, value=escape(v))
           for k, v in (svc.environment or {}).items()
           if v is not None and from_files.get(k) != v]
    return env or None, env_from or None


def volumes(ctx: Context, service: str, svc: Service
            ) -> tuple[list[M.Volume], list[M.VolumeMount]]:
    vols: dict[str, M.Volume] = {}
    mounts: list[M.VolumeMount] = []
    for i, m in enumerate(svc.volumes or []):
        key = f"volumes[{i}]"
        ro = True if m.read_only else None
        sub = m.volume.subpath if m.type == "volume" and m.volume else None
        if m.type == "volume" and m.source:
            claim = ctx.claim(m.source, service)
            vname = N.dns_label(m.source)
            vols[vname] = M.Volume(name=vname, persistent_volume_claim=(
                M.PersistentVolumeClaimVolumeSource(claim_name=claim)))
        elif m.type == "volume":
            vname = f"anonymous-{i}"
            vols[vname] = M.Volume(name=vname, empty_dir=M.EmptyDirVolumeSource())
        elif m.type == "tmpfs":
            vname = f"tmpfs-{i}"
            size = m.tmpfs.size if m.tmpfs and m.tmpfs.size else None
            vols[vname] = M.Volume(name=vname, empty_dir=M.EmptyDirVolumeSource(
                medium="Memory", size_limit=Q.memory(size) if size else None))
        elif m.type == "bind":
            ctx.warn(service, key, f"bind mount of the host path {m.source} not translated: "
                     "a pod runs on a node that has none of this machine's files (use a "
                     "config, a volume, or build the files into the image)")
            continue
        else:
            ctx.warn(service, key, f"a {m.type} mount is not translated")
            continue
        assert m.target is not None
        mounts.append(M.VolumeMount(name=vname, mount_path=m.target, read_only=ro,
                                    sub_path=sub))
    for i, entry in enumerate(svc.tmpfs or []):
        path, _, opts = entry.partition(":")
        given = next((o.split("=", 1)[1] for o in opts.split(",") if o.startswith("size=")),
                     None)
        vname = f"tmpfs-extra-{i}"
        vols[vname] = M.Volume(name=vname, empty_dir=M.EmptyDirVolumeSource(
            medium="Memory", size_limit=Q.memory(parse_bytes(given)) if given else None))
        mounts.append(M.VolumeMount(name=vname, mount_path=path))
    if svc.shm_size:
        vols["dshm"] = M.Volume(name="dshm", empty_dir=M.EmptyDirVolumeSource(
            medium="Memory", size_limit=Q.memory(svc.shm_size)))
        mounts.append(M.VolumeMount(name="dshm", mount_path="/dev/shm"))
    for kind in ("secrets", "configs"):
        for ref in getattr(svc, kind) or []:
            made = ctx.file_object(kind, ref.source, service)
            if made is None:
                continue
            obj_name, key = made
            vname = N.dns_label(f"{kind[:-1]}-{ref.source}")
            mode = ref.mode
            if kind == "secrets":
                vols[vname] = M.Volume(name=vname, secret=M.SecretVolumeSource(
                    secret_name=obj_name, default_mode=mode))
            else:
                vols[vname] = M.Volume(name=vname, config_map=M.ConfigMapVolumeSource(
                    name=obj_name, default_mode=mode))
            target = ref.target or ref.source
            if not target.startswith("/"):
                target = ("/run/secrets/" if kind == "secrets" else "/") + target
            mounts.append(M.VolumeMount(name=vname, mount_path=target, read_only=True,
                                        sub_path=key))
            if ref.uid is not None or ref.gid is not None:
                ctx.warn(service, f"{kind}.{ref.source}", "uid and gid not translated: "
                         "mounted files belong to the pod's fsGroup")
    return list(vols.values()), mounts


def wait_containers(ctx: Context, service: str, svc: Service) -> list[M.Container]:
    """``depends_on: {X: {condition: service_healthy}}``: an init container that waits
    until X's Service answers on its port (a Service routes only to ready pods, and the
    readiness probe is X's healthcheck)."""
    out = []
    for dep, cond in (svc.depends_on or {}).items():
        where = f"depends_on.{dep}"
        other = ctx.project.services.get(dep)
        if other is None or dep not in ctx.selected:
            continue
        if cond.condition == "service_completed_successfully":
            ctx.warn(service, where, f"service_completed_successfully not translated: "
                     f"{dep} runs as a Job, and Kubernetes starts {service} without "
                     "waiting for it (make it retry until its work is done)")
            continue
        if cond.condition != "service_healthy":
            continue
        ports = container_ports(other)
        if not ports or ports[0][1] != "tcp":
            ctx.warn(service, where, f"service_healthy not translated: {dep} has no TCP "
                     "port (ports or expose) to wait on through its Service")
            continue
        host, port = ctx.service_name(dep), ports[0][0]
        script = (f"until nc -w 2 {host} {port} </dev/null >/dev/null 2>&1; do "
                  f"echo waiting for {host}:{port}; sleep 1; done")
        out.append(M.Container(name=N.dns_label(f"wait-for-{dep}"), image=ctx.opts.init_image,
                               command=["sh", "-c", script]))
    return out


def _pull_policy(policy: str | None) -> str | None:
    return {"always": "Always", "never": "Never", "missing": "IfNotPresent",
            "if_not_present": "IfNotPresent", "build": "IfNotPresent"}.get(policy or "")


def container(ctx: Context, service: str, svc: Service
              ) -> tuple[M.Container, list[M.Volume]]:
    env, env_from = environment(ctx, service, svc)
    vols, mounts = volumes(ctx, service, svc)
    probe, startup = probes(svc)
    image = T.image_of(ctx.project, service, svc)
    if svc.build is not None:
        ctx.warn(service, "build", f"the cluster cannot build: push the image {image} "
                 "to a registry it can reach (kube apply --push)")
    c = M.Container(
        name=N.dns_label(service), image=image,
        command=[escape(a) for a in svc.entrypoint] if svc.entrypoint is not None else None,
        args=[escape(a) for a in svc.command] if svc.command is not None else None,
        working_dir=svc.working_dir, env=env, env_from=env_from,
        ports=[M.ContainerPort(container_port=p, protocol=proto.upper())
               for p, proto in container_ports(svc)] or None,
        volume_mounts=mounts or None, resources=resources(ctx, service, svc),
        startup_probe=startup, readiness_probe=probe, liveness_probe=probe,
        security_context=security(ctx, service, svc),
        image_pull_policy=_pull_policy(svc.pull_policy),
        tty=True if svc.tty else None, stdin=True if svc.stdin_open else None)
    return c, vols


def pod_spec(ctx: Context, service: str, svc: Service, restart: str) -> M.PodSpec:
    c, vols = container(ctx, service, svc)
    spec = M.PodSpec(containers=[c], init_containers=wait_containers(ctx, service, svc) or None,
                     volumes=vols or None, restart_policy=restart,
                     hostname=svc.hostname)
    if svc.extra_hosts:
        by_ip: dict[str, list[str]] = {}
        for host, ips in svc.extra_hosts.items():
            for ip in ips:
                by_ip.setdefault(ip, []).append(host)
        spec.host_aliases = [M.HostAlias(ip=ip, hostnames=h) for ip, h in by_ip.items()]
    if svc.dns or svc.dns_search or svc.dns_opt:
        options = []
        for o in svc.dns_opt or []:
            name, sep, value = o.partition(":")
            options.append(M.PodDNSConfigOption(name=name, value=value if sep else None))
        spec.dns_config = M.PodDNSConfig(nameservers=list(svc.dns or []) or None,
                                         searches=list(svc.dns_search or []) or None,
                                         options=options or None)
    psc = M.PodSecurityContext()
    if svc.sysctls:
        psc.sysctls = [M.Sysctl(name=k, value=v or "") for k, v in svc.sysctls.items()]
    if svc.group_add:
        gids = [int(g) for g in svc.group_add if g.isdigit()]
        if len(gids) != len(svc.group_add):
            ctx.warn(service, "group_add", "group names not translated: "
                     "supplementalGroups take numeric ids")
        psc.supplemental_groups = gids or None
    if psc != M.PodSecurityContext():
        spec.security_context = psc
    if svc.stop_grace_period is not None:
        spec.termination_grace_period_seconds = math.ceil(svc.stop_grace_period)
    selector: dict[str, str] = {}
    if svc.platform:
        os_, _, arch = svc.platform.partition("/")
        selector["kubernetes.io/os"] = os_
        if arch:
            selector["kubernetes.io/arch"] = arch.split("/")[0]
    placement = svc.deploy.placement if svc.deploy else None
    for rule in (placement.constraints or []) if placement else []:
        m = re.fullmatch(r"\s*node\.labels\.([^=!\s]+)\s*==\s*(\S+)\s*", rule)
        if m:
            selector[m[1]] = m[2]
        else:
            ctx.warn(service, "deploy.placement.constraints", f"{rule!r} not translated: "
                     "only node.labels.KEY==VALUE becomes a nodeSelector")
    spec.node_selector = selector or None
    return spec

"""``kube generate``: a validated compose project as Kubernetes objects.

A pure function of the compose model (never of the YAML text): each service becomes a
workload (a Deployment; a StatefulSet when it keeps named volumes and runs one replica;
a Job when others wait for it to complete; a DaemonSet for ``deploy.mode: global``), a
Service for the ports it publishes or exposes, and the ConfigMaps, Secrets and claims
its pod refers to; each compose network becomes a NetworkPolicy, so that services that
share no network cannot talk, as in compose. Everything lives in one namespace named
after the project, labelled ``app.kubernetes.io/instance=PROJECT`` and
``app.kubernetes.io/managed-by=pycompose``, which is how ``kube down`` finds it.

What has no Kubernetes form is never dropped silently: each such key is an
:class:`Untranslated` warning naming the service and the key (keys.py lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..compose import translate as T
from . import codec, pods
from . import manifest as M
from . import names as N
from .context import Context, GenerateOptions, Untranslated
from .errors import KubeError
from .keys import UNTRANSLATED

if TYPE_CHECKING:
    from ..compose.model import Project, Service

EXPOSE_TYPES = {"nodeport": "NodePort", "loadbalancer": "LoadBalancer"}
NODE_PORTS = range(30000, 32768)

#: Values of untranslated keys that ask for nothing beyond the default.
_HARMLESS: dict[str, set[Any]] = {
    "network_mode": {"bridge", "default"}, "ipc": {"private", "shareable"},
    "cgroup": {"private"}, "uts": {"private"}, "init": {False}, "privileged": {False},
}


@dataclass
class Generated:
    namespace: str
    objects: list[M.Object]
    warnings: list[Untranslated] = field(default_factory=list)

    def documents(self) -> list[dict[str, Any]]:
        """The objects as the API takes them (plain mappings, for YAML or JSON)."""
        return [codec.to_dict(o) for o in self.objects]


def one_shot(project: Project) -> set[str]:
    """Services that others wait for with ``service_completed_successfully``: Jobs."""
    return {dep for svc in project.services.values()
            for dep, d in (svc.depends_on or {}).items()
            if d.condition == "service_completed_successfully"}


def _named_volumes(svc: Service) -> bool:
    return any(m.type == "volume" and m.source for m in svc.volumes or [])


def _job_restart(ctx: Context, service: str, svc: Service) -> tuple[str, int]:
    """(restartPolicy, backoffLimit) of a Job from ``restart``/``deploy.restart_policy``."""
    policy = svc.deploy.restart_policy if svc.deploy else None
    restart = svc.restart or ""
    if restart.startswith("on-failure"):
        _, _, tries = restart.partition(":")
        return "OnFailure", int(tries) if tries.isdigit() else 6
    if restart in ("always", "unless-stopped"):
        ctx.warn(service, "restart", f"{restart} becomes OnFailure: a Job's pod restarts "
                 "only until it succeeds")
        return "OnFailure", 6
    if policy is not None and policy.condition in ("on-failure", "any"):
        return "OnFailure", policy.max_attempts if policy.max_attempts is not None else 6
    return "Never", 0


def workload(ctx: Context, service: str, svc: Service) -> M.Object:
    name = N.dns_label(service)
    labels = N.service_labels(ctx.project.name, service)
    for net in T.service_networks(svc):
        labels[N.NETWORK_PREFIX + N.dns_label(net)] = "true"
    annotations = {**(svc.annotations or {}), **(svc.labels or {})}
    for k in list(annotations):
        if not N.is_qualified_key(k):
            ctx.warn(service, "labels", f"{k!r} not translated: not a valid annotation key")
            del annotations[k]
    tmeta = M.ObjectMeta(labels=labels, annotations=annotations or None)
    meta = ctx.meta(name, service)
    if svc.deploy is not None and svc.deploy.labels:
        assert meta.annotations is not None
        meta.annotations.update(svc.deploy.labels)
    selector = M.LabelSelector(match_labels=N.service_labels(ctx.project.name, service))
    mode = svc.deploy.mode if svc.deploy else None
    if service in one_shot(ctx.project) or mode in ("replicated-job", "global-job"):
        restart, backoff = _job_restart(ctx, service, svc)
        template = M.PodTemplateSpec(metadata=tmeta,
                                     spec=pods.pod_spec(ctx, service, svc, restart))
        replicas = svc.replicas()
        return M.Job(metadata=meta, spec=M.JobSpec(
            template=template, backoff_limit=backoff,
            completions=replicas if replicas != 1 else None,
            parallelism=replicas if replicas != 1 else None))
    if svc.restart in ("no", "on-failure") or (svc.restart or "").startswith("on-failure:"):
        ctx.warn(service, "restart", f"{svc.restart} not translated: the pods of a "
                 "Deployment always restart (a service that should run once is a Job: "
                 "make others wait for it with service_completed_successfully)")
    template = M.PodTemplateSpec(metadata=tmeta,
                                 spec=pods.pod_spec(ctx, service, svc, "Always"))
    if mode == "global":
        return M.DaemonSet(metadata=meta, spec=M.DaemonSetSpec(selector=selector,
                                                               template=template))
    replicas = svc.replicas()
    if _named_volumes(svc) and replicas == 1:
        has_service = bool(pods.container_ports(svc))
        return M.StatefulSet(metadata=meta, spec=M.StatefulSetSpec(
            selector=selector, template=template, replicas=replicas,
            service_name=ctx.service_name(service) if has_service else None))
    return M.Deployment(metadata=meta, spec=M.DeploymentSpec(
        selector=selector, template=template, replicas=replicas))


def services(ctx: Context, service: str, svc: Service) -> None:
    """The Service(s) of a compose service: its name answers on every port it
    publishes or exposes, as on a compose network; aliases answer too."""
    ports = pods.container_ports(svc)
    selector = N.service_labels(ctx.project.name, service)
    sname = ctx.service_name(service)
    if not ports:
        return
    if sname != service:
        ctx.warn(service, "", f"the Service is named {sname}: containers that reach "
                 f"{service!r} by name must use {sname}")
    sports = [M.ServicePort(name=f"{proto}-{p}", port=p, target_port=p,
                            protocol=proto.upper()) for p, proto in ports]
    ctx.add(M.Service(metadata=ctx.meta(sname, service),
                      spec=M.ServiceSpec(selector=selector, ports=sports)))
    for att in T.service_networks(svc).values():
        for alias in (att.aliases or []) if att is not None else []:
            aname = ctx.service_name(alias)
            if aname != sname:
                ctx.add(M.Service(metadata=ctx.meta(aname, service),
                                  spec=M.ServiceSpec(selector=selector, ports=sports)))
    published = [p for p in pods.published(svc) if p.published]
    if not published:
        return
    for p in published:
        if p.host_ip and p.host_ip not in ("0.0.0.0", "::"):
            ctx.warn(service, "ports", f"host_ip {p.host_ip} not translated: a Service "
                     "answers on every node address")
    kind = EXPOSE_TYPES.get(ctx.opts.expose or "")
    if kind is None:
        ctx.warn(service, "ports", "published ports answer inside the cluster only "
                 "(kube generate --expose nodeport|loadbalancer publishes them)")
        return
    out = []
    for p in published:
        text = str(p.published).split("-", 1)[0]
        number = int(text) if text.isdigit() else p.target
        node_port = number if kind == "NodePort" and number in NODE_PORTS else None
        if kind == "NodePort" and node_port is None:
            ctx.warn(service, "ports", f"published port {number} is outside the NodePort "
                     "range 30000-32767: the cluster picks the node port")
        out.append(M.ServicePort(name=f"{p.protocol}-{number}", port=number,
                                 target_port=p.target, protocol=p.protocol.upper(),
                                 node_port=node_port))
    ctx.add(M.Service(metadata=ctx.meta(f"{sname}-published", service),
                      spec=M.ServiceSpec(selector=selector, ports=out, type=kind)))
    # published ports are open to anyone who reaches them, as on the compose host
    ctx.add(M.NetworkPolicy(metadata=ctx.meta(N.dns_label(f"{service}-published"), service),
                            spec=M.NetworkPolicySpec(
                                pod_selector=M.LabelSelector(match_labels=selector),
                                ingress=[M.NetworkPolicyIngressRule(ports=[
                                    M.NetworkPolicyPort(port=p.target,
                                                        protocol=p.protocol.upper())
                                    for p in published])],
                                policy_types=["Ingress"])))


def network_policies(ctx: Context) -> None:
    """One NetworkPolicy per compose network: its pods take traffic from its pods. A
    pod on several networks is selected by several policies, whose allowances add up,
    so it hears each of its networks, as a compose container does."""
    used: set[str] = set()
    for service in ctx.selected:
        used |= set(T.service_networks(ctx.project.services[service]))
    for net in sorted(used):
        decl = ctx.project.networks.get(net)
        if decl is not None and decl.internal:
            ctx.warn(None, f"networks.{net}.internal", "not translated: pods reach "
                     "outside the cluster unless an egress policy says otherwise")
        member = M.LabelSelector(match_labels={N.NETWORK_PREFIX + N.dns_label(net): "true"})
        ctx.add(M.NetworkPolicy(metadata=ctx.meta(N.dns_label(f"network-{net}")),
                                spec=M.NetworkPolicySpec(
                                    pod_selector=member,
                                    ingress=[M.NetworkPolicyIngressRule(
                                        from_=[M.NetworkPolicyPeer(pod_selector=member)])],
                                    policy_types=["Ingress"])))


def _set(value: Any, key: str) -> bool:
    if value is None or value in ([], {}, ""):
        return False
    harmless = _HARMLESS.get(key)
    return not (harmless and isinstance(value, (str, bool)) and value in harmless)


def untranslated(ctx: Context, service: str, svc: Service) -> None:
    for key, why in UNTRANSLATED.items():
        value = getattr(svc, key, None)
        if _set(value, key):
            ctx.warn(service, key, f"not translated: {why}")
    d = svc.deploy
    if d is not None:
        for key in ("update_config", "rollback_config", "endpoint_mode"):
            if getattr(d, key) is not None:
                ctx.warn(service, f"deploy.{key}", "not translated: set the workload's "
                         "strategy by hand")
        if d.placement is not None and (d.placement.preferences or
                                        d.placement.max_replicas_per_node):
            ctx.warn(service, "deploy.placement", "preferences and max_replicas_per_node "
                     "not translated: use topologySpreadConstraints by hand")


def generate(project: Project, opts: GenerateOptions | None = None) -> Generated:
    """The objects of ``project`` (its enabled services, or ``opts.services``)."""
    opts = opts or GenerateOptions()
    if opts.expose is not None and opts.expose not in EXPOSE_TYPES:
        raise KubeError(f"--expose {opts.expose}: use nodeport or loadbalancer")
    for name in opts.services:
        if name not in project.services:
            raise KubeError(f"no such service: {name}")
    selected = list(opts.services) or sorted(project.services)
    ctx = Context(project, opts, selected)
    seen: dict[str, str] = {}
    for service in selected:
        svc = project.services[service]
        name = N.dns_label(service)
        if name in seen:
            raise KubeError(f"services {seen[name]!r} and {service!r} would both be named "
                            f"{name} on Kubernetes: rename one")
        seen[name] = service
        ctx.add(workload(ctx, service, svc))
        services(ctx, service, svc)
        untranslated(ctx, service, svc)
    network_policies(ctx)
    for volume, users in sorted(ctx.claim_users.items()):
        if len(set(users)) > 1:
            ctx.warn(None, f"volumes.{volume}", f"used by {', '.join(sorted(set(users)))}: a "
                     "ReadWriteOnce claim mounts on one node only (the pods must share it, "
                     "or the storage class must offer ReadWriteMany)")
    rank = {k.KIND: i for i, k in enumerate(M.KINDS)}
    objects = sorted(ctx.objects.values(), key=lambda o: (rank[o.KIND], o.name))
    if opts.namespace is None:
        objects.insert(0, M.Namespace(metadata=M.ObjectMeta(
            name=ctx.namespace, labels=N.project_labels(project.name))))
    return Generated(namespace=ctx.namespace, objects=objects, warnings=ctx.warnings)

"""One Kubernetes container as a compose service (part of ``kube play``, see play.py):
environment with ``$(VAR)`` references resolved as the kubelet resolves them, probes
as a healthcheck, the security context, limits, the restart policy."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any, Protocol

from . import manifest as M
from . import quantity as Q
from .errors import KubeError

#: Kubernetes' probe defaults (seconds), which docker's healthcheck does not share.
PROBE_PERIOD, PROBE_TIMEOUT, PROBE_FAILURES = 10, 1, 3
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")



class Data(Protocol):
    """The ConfigMaps and Secrets of the play, by kind ("ConfigMap", "Secret") and name."""

    def values(self, kind: str, name: str, optional: bool) -> dict[str, str]: ...

    def value(self, kind: str, name: str, key: str, optional: bool) -> str | None: ...


def expand(text: str, env: dict[str, str]) -> str:
    """``$(VAR)`` becomes VAR's value when it is defined, ``$$`` becomes ``$``; anything
    else stays as written (the kubelet's rule)."""
    def one(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        return env.get(m[1], m[0])
    return _REF.sub(one, text)


def environment(c: M.Container, pod: str, namespace: str, data: Data,
                warn: Callable[[str], None]) -> dict[str, str]:
    """The container's environment: ``envFrom`` sources in order, then ``env``."""
    env: dict[str, str] = {}
    for src in c.env_from or []:
        ref = src.config_map_ref or src.secret_ref
        if ref is None:
            continue
        kind = "ConfigMap" if src.config_map_ref else "Secret"
        for k, v in data.values(kind, ref.name, bool(ref.optional)).items():
            env[(src.prefix or "") + k] = v
    for var in c.env or []:
        if var.value_from is None:
            env[var.name] = expand(var.value or "", env)
            continue
        vf = var.value_from
        sel = vf.config_map_key_ref or vf.secret_key_ref
        if sel is not None:
            kind = "ConfigMap" if vf.config_map_key_ref else "Secret"
            value = data.value(kind, sel.name, sel.key, bool(sel.optional))
            if value is not None:
                env[var.name] = value
        elif vf.field_ref is not None:
            path = vf.field_ref.field_path
            known = {"metadata.name": pod, "metadata.namespace": namespace,
                     "spec.nodeName": "localhost", "spec.serviceAccountName": "default"}
            if path in known:
                env[var.name] = known[path]
            else:
                warn(f"env {var.name}: fieldRef {path} not played (only metadata.name, "
                     "metadata.namespace, spec.nodeName)")
        else:
            warn(f"env {var.name}: valueFrom not played")
    return env


def _port_number(port: int | str, c: M.Container) -> int:
    if isinstance(port, int):
        return port
    for p in c.ports or []:
        if p.name == port:
            return p.container_port
    if port.isdigit():
        return int(port)
    raise KubeError(f"probe port {port!r} names no port of container {c.name}")


def _probe_test(p: M.Probe, c: M.Container) -> list[str] | None:
    """A probe as a healthcheck test: exec as it is; HTTP and TCP checks as a shell
    command run in the container (curl, else wget, else busybox nc), as podman does."""
    if p.exec_ is not None:
        return ["CMD", *p.exec_.command]
    if p.http_get is not None:
        g = p.http_get
        url = f"{(g.scheme or 'HTTP').lower()}://{g.host or '127.0.0.1'}:" \
              f"{_port_number(g.port, c)}{g.path or '/'}"
        q = shlex.quote(url)
        return ["CMD-SHELL", f"curl -fsS -o /dev/null {q} 2>/dev/null || "
                             f"wget -q -O /dev/null {q}"]
    if p.tcp_socket is not None:
        t = p.tcp_socket
        return ["CMD-SHELL", f"nc -w {p.timeout_seconds or PROBE_TIMEOUT} "
                             f"{t.host or '127.0.0.1'} {_port_number(t.port, c)} </dev/null"]
    return None


def healthcheck(c: M.Container) -> dict[str, Any] | None:
    """Readiness (else liveness) as the healthcheck; a startup probe or an initial
    delay as its start period."""
    probe = c.readiness_probe or c.liveness_probe
    start = c.startup_probe
    main = probe or start
    if main is None:
        return None
    test = _probe_test(main, c)
    if test is None:
        return None
    hc: dict[str, Any] = {
        "test": test,
        "interval": f"{main.period_seconds or PROBE_PERIOD}s",
        "timeout": f"{main.timeout_seconds or PROBE_TIMEOUT}s",
        "retries": main.failure_threshold or PROBE_FAILURES,
    }
    start_period = main.initial_delay_seconds or 0
    if start is not None and probe is not None:
        every = start.period_seconds or PROBE_PERIOD
        start_period += (start.initial_delay_seconds or 0) + \
            every * (start.failure_threshold or PROBE_FAILURES)
        hc["start_interval"] = f"{every}s"
    if start_period:
        hc["start_period"] = f"{start_period}s"
    return hc


def security(c: M.Container, pod_sc: M.PodSecurityContext | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sc = c.security_context or M.SecurityContext()
    uid = sc.run_as_user if sc.run_as_user is not None else (pod_sc.run_as_user if pod_sc
                                                             else None)
    gid = sc.run_as_group if sc.run_as_group is not None else (pod_sc.run_as_group if pod_sc
                                                               else None)
    if uid is not None:
        out["user"] = f"{uid}:{gid}" if gid is not None else str(uid)
    elif gid is not None:
        out["user"] = f"0:{gid}"
    if pod_sc is not None and pod_sc.supplemental_groups:
        out["group_add"] = [str(g) for g in pod_sc.supplemental_groups]
    if sc.capabilities is not None:
        if sc.capabilities.add:
            out["cap_add"] = list(sc.capabilities.add)
        if sc.capabilities.drop:
            out["cap_drop"] = list(sc.capabilities.drop)
    if sc.read_only_root_filesystem:
        out["read_only"] = True
    if sc.privileged:
        out["privileged"] = True
    if sc.allow_privilege_escalation is False:
        out["security_opt"] = ["no-new-privileges:true"]
    return out


def limits(c: M.Container, warn: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lim = (c.resources.limits if c.resources else None) or {}
    try:
        if "memory" in lim:
            out["mem_limit"] = int(Q.parse(lim["memory"]))
        if "cpu" in lim:
            out["cpus"] = Q.parse(lim["cpu"])
    except ValueError as e:
        raise KubeError(str(e), key=f"containers.{c.name}.resources.limits")
    for k in lim:
        if k not in ("memory", "cpu"):
            warn(f"resources.limits.{k} not played")
    return out


def restart(policy: str | None) -> str:
    return RESTART.get(policy or "Always", "always")

"""The docker CLI's flag syntaxes, parsed once into the engine's typed requests.

``-v``, ``--mount``, ``--tmpfs``, ``-p``, ``--ulimit``, ``--restart``, ``--health-*``,
``--device`` (its parser is the engine face's, shared with compose and the Docker API),
sizes and durations: this is the only place that reads them as text. Errors are
``InvalidArgument`` naming the flag and the value (``docker run``'s status 125).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from pycompose.engine.api import (
    CreateRequest,
    Endpoint,
    Healthcheck,
    IdMapping,
    InvalidArgument,
    LogConfig,
    Mount,
    PortBinding,
    Resources,
    RestartPolicy,
    Ulimit,
    parse_device,
    parse_device_cgroup_rule,
)
from pycompose.util.units import parse_duration_ns, parse_size

_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_VOLUME_OPTIONS = ("ro", "rw", "z", "Z", "nocopy", "shared", "private", "rprivate",
                   "slave", "rslave")


def size(text: str, flag: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise InvalidArgument(f"{flag}: {e}")


def duration(text: str, flag: str) -> int:
    try:
        return parse_duration_ns(text)
    except ValueError as e:
        raise InvalidArgument(f"{flag}: {e}")


def _target(target: str, flag: str) -> str:
    if not target.startswith("/"):
        raise InvalidArgument(f"invalid {flag}: the container path {target!r} must be "
                              "absolute")
    return target.rstrip("/") or "/"


def volume(text: str) -> Mount:
    """``-v``: ``/ctr`` (anonymous), ``name:/ctr[:ro]``, ``/host:/ctr[:ro|rw]``; a
    relative ``./src`` is taken from the current directory, as docker does."""
    parts = text.split(":")
    if len(parts) == 1:
        return Mount("volume", _target(parts[0], "-v"))
    if len(parts) > 3:
        raise InvalidArgument(f"invalid -v {text!r}: use SOURCE:TARGET[:ro]")
    src, target = parts[0], _target(parts[1], "-v")
    opts = parts[2].split(",") if len(parts) == 3 else []
    for o in opts:
        if o not in _VOLUME_OPTIONS:
            raise InvalidArgument(f"invalid -v {text!r}: unknown option {o!r}")
    ro = "ro" in opts
    if src.startswith(("/", ".")):
        return Mount("bind", target, str(Path(src).absolute()), ro, create_host_path=True)
    if not _VOLUME_NAME.fullmatch(src):
        raise InvalidArgument(f"invalid -v {text!r}: {src!r} is neither a volume name nor "
                              "an absolute path")
    return Mount("volume", target, src, ro, no_copy="nocopy" in opts)


def mount(text: str) -> Mount:
    """``--mount type=bind,source=/a,target=/b,readonly``."""
    kv: dict[str, str] = {}
    for item in text.split(","):
        k, sep, v = item.partition("=")
        kv[k.strip()] = v if sep else "true"
    typ = kv.pop("type", "volume")
    target = kv.pop("target", None) or kv.pop("destination", None) or kv.pop("dst", None)
    if not target:
        raise InvalidArgument(f"invalid --mount {text!r}: target is required")
    source = kv.pop("source", None) or kv.pop("src", None) or ""
    ro = kv.pop("readonly", kv.pop("ro", "false")) in ("true", "1")
    if typ not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid --mount {text!r}: type must be bind, volume or "
                              "tmpfs")
    if typ == "bind" and not source.startswith("/"):
        raise InvalidArgument(f"invalid --mount {text!r}: a bind source must be an "
                              "absolute path")
    m = Mount(typ, _target(target, "--mount"), source, ro)
    if "tmpfs-size" in kv:
        m.tmpfs_size = size(kv.pop("tmpfs-size"), "--mount tmpfs-size")
    if "tmpfs-mode" in kv:
        m.tmpfs_mode = _mode(kv.pop("tmpfs-mode"), "--mount tmpfs-mode")
    m.no_copy = kv.pop("volume-nocopy", "false") in ("true", "1")
    return m


def _mode(text: str, flag: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise InvalidArgument(f"{flag}: {text!r} is not an octal mode such as 1777")


def tmpfs(text: str) -> Mount:
    """``--tmpfs /run[:size=64m,mode=1777]``."""
    target, _, opts = text.partition(":")
    m = Mount("tmpfs", _target(target, "--tmpfs"))
    for o in (o for o in opts.split(",") if o):
        k, _, v = o.partition("=")
        if k == "size":
            m.tmpfs_size = size(v, "--tmpfs size")
        elif k == "mode":
            m.tmpfs_mode = _mode(v, "--tmpfs mode")
        elif k not in ("rw", "ro", "exec", "noexec", "suid", "nosuid", "dev", "nodev"):
            raise InvalidArgument(f"invalid --tmpfs {text!r}: unknown option {o!r}")
        elif k == "ro":
            m.read_only = True
    return m


def publish(text: str) -> list[PortBinding]:
    """``-p [IP:][HOST[-END]:]CTR[-END][/PROTO]``."""
    from pycompose.engine.api.networks import NetplugError, parse_port

    try:
        return parse_port(text)
    except NetplugError as e:
        raise InvalidArgument(f"invalid -p {text!r}: {e}")


def ulimit(text: str) -> Ulimit:
    """``nofile=1024[:2048]``."""
    name, sep, vals = text.partition("=")
    soft, _, hard = vals.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise InvalidArgument(f"invalid --ulimit {text!r}: use NAME=SOFT[:HARD]")
    if not sep or not name or s > h:
        raise InvalidArgument(f"invalid --ulimit {text!r}: use NAME=SOFT[:HARD] with "
                              "SOFT <= HARD")
    return Ulimit(name, s, h)


def restart(text: str | None) -> RestartPolicy:
    """``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``."""
    if not text:
        return RestartPolicy()
    name, _, count = text.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidArgument(f"invalid restart policy {text!r}: use no, always, "
                              "unless-stopped or on-failure[:max-retries]")
    if count and (name != "on-failure" or not count.isdigit()):
        raise InvalidArgument(f"invalid restart policy {text!r}: only on-failure takes a "
                              "retry count")
    return RestartPolicy(name, int(count or 0))


def id_map(text: str, flag: str) -> IdMapping:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise InvalidArgument(f"invalid {flag} {text!r}: use CONTAINER_ID:HOST_ID:SIZE")
    return IdMapping(int(parts[0]), int(parts[1]), int(parts[2]))


def env_file(path: str) -> list[str]:
    """docker's ``--env-file``: ``KEY=VALUE`` lines, ``#`` comments; a bare ``KEY``
    takes the caller's value (dropped when the caller has none)."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise InvalidArgument(f"--env-file {path}: {e.strerror}")
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = line.split("=", 1)[0]
        if not key or any(c.isspace() for c in key):
            raise InvalidArgument(f"{path}:{lineno}: variable {key!r} contains whitespace")
        out.append(raw.lstrip())
    return out


def environment(env: list[str], env_files: list[str]) -> list[str]:
    """``--env-file``s, then ``-e``s (later wins at create); bare keys resolved here."""
    items = [item for f in env_files for item in env_file(f)] + list(env)
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def healthcheck(args: argparse.Namespace) -> Healthcheck | None:
    """``--health-*`` over the image's HEALTHCHECK; ``--no-healthcheck`` disables it."""
    if args.no_healthcheck:
        return Healthcheck(disable=True)
    hc = Healthcheck()
    if args.health_cmd:
        hc.test = ["CMD-SHELL", args.health_cmd]
    for flag in ("interval", "timeout", "start_period", "start_interval"):
        value = getattr(args, f"health_{flag}", None)
        if value:
            setattr(hc, flag, duration(value, "--health-" + flag.replace("_", "-")))
    if args.health_retries is not None:
        hc.retries = int(args.health_retries)
    return None if hc == Healthcheck() else hc


def _int(value: str | None, flag: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"invalid {flag} {value!r}: expected a whole number")


def _cpus(text: str) -> int:
    try:
        v = float(text)
    except ValueError:
        raise InvalidArgument(f"invalid --cpus {text!r}: give a number such as 0.5")
    if v <= 0:
        raise InvalidArgument(f"invalid --cpus {text!r}: must be positive")
    return int(v * 1e9)


def log_config(driver: str | None, opts: list[str]) -> LogConfig:
    config = {}
    for o in opts:
        k, sep, v = o.partition("=")
        if not sep or not k:
            raise InvalidArgument(f"invalid --log-opt {o!r}: use KEY=VALUE")
        config[k] = v
    return LogConfig(driver or "", config)


def create_request(args: argparse.Namespace) -> CreateRequest:
    """``container run|create`` flags as a CreateRequest."""
    if args.detach_keys != "ctrl-p,ctrl-q":
        raise InvalidArgument("--detach-keys: only ctrl-p,ctrl-q is supported")
    if args.rm and args.restart and args.restart != "no":
        raise InvalidArgument("Conflicting options: --restart and --rm")
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    labels = {}
    for item in args.labels:
        k, _, v = item.partition("=")
        labels[k] = v
    memory = size(args.memory, "--memory") if args.memory else 0
    swap = 0
    if args.memory_swap == "-1":
        swap = -1
    elif args.memory_swap:
        swap = size(args.memory_swap, "--memory-swap")
    if swap > 0 and memory and swap < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    req = CreateRequest(
        image=str(Path(args.image).absolute()) if args.rootfs else args.image,
        rootfs=bool(args.rootfs), name=args.name, command=cmd,
        entrypoint=None if args.entrypoint is None else
        ([args.entrypoint] if args.entrypoint else []),
        env=environment(args.env, args.env_file), labels=labels,
        user=args.user or "", workdir=args.workdir or "", hostname=args.hostname or "",
        domainname=args.domainname or "", tty=args.tty, open_stdin=args.interactive,
        attach=not args.detach,
        auto_remove=args.rm, network=args.network or "",
        ports=[b for p in args.publish for b in publish(p)],
        expose=[p if "/" in p else f"{p}/tcp" for p in args.expose],
        links=list(args.links), extra_hosts=list(args.extra_hosts), dns=list(args.dns),
        dns_search=list(args.dns_search), dns_options=list(args.dns_opt),
        mounts=[volume(v) for v in args.volumes] + [mount(m) for m in args.mounts]
        + [tmpfs(t) for t in args.tmpfs],
        group_add=[str(g) for g in args.group_add], restart=restart(args.restart),
        privileged=args.privileged, read_only=args.read_only, init=args.init,
        cap_add=list(args.cap_add), cap_drop=list(args.cap_drop),
        security_opt=list(args.security_opt),
        resources=Resources(
            memory=memory, memory_swap=swap,
            nano_cpus=_cpus(args.cpus) if args.cpus else 0,
            cpu_shares=_int(args.cpu_shares, "--cpu-shares") or 0,
            cpuset_cpus=args.cpuset_cpus or "",
            pids_limit=_int(args.pids_limit, "--pids-limit"),
            oom_score_adj=_int(args.oom_score_adj, "--oom-score-adj") or 0,
            shm_size=size(args.shm_size, "--shm-size") if args.shm_size else 64 << 20),
        ulimits=[ulimit(u) for u in args.ulimits],
        devices=[parse_device(d) for d in args.devices],
        device_cgroup_rules=[parse_device_cgroup_rule(r)
                             for r in args.device_cgroup_rules],
        sysctls=dict(_pair(s, "--sysctl") for s in args.sysctls),
        stop_signal=args.stop_signal or "", stop_timeout=args.stop_timeout,
        healthcheck=healthcheck(args), userns=args.userns or "", ipc=args.ipc or "",
        uid_map=[id_map(m, "--uidmap") for m in args.uidmap],
        gid_map=[id_map(m, "--gidmap") for m in args.gidmap],
        log_config=log_config(getattr(args, "log_driver", None),
                              list(getattr(args, "log_opts", []) or [])),
    )
    if args.ip or args.network_aliases:
        if not args.network or args.network in ("bridge", "default", "host", "none") \
                or args.network.startswith("container:"):
            raise InvalidArgument("--ip and --network-alias need a user-defined network "
                                  "(--network NAME, made with pycompose network create)")
        req.endpoints = [Endpoint(args.network, list(args.network_aliases), args.ip or None)]
    return req


def _pair(text: str, flag: str) -> tuple[str, str]:
    k, sep, v = text.partition("=")
    if not sep or not k:
        raise InvalidArgument(f"invalid {flag} {text!r}: use KEY=VALUE")
    return k, v

"""Container records: a typed create request and an image become a record, and a record
becomes the runtime's ContainerSpec.

Two steps because docker has two: ``create`` decides everything that is stored and
shown by ``inspect`` (Config, HostConfig, Mounts, GraphDriver); ``start`` derives the
runtime's spec from the record alone, so a restart (or a new supervisor) needs nothing
but the record on disk.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pycompose.util.paths import root_id

from ..api.requests import CreateRequest, Mount, PortBinding
from ..containers import Record
from ..errors import Conflict, NotFound
from ..logs import config as logcfg
from ..volumes import VolumeStore
from . import devices as D
from . import spec as S

ALL_CAPS = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]

DEFAULT_CAPS = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                "AUDIT_WRITE"]

HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
         "ff02::2\tip6-allrouters\n")


def capabilities(add: list[str], drop: list[str]) -> list[str]:
    """docker's rule: start from the default 14, drop, then add; ALL on either side."""
    def norm(c: str) -> str:
        c = c.upper().removeprefix("CAP_")
        if c != "ALL" and c not in ALL_CAPS:
            raise S.bad(f"unknown capability {c!r}")
        return c
    add_n, drop_n = [norm(c) for c in add], [norm(c) for c in drop]
    caps = [] if "ALL" in drop_n else [c for c in DEFAULT_CAPS if c not in drop_n]
    if "ALL" in add_n:
        caps = list(ALL_CAPS)
    for c in add_n:
        if c != "ALL" and c not in caps:
            caps.append(c)
    return ["CAP_" + c for c in caps]


def security_options(opts: list[str]) -> tuple[bool, str]:
    """(no_new_privileges, seccomp) from ``--security-opt``."""
    nnp, seccomp = False, "default"
    for o in opts:
        k, sep, v = o.partition("=")
        if not sep:
            k, sep, v = o.partition(":")
        if k == "no-new-privileges":
            nnp = (v or "true") == "true"
        elif k == "seccomp":
            if v != "unconfined" and not Path(v).is_file():
                raise S.bad(f"--security-opt seccomp={v}: no such profile file")
            seccomp = v if v == "unconfined" else str(Path(v).absolute())
        elif k in ("apparmor", "label"):
            continue  # no LSM on these machines; accepted as docker does without one
        else:
            raise S.bad(f"invalid --security-opt {o!r}")
    return nnp, seccomp


def _subid_range(path: str, user: str = "root") -> str | None:
    """``CTR:HOST:SIZE`` for the first range of ``user`` in /etc/subuid or /etc/subgid."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] == user and parts[1].isdigit() and parts[2].isdigit():
            return f"0:{parts[1]}:{parts[2]}"
    return None


def userns_maps(mode: str, uidmap: list[str], gidmap: list[str]) -> dict[str, list[str]]:
    """``--userns host`` (none), ``--userns remap`` (root's range in /etc/subuid and
    /etc/subgid, else 0:100000:65536, as dockerd's userns-remap=default), or explicit
    ``--uidmap``/``--gidmap`` CTR:HOST:SIZE."""
    if mode not in ("", "host", "remap"):
        raise S.bad(f"invalid --userns {mode!r}: use host or remap")
    for m in uidmap + gidmap:
        if not re.fullmatch(r"\d+:\d+:\d+", m):
            raise S.bad(f"invalid id map {m!r}: use CONTAINER_ID:HOST_ID:SIZE")
    if mode == "remap" and not uidmap:
        uidmap = [_subid_range("/etc/subuid") or "0:100000:65536"]
        gidmap = gidmap or [_subid_range("/etc/subgid") or "0:100000:65536"]
    if mode == "host" and uidmap:
        raise S.bad("--userns host and --uidmap contradict each other")
    return {"UidMap": uidmap, "GidMap": gidmap or uidmap}


def _image_config(image: Any) -> dict[str, Any]:
    cfg = getattr(image, "config", None) or {}
    if not isinstance(cfg, dict):  # a model object: take its docker-shaped dict
        dump = getattr(cfg, "model_dump", None)
        cfg = dump(by_alias=True) if dump else dict(vars(cfg))
    return cfg


def resolve_image(root: Path, ref: str) -> tuple[str, dict[str, Any], list[str]]:
    """(image id, image config, lowerdirs top first) from the image store."""
    from ..images import ImageStore

    try:
        image = ImageStore(root).resolve(ref)
    except NotFound as e:
        raise NotFound(f"Unable to find image '{ref}' locally: {e} (no registry pull "
                       "here: use pycompose image import, load or bootstrap first)")
    return str(image.id), _image_config(image), [str(p) for p in image.lowerdirs()]


def unpack_image(root: Path, req: CreateRequest) -> None:
    """Unpack what the image of ``req`` has not unpacked yet (a pulled image's layers
    are unpacked on first use: images/unpacking.py), so that create finds its layers.
    Run in a worker thread, before create: it can take seconds. A missing image is
    left for create to tell."""
    if req.rootfs:
        return
    from ..images import ImageStore
    from ..images.unpacking import ensure_image_unpacked

    try:
        image = ImageStore(root).resolve(req.image)
    except NotFound:
        return
    ensure_image_unpacked(image)


def _port_bindings(ports: list[PortBinding]) -> dict[str, list[dict[str, str]]]:
    """docker's HostConfig.PortBindings (a host range kept as ``8000-8010``)."""
    out: dict[str, list[dict[str, str]]] = {}
    for b in ports:
        host = "" if b.host_port is None else str(b.host_port)
        if b.host_port_end and b.host_port_end != b.host_port:
            host += f"-{b.host_port_end}"
        out.setdefault(f"{b.container_port}/{b.proto}", []).append(
            {"HostIp": b.host_ip, "HostPort": host})
    return out


def _mount_request(m: Mount) -> dict[str, Any]:
    opts = []
    if m.create_host_path:
        opts.append("create-host-path")
    if m.no_copy:
        opts.append("nocopy")
    if m.tmpfs_size is not None:
        opts.append(f"size={m.tmpfs_size}")
    if m.tmpfs_mode is not None:
        opts.append(f"mode={m.tmpfs_mode:o}")
    return {"Type": m.type, "Source": m.source, "Target": m.target,
            "ReadOnly": m.read_only, "Options": opts}


def _bind_text(m: Mount) -> str:
    return f"{m.source}:{m.target}" + (":ro" if m.read_only else "")


def _mount_text(m: Mount) -> str:
    parts = [f"type={m.type}"] + ([f"source={m.source}"] if m.source else []) + \
        [f"target={m.target}"] + (["readonly"] if m.read_only else [])
    return ",".join(parts)


def new_record(root: Path, req: CreateRequest) -> Record:
    """The record (docker inspect's shape) of the container ``req`` asks for."""
    if req.rootfs:
        rootfs = Path(req.image).absolute()
        if not rootfs.is_dir():
            raise NotFound(f"--rootfs {rootfs}: no such directory")
        icfg: dict[str, Any] = {}
        image_id, lowers = "", [str(rootfs)]
        image_ref = str(rootfs)
    else:
        image_id, icfg, lowers = resolve_image(root, req.image)
        image_ref = req.image
    ep, cmd = S.command_line(icfg.get("Entrypoint"), icfg.get("Cmd"), req.entrypoint,
                             req.command)
    env = S.merge_env(icfg.get("Env"), req.env)
    labels = {**(icfg.get("Labels") or {}), **req.labels}
    res = req.resources
    if res.memory_swap > 0 and res.memory and res.memory_swap < res.memory:
        raise S.bad("Minimum memoryswap limit should be larger than memory limit, see usage")
    S.check_cpus(res.nano_cpus)
    if req.workdir and not req.workdir.startswith("/"):
        raise S.bad(f"the working directory '{req.workdir}' is invalid, it needs to be an "
                    "absolute path")
    security_options(req.security_opt)  # validate early
    capabilities(req.cap_add, req.cap_drop)
    stop_signal = req.stop_signal or icfg.get("StopSignal") or ""
    S.parse_signal(stop_signal or None)
    # no network asked for: docker's default bridge (NAT out, the host's resolver), so
    # that ``run debian apt-get update`` and ``run -p 8080:80`` work as with docker
    endpoints = list(req.endpoints)
    network = req.network or (endpoints[0].network if endpoints else "") or "bridge"
    if network == "host" and req.ports:
        raise S.bad("-p has no effect with --network host: the container uses the "
                    "host's ports directly")
    mounts = S.all_mounts(req.mounts, icfg.get("Volumes"))
    D.gather_all(req.devices)  # docker's error at create for a path with no device
    userns = userns_maps(req.userns, [f"{m.container_id}:{m.host_id}:{m.size}"
                                      for m in req.uid_map],
                         [f"{m.container_id}:{m.host_id}:{m.size}" for m in req.gid_map])
    exposed = dict(icfg.get("ExposedPorts") or {})
    for p in req.expose:
        exposed[p if "/" in p else f"{p}/tcp"] = {}
    for b in req.ports:
        exposed.setdefault(f"{b.container_port}/{b.proto}", {})
    attach = req.attach
    config: dict[str, Any] = {
        "Hostname": req.hostname, "Domainname": req.domainname,
        "User": req.user or icfg.get("User", ""),
        "AttachStdin": req.open_stdin and attach, "AttachStdout": attach,
        "AttachStderr": attach, "Tty": req.tty, "OpenStdin": req.open_stdin,
        "StdinOnce": req.open_stdin and attach,
        "Env": env, "Cmd": cmd, "Entrypoint": ep or None, "Image": image_ref,
        "WorkingDir": req.workdir or icfg.get("WorkingDir") or "",
        "Labels": labels, "StopSignal": stop_signal, "StopTimeout": req.stop_timeout,
        "ExposedPorts": exposed,
        "Volumes": {m.target: {} for m in mounts if m.type == "volume"} or None,
        "Healthcheck": S.healthcheck(icfg.get("Healthcheck"), req.healthcheck),
    }
    tmpfs = {m.target: ",".join(_mount_request(m)["Options"] + (["ro"] if m.read_only else []))
             for m in mounts if m.type == "tmpfs"}
    host = {
        "Binds": [_bind_text(m) for m in req.mounts if m.type == "bind" and
                  m.create_host_path] or None,
        "Mounts": [_mount_text(m) for m in req.mounts if m.type != "tmpfs" and
                   not m.create_host_path] or None,
        "Tmpfs": tmpfs or None,
        "NetworkMode": network, "PortBindings": _port_bindings(req.ports),
        "Links": list(req.links) or None, "ExtraHosts": list(req.extra_hosts) or None,
        "Dns": list(req.dns), "DnsSearch": list(req.dns_search),
        "DnsOptions": list(req.dns_options), "GroupAdd": list(req.group_add) or None,
        "RestartPolicy": {"Name": req.restart.name,
                          "MaximumRetryCount": req.restart.maximum_retry_count},
        "AutoRemove": req.auto_remove, "Privileged": req.privileged,
        "ReadonlyRootfs": req.read_only, "CapAdd": list(req.cap_add) or None,
        "CapDrop": list(req.cap_drop) or None, "SecurityOpt": list(req.security_opt) or None,
        "Init": req.init, "Memory": res.memory, "MemorySwap": res.memory_swap,
        "NanoCpus": res.nano_cpus, "CpuShares": res.cpu_shares,
        "CpusetCpus": res.cpuset_cpus, "PidsLimit": res.pids_limit,
        "OomScoreAdj": res.oom_score_adj,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard}
                    for u in req.ulimits] or None,
        "Sysctls": dict(req.sysctls) or None, "ShmSize": res.shm_size,
        "UsernsMode": req.userns, **userns, "IpcMode": check_ipc(req.ipc or "private"),
        "LogConfig": log_settings(req).host_config(),
        **D.host_config(req.devices, req.device_cgroup_rules),
    }
    return {
        "Image": image_id, "Scope": req.scope, "Config": config, "HostConfig": host,
        "Path": (ep + cmd)[0], "Args": (ep + cmd)[1:],
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(lowers)}},
        "MountRequests": [_mount_request(m) for m in mounts if m.type != "tmpfs"],
        "NetworkingConfig": {"EndpointsConfig": {
            e.network: {"Aliases": list(e.aliases),
                        "IPAMConfig": {"IPv4Address": e.ipv4_address}
                        if e.ipv4_address else None,
                        "MacAddress": e.mac_address or ""}
            for e in endpoints}} if endpoints else None,
        "Mounts": [], "Platform": "linux", "Driver": "overlay",
    }


def log_settings(req: CreateRequest) -> logcfg.LogSettings:
    """``--log-driver``/``--log-opt`` checked as docker checks them, with the default
    driver's rotation merged in (what inspect shows in HostConfig.LogConfig)."""
    return logcfg.parse(req.log_config.type or None, req.log_config.config)


def attach_log(rec: Record, container_dir: Path) -> None:
    """``LogPath`` as docker shows it: the json-file's path, else empty."""
    cfg = logcfg.of_record(rec)
    rec["LogPath"] = logcfg.record_log_path(
        cfg, logcfg.log_file(container_dir, rec["Id"], cfg))


def attach_storage(root: Path, rec: Record) -> None:
    """Give a new record its upper/work dirs and its volumes (created now, named or
    anonymous, as docker does at create)."""
    cdir = root / "containers" / rec["Id"]
    attach_log(rec, cdir)
    gd = rec["GraphDriver"]["Data"]
    gd.update(UpperDir=str(cdir / "upper"), WorkDir=str(cdir / "work"),
              MergedDir=str(cdir / "rt" / "rootfs"))
    vols = VolumeStore(root)
    mounts = []
    for m in rec["MountRequests"]:
        if m["Type"] == "volume":
            v = vols.create(m["Source"] or None)
            mounts.append({"Type": "volume", "Name": v["Name"], "Source": v["Mountpoint"],
                           "Destination": m["Target"], "Driver": "local", "Mode": "",
                           "RW": not m["ReadOnly"], "Propagation": "",
                           "Anonymous": not m["Source"],
                           "NoCopy": "nocopy" in m["Options"]})
        elif m["Type"] == "bind":
            src = Path(m["Source"]).absolute()
            if not src.exists():
                if "create-host-path" not in m["Options"]:
                    raise NotFound('invalid mount config for type "bind": bind source path '
                                   f"does not exist: {src}")
                src.mkdir(parents=True)  # docker's -v creates a missing bind source
            mounts.append({"Type": "bind", "Source": str(src), "Destination": m["Target"],
                           "Mode": "", "RW": not m["ReadOnly"], "Propagation": "rprivate"})
    rec["Mounts"] = mounts


def _pid_of(root: Path, ref: str, what: str) -> int:
    """PID 1 of running container ``ref``, whose ``what`` (network, IPC) another joins."""
    from ..containers import ContainerStore

    other = ContainerStore(root).get(ref)
    pid = int(other["State"].get("Pid") or 0)
    if other["State"].get("Status") != "running" or not pid:
        raise Conflict(f"cannot join the {what} of container {ref}: it is not running")
    return pid


def _netns_of(root: Path, ref: str) -> str:
    """``--network container:X``: the network namespace of X's running PID 1."""
    return f"/proc/{_pid_of(root, ref, 'network')}/ns/net"


def _names_of(root: Path, ref: str) -> tuple[str | None, str | None]:
    """``--network container:X``: X's /etc/hosts and /etc/resolv.conf as they are now
    (docker shares them: the names X resolves, through X's DNS server, are ours)."""
    from ..containers import ContainerStore
    from .net import etc_file

    spec_root = str(root / "containers" / ContainerStore(root).get(ref)["Id"] / "rt")
    out: list[str | None] = []
    for target in ("/etc/hosts", "/etc/resolv.conf"):
        try:
            out.append(etc_file(spec_root, target).read_text())
        except OSError:
            out.append(None)
    return out[0], out[1]


IPC_MODES = ("private", "shareable", "host", "none")


def check_ipc(mode: str) -> str:
    """docker's ``--ipc``: private (the default), shareable, none, host, container:X."""
    if mode in IPC_MODES or (mode.startswith("container:") and len(mode) > 10):
        return mode
    raise S.bad(f"invalid --ipc {mode!r}: use private, shareable, none, host or "
                "container:NAME")


def _resolv(host_text: str, dns: list[str], search: list[str], opts: list[str]) -> str:
    """resolv.conf with ``--dns``/``--dns-search``/``--dns-option`` replacing the host's."""
    keep = [ln for ln in host_text.splitlines()
            if not (dns and ln.startswith("nameserver")) and
            not (search and ln.startswith(("search", "domain"))) and
            not (opts and ln.startswith("options"))]
    keep += [f"nameserver {d}" for d in dns]
    if search:
        keep.append("search " + " ".join(search))
    if opts:
        keep.append("options " + " ".join(opts))
    return "\n".join(keep) + "\n"


#: docker's fallback when the host names no resolver a container can reach
DEFAULT_DNS = ("8.8.8.8", "8.8.4.4")


def resolv_for_own_netns(host_text: str, resolved_text: str = "") -> str:
    """The host's resolv.conf as a container in a network namespace of its own sees it
    (docker's rule): a loopback resolver (systemd-resolved's 127.0.0.53, a dnsmasq on
    127.0.0.1) answers in the host's namespace only, and an IPv6 one is out of reach
    of an IPv4 bridge; they are dropped. With none left: the upstreams systemd-resolved
    uses (``resolved_text``, its /run/systemd/resolve/resolv.conf), else 8.8.8.8 and
    8.8.4.4. The host's resolver reached through the bridge's NAT is the usual case."""
    import ipaddress

    def usable(line: str) -> bool:
        parts = line.split()
        if len(parts) < 2 or parts[0] != "nameserver":
            return True
        try:
            addr = ipaddress.ip_address(parts[1].split("%")[0])
        except ValueError:
            return False
        return addr.version == 4 and not addr.is_loopback

    def servers(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln.startswith("nameserver") and usable(ln)]

    lines = host_text.splitlines()
    keep = [ln for ln in lines if usable(ln)]
    if not servers(host_text):
        keep += servers(resolved_text) or [f"nameserver {d}" for d in DEFAULT_DNS]
    return "\n".join(keep) + "\n"


def runtime_spec(root: Path, rec: Record, console_size: tuple[int, int] | None = None, *,
                 starting: bool = True) -> Any:
    """The runtime's ContainerSpec for starting ``rec``; ``starting=False`` for one
    that runs already (adopted after a restart), whose host devices are not required
    to be there still."""
    from ..runtime.spec import (  # type: ignore[import-not-found,unused-ignore]
        ContainerSpec,
        IdMap,
        Mount,
        Process,
        Resources,
        Rlimit,
        Rootfs,
    )

    cid = rec["Id"]
    cfg, host = rec["Config"], rec["HostConfig"]
    gd = rec["GraphDriver"]["Data"]
    cdir = root / "containers" / cid
    for d in (gd["UpperDir"], gd["WorkDir"]):
        Path(d).mkdir(parents=True, exist_ok=True)
    hostname = cfg["Hostname"] or cid[:12]
    mounts = []
    for m in rec["Mounts"]:
        mounts.append(Mount(target=m["Destination"], type="bind", source=m["Source"],
                            options=["rbind", "rprivate", "rw" if m["RW"] else "ro"]))
    for target, opts in (host.get("Tmpfs") or {}).items():
        mounts.append(Mount(target=target, type="tmpfs", source="tmpfs",
                            options=["nosuid", "nodev", "noexec",
                                     *[o for o in opts.split(",") if o]]))
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        resolv = ""
    env = [e for e in cfg["Env"] if not e.startswith("HOSTNAME=")]
    env.insert(0, f"HOSTNAME={hostname}")
    nnp, seccomp = security_options(host.get("SecurityOpt") or [])
    namespaces: dict[str, str | None] = {"pid": None, "mnt": None, "uts": None,
                                         "ipc": None, "net": None, "cgroup": None}
    if host["NetworkMode"] == "host":
        namespaces["net"] = "host"
        hosts = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else HOSTS
    else:
        hosts = HOSTS
        try:
            resolved = Path("/run/systemd/resolve/resolv.conf").read_text()
        except OSError:
            resolved = ""
        resolv = resolv_for_own_netns(resolv, resolved)
        if host["NetworkMode"].startswith("container:"):
            ref = host["NetworkMode"].split(":", 1)[1]
            namespaces["net"] = _netns_of(root, ref)
            shared_hosts, shared_resolv = _names_of(root, ref)
            hosts = shared_hosts or hosts
            resolv = shared_resolv or resolv
    ipc = host.get("IpcMode") or "private"
    if ipc == "host":
        namespaces["ipc"] = "host"
    elif ipc.startswith("container:"):
        # System V IPC and message queues live in the namespace. (docker also shares
        # X's /dev/shm, a tmpfs it mounts on the host; ours is inside X's mount
        # namespace, which a bind cannot reach: each keeps its own /dev/shm.)
        namespaces["ipc"] = f"/proc/{_pid_of(root, ipc.split(':', 1)[1], 'IPC namespace')}/ns/ipc"
    for entry in host.get("ExtraHosts") or []:
        name, _, ip = entry.partition(":")  # NAME:IP, the IP may be IPv6
        hosts += f"{ip}\t{name}\n"
    if host.get("Dns") or host.get("DnsSearch") or host.get("DnsOptions"):
        resolv = _resolv(resolv, host.get("Dns") or [], host.get("DnsSearch") or [],
                         host.get("DnsOptions") or [])
    uid_map = [IdMap(*[int(x) for x in s.split(":")]) for s in host.get("UidMap") or []]
    gid_map = [IdMap(*[int(x) for x in s.split(":")]) for s in host.get("GidMap") or []]
    if uid_map:
        namespaces["user"] = None
        gid_map = gid_map or uid_map
    devices, device_rules = D.runtime_devices(host, bool(host["Privileged"]),
                                              strict=starting)
    return ContainerSpec(
        id=cid, root=str(cdir / "rt"),
        rootfs=Rootfs(lowerdirs=gd["LowerDir"].split(":"), upperdir=gd["UpperDir"],
                      workdir=gd["WorkDir"]),
        process=Process(args=[rec["Path"], *rec["Args"]], env=env,
                        cwd=cfg["WorkingDir"] or "/", user=cfg["User"] or "",
                        additional_gids=[int(g) for g in host.get("GroupAdd") or []
                                         if str(g).isdigit()],
                        terminal=bool(cfg["Tty"]), console_size=console_size),
        hostname=hostname, readonly_rootfs=bool(host["ReadonlyRootfs"]), mounts=mounts,
        etc_files={"/etc/hostname": hostname + "\n", "/etc/hosts": hosts,
                   "/etc/resolv.conf": resolv},
        namespaces=namespaces, uid_map=uid_map, gid_map=gid_map,
        resources=Resources(
            memory=host["Memory"] or None, memory_swap=host["MemorySwap"] or None,
            cpus=host["NanoCpus"] / 1e9 if host["NanoCpus"] else None,
            cpu_shares=host["CpuShares"] or None, cpuset_cpus=host["CpusetCpus"] or None,
            pids_limit=host["PidsLimit"], oom_score_adj=host["OomScoreAdj"] or None,
            device_rules=device_rules),
        devices=devices,
        capabilities=capabilities(host.get("CapAdd") or [], host.get("CapDrop") or []),
        privileged=bool(host["Privileged"]), seccomp=seccomp, no_new_privileges=nnp,
        rlimits=[Rlimit(u["Name"], u["Soft"], u["Hard"]) for u in host.get("Ulimits") or []],
        sysctls=dict(host.get("Sysctls") or {}), shm_size=int(host["ShmSize"]),
        init=bool(host["Init"]), cgroup_parent=f"pycompose/{root_id(root)}",
    )

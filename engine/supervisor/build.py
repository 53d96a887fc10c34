"""Turn ``run``/``create`` options and an image into a container record, and a record
into the runtime's ContainerSpec.

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

from ..containers import Record
from ..errors import EngineError, NotFound
from ..volumes import VolumeStore
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
    try:
        from ..images import ImageStore
    except ImportError:
        raise EngineError("the image store is not available in this build; use "
                          "--rootfs DIR", exit_code=125)
    try:
        image = ImageStore(root).resolve(ref)
    except NotFound as e:  # docker run's status for a missing image is 125
        raise NotFound(f"Unable to find image '{ref}' locally: {e} (no registry pull "
                       "here: use pycompose image import, load or bootstrap first)", exit_code=125)
    return str(image.id), _image_config(image), [str(p) for p in image.lowerdirs()]


def new_record(root: Path, o: dict[str, Any]) -> Record:
    """The record of a container made from options ``o`` (the CLI's parsed flags)."""
    if o.get("rootfs"):
        rootfs = Path(o["rootfs"]).absolute()
        if not rootfs.is_dir():
            raise NotFound(f"--rootfs {rootfs}: no such directory", exit_code=125)
        icfg: dict[str, Any] = {}
        image_id, lowers = "", [str(rootfs)]
        image_ref = str(rootfs)
    else:
        image_id, icfg, lowers = resolve_image(root, o["image"])
        image_ref = o["image"]
    ep, cmd = S.command_line(icfg.get("Entrypoint"), icfg.get("Cmd"),
                             o.get("entrypoint"), o.get("command") or [])
    hostname = o.get("hostname") or ""
    env = S.merge_env(icfg.get("Env"), o.get("env") or [])
    labels = dict(icfg.get("Labels") or {})
    for item in o.get("labels") or []:
        k, _, v = item.partition("=")
        labels[k] = v
    mem = S.parse_bytes(o["memory"], "--memory") if o.get("memory") else 0
    swap = -1 if o.get("memory_swap") == "-1" else \
        (S.parse_bytes(o["memory_swap"], "--memory-swap") if o.get("memory_swap") else 0)
    if swap and swap != -1 and mem and swap < mem:
        raise S.bad("Minimum memoryswap limit should be larger than memory limit, see usage")
    nnp, seccomp = security_options(o.get("security_opt") or [])
    S.parse_signal(o.get("stop_signal") or icfg.get("StopSignal"))  # validate early
    # no --network: a namespace with lo only, unless ports are published (then docker's
    # default bridge, so that ``run -p 8080:80`` works as it does with docker)
    nets = list(o.get("networks") or [])  # compose: [{"name", "aliases", ...}, ...]
    network = o.get("network") or (nets[0]["name"] if nets else None) or \
        ("bridge" if o.get("publish") else "none")
    if network == "host" and o.get("publish"):
        raise S.bad("-p has no effect with --network host: the container uses the "
                    "host's ports directly")
    mounts = S.all_mounts(o.get("volumes") or [], o.get("mounts") or [],
                          o.get("tmpfs") or [], icfg.get("Volumes"))
    config = {
        "Hostname": hostname, "Domainname": o.get("domainname") or "",
        "User": o.get("user") or icfg.get("User", ""),
        "AttachStdin": bool(o.get("interactive")) and not o.get("detach"),
        "AttachStdout": not o.get("detach"), "AttachStderr": not o.get("detach"),
        "Tty": bool(o.get("tty")), "OpenStdin": bool(o.get("interactive")),
        "StdinOnce": bool(o.get("interactive")) and not o.get("detach"),
        "Env": env, "Cmd": cmd, "Entrypoint": ep or None, "Image": image_ref,
        "WorkingDir": o.get("workdir") or icfg.get("WorkingDir") or "",
        "Labels": labels, "StopSignal": o.get("stop_signal") or icfg.get("StopSignal") or "",
        "StopTimeout": o.get("stop_timeout"), "ExposedPorts": dict(icfg.get("ExposedPorts") or {}),
        "Volumes": {m.target: {} for m in mounts if m.type == "volume"} or None,
        "Healthcheck": S.healthcheck(icfg.get("Healthcheck"), o),
    }
    for p in o.get("expose") or []:
        config["ExposedPorts"][p if "/" in p else f"{p}/tcp"] = {}
    host = {
        "Binds": o.get("volumes") or [], "Mounts": o.get("mounts") or [],
        "Tmpfs": {m.target: ",".join(m.options) for m in mounts if m.type == "tmpfs"},
        "NetworkMode": network, "PortBindings": S.parse_ports(o.get("publish") or []),
        "PublishSpecs": list(o.get("publish") or []),
        "Links": list(o.get("links") or []) or None,
        "ExtraHosts": list(o.get("extra_hosts") or []) or None,
        "Dns": list(o.get("dns") or []), "DnsSearch": list(o.get("dns_search") or []),
        "DnsOptions": list(o.get("dns_opt") or []),
        "GroupAdd": [str(g) for g in o.get("group_add") or []] or None,
        "RestartPolicy": S.parse_restart(o.get("restart")), "AutoRemove": bool(o.get("rm")),
        "Privileged": bool(o.get("privileged")), "ReadonlyRootfs": bool(o.get("read_only")),
        "CapAdd": o.get("cap_add") or None, "CapDrop": o.get("cap_drop") or None,
        "SecurityOpt": o.get("security_opt") or None, "Init": bool(o.get("init")),
        "Memory": mem, "MemorySwap": swap,
        "NanoCpus": S.parse_cpus(o["cpus"]) if o.get("cpus") else 0,
        "CpuShares": int(o.get("cpu_shares") or 0), "CpusetCpus": o.get("cpuset_cpus") or "",
        "PidsLimit": int(o["pids_limit"]) if o.get("pids_limit") else None,
        "OomScoreAdj": int(o.get("oom_score_adj") or 0),
        "Ulimits": [S.parse_ulimit(u) for u in o.get("ulimits") or []] or None,
        "Sysctls": dict(s.split("=", 1) for s in o.get("sysctls") or []) or None,
        "ShmSize": S.parse_bytes(o["shm_size"]) if o.get("shm_size") else 64 * 1024 * 1024,
        "UsernsMode": o.get("userns") or "",
        "IpcMode": check_ipc(o.get("ipc") or "private"),
        **userns_maps(o.get("userns") or "", o.get("uidmap") or [], o.get("gidmap") or []),
    }
    capabilities(o.get("cap_add") or [], o.get("cap_drop") or [])  # validate early
    _ = nnp, seccomp
    return {
        "Image": image_id, "Config": config, "HostConfig": host,
        "Path": (ep + cmd)[0], "Args": (ep + cmd)[1:],
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(lowers)}},
        "MountRequests": [m.to_json() for m in mounts],
        "NetworkingConfig": {"EndpointsConfig": {
            n["name"]: {"Aliases": list(n.get("aliases") or []),
                        "IPAMConfig": {"IPv4Address": n.get("ipv4_address")}
                        if n.get("ipv4_address") else None,
                        "MacAddress": n.get("mac_address") or ""}
            for n in nets}} if nets and not o.get("network") else None,
        "Mounts": [], "Platform": "linux", "Driver": "overlay",
    }


def attach_storage(root: Path, rec: Record) -> None:
    """Give a new record its upper/work dirs and its volumes (created now, named or
    anonymous, as docker does at create)."""
    cdir = root / "containers" / rec["Id"]
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
                                   f"does not exist: {src}", exit_code=125)
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
        raise EngineError(f"cannot join the {what} of container {ref}: it is not running",
                          exit_code=125)
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


def runtime_spec(root: Path, rec: Record, console_size: tuple[int, int] | None = None) -> Any:
    """The runtime's ContainerSpec for starting ``rec``."""
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
        pid = _pid_of(root, ipc.split(":", 1)[1], "IPC namespace")
        namespaces["ipc"] = f"/proc/{pid}/ns/ipc"
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
            pids_limit=host["PidsLimit"], oom_score_adj=host["OomScoreAdj"] or None),
        capabilities=capabilities(host.get("CapAdd") or [], host.get("CapDrop") or []),
        privileged=bool(host["Privileged"]), seccomp=seccomp, no_new_privileges=nnp,
        rlimits=[Rlimit(u["Name"], u["Soft"], u["Hard"]) for u in host.get("Ulimits") or []],
        sysctls=dict(host.get("Sysctls") or {}), shm_size=int(host["ShmSize"]),
        init=bool(host["Init"]), cgroup_parent=f"pycompose/{root_id(root)}",
    )

"""``POST /containers/create``'s body (``Config`` + ``HostConfig`` + ``NetworkingConfig``)
as the face's :class:`CreateRequest`: the edge where the API's JSON becomes types.

Fields the engine honours are translated; fields it cannot honour are refused with a 400
naming them when they are set to anything but their zero value (docker's clients send
every field, mostly zero); fields with no meaning here (``VolumeDriver`` "local",
``Runtime``, ``Isolation`` "default", cgroup parents) are accepted when they ask for the
default. Unknown keys are ignored, as Go's decoder ignores them.
"""

from __future__ import annotations

import re
from typing import Any

from pycompose.util.units import parse_size

from ..engine.api import (
    CreateRequest,
    DeviceMapping,
    Endpoint,
    Healthcheck,
    InvalidArgument,
    LogConfig,
    Mount,
    PortBinding,
    Resources,
    RestartPolicy,
    Ulimit,
    device_mapping,
    parse_device_cgroup_rule,
)
from .jsondoc import Doc

_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_BIND_OPTIONS = {"ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared",
                 "slave", "rslave", "consistent", "cached", "delegated"}
#: NetworkMode values that are not a network's name
_MODES = {"", "default", "bridge", "host", "none"}
_BRIDGE = ("", "default", "bridge")
_MAC_CONFLICT = "conflicting options: mac-address and the network mode"


def _target(path: str, where: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid mount config for {where}: mount path {path!r} "
                              "must be absolute")
    return path.rstrip("/") or "/"


def bind(spec: str, where: str = "HostConfig.Binds") -> Mount:
    """``SRC:DST[:OPTS]`` of ``HostConfig.Binds``: a host path (created when missing, as
    docker does for binds) or a named volume."""
    parts = spec.split(":")
    if len(parts) < 2 or len(parts) > 3 or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid volume specification: {spec!r}")
    src, dst = parts[0], _target(parts[1], where)
    opts = [o for o in parts[2].split(",") if o] if len(parts) == 3 else []
    for o in opts:
        if o not in _BIND_OPTIONS:
            raise InvalidArgument(f"invalid volume specification: {spec!r}: invalid mode "
                                  f"{o!r}")
    ro = "ro" in opts
    if src.startswith("/"):
        return Mount("bind", dst, src, ro, create_host_path=True)
    if not _VOLUME_NAME.fullmatch(src):
        raise InvalidArgument(f"invalid volume specification: {spec!r}: {src!r} includes "
                              "invalid characters for a local volume name, only "
                              "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return Mount("volume", dst, src, ro, no_copy="nocopy" in opts)


def mount(m: Doc) -> Mount:
    """One ``HostConfig.Mounts`` entry."""
    typ = m.text("Type", "volume")
    target = m.text("Target")
    if not target:
        raise InvalidArgument(f"invalid mount config: {m.where}.Target must not be empty")
    if typ not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid mount config: {m.where}.Type {typ!r} is not "
                              "supported by pycompose (bind, volume, tmpfs)")
    source = m.text("Source")
    out = Mount(typ, _target(target, m.where), source, m.boolean("ReadOnly"))
    if typ == "bind":
        if not source.startswith("/"):
            raise InvalidArgument(f"invalid mount config for type \"bind\": invalid "
                                  f"mount path: {source!r} mount path must be absolute")
        bo = m.doc("BindOptions")
        out.create_host_path = bo.boolean("CreateMountpoint")
    elif typ == "volume":
        vo = m.doc("VolumeOptions")
        out.no_copy = vo.boolean("NoCopy")
        if vo.text("Subpath"):  # never the whole volume in its place
            raise InvalidArgument(f"{m.where}.VolumeOptions.Subpath is not supported by "
                                  "pycompose: mount the volume and use the path in it")
        driver = vo.doc("DriverConfig").text("Name")
        if driver not in ("", "local"):
            raise InvalidArgument(f"{m.where}.VolumeOptions.DriverConfig.Name: volume "
                                  f"driver {driver!r} is not supported (only local)")
    else:
        if source:
            raise InvalidArgument("invalid mount config for type \"tmpfs\": source must "
                                  "be empty")
        to = m.doc("TmpfsOptions")
        if to.has("SizeBytes"):
            out.tmpfs_size = to.integer("SizeBytes")
        if to.has("Mode"):
            out.tmpfs_mode = to.integer("Mode")
    return out


def tmpfs(path: str, opts: str) -> Mount:
    """One ``HostConfig.Tmpfs`` entry: ``{"/run": "rw,size=64m,mode=1777"}``."""
    m = Mount("tmpfs", _target(path, "HostConfig.Tmpfs"))
    for o in (o for o in opts.split(",") if o):
        k, _, v = o.partition("=")
        try:
            if k == "size":
                m.tmpfs_size = parse_size(v)
            elif k == "mode":
                m.tmpfs_mode = int(v, 8)
            elif k == "ro":
                m.read_only = True
        except ValueError as e:
            raise InvalidArgument(f"HostConfig.Tmpfs {path}: invalid option {o!r}: {e}")
    return m


def port_bindings(doc: Doc) -> list[PortBinding]:
    """``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``, each binding checked by
    the one port parser of the house (ranges, 1..65535, tcp or udp, the address)."""
    from ..engine.api.networks import NetplugError, parse_port

    out: list[PortBinding] = []
    raw = doc.raw("PortBindings") or {}
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid JSON: HostConfig.PortBindings must be an object")
    for key, binds in raw.items():
        port, _, proto = str(key).partition("/")
        if not isinstance(binds, list | None):
            raise InvalidArgument(f"invalid JSON: HostConfig.PortBindings.{key} must be "
                                  "a list")
        for i, b in enumerate(binds or [{}]):
            bd = Doc(b, f"HostConfig.PortBindings.{key}[{i}]")
            spec = {"target": port, "protocol": proto or "tcp",
                    "host_ip": bd.text("HostIp"), "published": bd.text("HostPort")}
            try:
                out += parse_port(spec)
            except NetplugError as e:
                raise InvalidArgument(f"invalid port specification: {key!r} "
                                      f"({bd.text('HostPort') or 'any'}): {e}") from None
    return out


def healthcheck(doc: Doc) -> Healthcheck | None:
    if not doc.data:
        return None
    test = doc.strs("Test")
    if test == ["NONE"]:
        return Healthcheck(disable=True)

    def ns(key: str) -> int | None:
        v = doc.opt_int(key)
        return v if v else None
    return Healthcheck(test=test or None, interval=ns("Interval"), timeout=ns("Timeout"),
                       start_period=ns("StartPeriod"), start_interval=ns("StartInterval"),
                       retries=doc.opt_int("Retries") or None)


def restart_policy(doc: Doc) -> RestartPolicy:
    name = doc.text("Name") or "no"
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidArgument(f"invalid restart policy: unknown policy {name!r}; use one "
                              "of 'no', 'always', 'on-failure' or 'unless-stopped'")
    count = doc.integer("MaximumRetryCount")
    if count and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be "
                              "used with 'on-failure'")
    if count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be "
                              "negative")
    return RestartPolicy(name, count)


def _refuse_unsupported(hc: Doc, cfg: Doc) -> None:
    hc.unsupported("DeviceRequests", why="GPUs are not passed into containers; give the "
                   "device nodes in HostConfig.Devices")
    hc.unsupported("VolumesFrom", why="use named volumes")
    hc.unsupported("PublishAllPorts", why="publish each port (PortBindings)")
    hc.unsupported("BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps",
                   "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
                   "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime",
                   "CpusetMems", "MemoryReservation", "KernelMemory", "KernelMemoryTCP",
                   "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",
                   "StorageOpt", "MaskedPaths", "ReadonlyPaths", "Annotations",
                   why="set what the engine supports: Memory, MemorySwap, NanoCpus, "
                       "CpuShares, CpusetCpus, PidsLimit, OomScoreAdj, ShmSize")
    hc.unsupported("OomKillDisable")
    for key, ok in (("PidMode", ("", "private")), ("UTSMode", ("", "private")),
                    ("CgroupnsMode", ("", "private", "host")), ("Cgroup", ("",)),
                    ("CgroupParent", ("",)), ("VolumeDriver", ("", "local")),
                    ("Runtime", ("", "runc", "pycompose")),
                    ("Isolation", ("", "default")), ("ContainerIDFile", ("",))):
        if hc.text(key) not in ok:
            raise InvalidArgument(f"HostConfig.{key}={hc.text(key)!r} is not supported by "
                                  "pycompose")
    cfg.unsupported("OnBuild", "Shell")
    if cfg.boolean("NetworkDisabled"):
        raise InvalidArgument("Config.NetworkDisabled is not supported: use "
                              "HostConfig.NetworkMode \"none\"")


def devices(hc: Doc) -> list[DeviceMapping]:
    """``HostConfig.Devices``: [{PathOnHost, PathInContainer, CgroupPermissions}]."""
    return [device_mapping(d.text("PathOnHost"), d.text("PathInContainer"),
                           d.text("CgroupPermissions") or "rwm", f"HostConfig.Devices[{i}]")
            for i, d in enumerate(hc.docs("Devices"))]


#: the log drivers docker's daemon has built in: a name among them that the engine does
#: not write is the engine's refusal (which says what it supports); any other name is
#: docker's "no log driver named ..." (a plugin docker would look up, and none is here)
DOCKER_LOG_DRIVERS = ("json-file", "local", "none", "syslog", "journald", "gelf",
                      "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries")


def create_request(body: Any, name: str = "") -> CreateRequest:
    """The typed request ``docker create`` sends (``name``: the query's ``name``)."""
    top = Doc(body)
    cfg = top  # Config's fields are at the top of the body
    hc = top.doc("HostConfig")
    image = cfg.text("Image")
    if not image:
        raise InvalidArgument("Config.Image is required: no image was named")
    _refuse_unsupported(hc, cfg)
    entrypoint = cfg.opt_strs("Entrypoint")
    if entrypoint == [""]:  # docker run --entrypoint "": clear the image's
        entrypoint = []
    mounts: list[Mount] = [bind(b) for b in hc.strs("Binds")]
    mounts += [mount(m) for m in hc.docs("Mounts")]
    mounts += [tmpfs(p, o) for p, o in hc.str_map("Tmpfs").items()]
    taken = {m.target for m in mounts}
    for path in cfg.keys_of("Volumes"):  # ``-v /data``: anonymous volumes
        t = _target(path, "Config.Volumes")
        if t not in taken:
            mounts.append(Mount("volume", t))
            taken.add(t)
    network = hc.text("NetworkMode")
    network = "" if network == "default" else network
    endpoints = []
    bridge_mac = ""
    for net, ep in top.doc("NetworkingConfig").doc_map("EndpointsConfig").items():
        ipam = ep.doc("IPAMConfig")
        aliases = ep.strs("Aliases")
        ip = ipam.text("IPv4Address") or None
        mac = ep.text("MacAddress") or None
        if net in _MODES or net.startswith("container:"):
            if aliases or ip:
                raise InvalidArgument(f"network-scoped aliases and addresses are only "
                                      f"supported for user-defined networks, not {net!r}")
            if mac and net in _BRIDGE:
                bridge_mac = mac
            elif mac:
                raise InvalidArgument(_MAC_CONFLICT)
            continue
        endpoints.append(Endpoint(net, aliases, ip, mac))
    if endpoints and network in ("", "bridge"):
        network = endpoints[0].network
    if network and network not in _MODES and not network.startswith("container:") \
            and not any(e.network == network for e in endpoints):
        endpoints.insert(0, Endpoint(network))
    # Config.MacAddress (docker-py's mac_address; deprecated by API 1.44, which moved it
    # to the endpoints): the address on the container's first network, as dockerd does
    top_mac = cfg.text("MacAddress")
    if top_mac:
        if network in ("host", "none") or network.startswith("container:"):
            raise InvalidArgument(_MAC_CONFLICT)
        first = endpoints[0] if endpoints else None
        if first is None:
            bridge_mac = bridge_mac or top_mac
        elif not first.mac_address:
            first.mac_address = top_mac
    if bridge_mac and not endpoints:  # the default bridge, with an address of its own
        network = "bridge"
        endpoints = [Endpoint("bridge", mac_address=bridge_mac)]
    if len({e.network for e in endpoints}) > 1 and network in _MODES:
        raise InvalidArgument("Container cannot be connected to network endpoints: "
                              f"{', '.join(e.network for e in endpoints)}")
    swap = hc.integer("MemorySwap")
    memory = hc.integer("Memory")
    if swap > 0 and memory and swap < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory "
                              "limit, see usage")
    shm = hc.integer("ShmSize")
    if shm < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    pids = hc.opt_int("PidsLimit")
    res = Resources(memory=memory, memory_swap=swap, nano_cpus=hc.integer("NanoCpus"),
                    cpu_shares=hc.integer("CpuShares"), cpuset_cpus=hc.text("CpusetCpus"),
                    pids_limit=pids if pids and pids > 0 else None,
                    oom_score_adj=hc.integer("OomScoreAdj"), shm_size=shm or 64 << 20)
    ulimits = [Ulimit(u.text("Name"), u.integer("Soft"), u.integer("Hard"))
               for u in hc.docs("Ulimits")]
    log = hc.doc("LogConfig")
    driver = log.text("Type")
    if driver and driver not in DOCKER_LOG_DRIVERS:  # docker's words for a name it lacks
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")
    stop_timeout = cfg.opt_int("StopTimeout")
    user_ns = hc.text("UsernsMode")
    if user_ns not in ("", "host", "remap"):
        raise InvalidArgument(f"HostConfig.UsernsMode={user_ns!r}: use host or remap")
    init = hc.raw("Init")
    return CreateRequest(
        image=image, name=name or None, command=cfg.strs("Cmd"), entrypoint=entrypoint,
        env=cfg.strs("Env"), labels=cfg.str_map("Labels"), user=cfg.text("User"),
        workdir=cfg.text("WorkingDir"), hostname=cfg.text("Hostname"),
        domainname=cfg.text("Domainname"), tty=cfg.boolean("Tty"),
        open_stdin=cfg.boolean("OpenStdin"),
        attach=cfg.boolean("AttachStdout") or cfg.boolean("AttachStderr"),
        auto_remove=hc.boolean("AutoRemove"), network=network, endpoints=endpoints,
        ports=port_bindings(hc), expose=[p if "/" in p else f"{p}/tcp"
                                         for p in cfg.keys_of("ExposedPorts")],
        links=hc.strs("Links"), extra_hosts=hc.strs("ExtraHosts"), dns=hc.strs("Dns"),
        dns_search=hc.strs("DnsSearch"), dns_options=hc.strs("DnsOptions"),
        mounts=mounts, group_add=hc.strs("GroupAdd"),
        restart=restart_policy(hc.doc("RestartPolicy")), privileged=hc.boolean("Privileged"),
        read_only=hc.boolean("ReadonlyRootfs"), init=bool(init),
        cap_add=hc.strs("CapAdd"), cap_drop=hc.strs("CapDrop"),
        security_opt=hc.strs("SecurityOpt"), resources=res, ulimits=ulimits,
        devices=devices(hc),
        device_cgroup_rules=[parse_device_cgroup_rule(r, "HostConfig.DeviceCgroupRules")
                             for r in hc.strs("DeviceCgroupRules")],
        sysctls=hc.str_map("Sysctls"), stop_signal=cfg.text("StopSignal"),
        stop_timeout=stop_timeout, healthcheck=healthcheck(cfg.doc("Healthcheck")),
        userns=user_ns, ipc=hc.text("IpcMode"),
        log_config=LogConfig(log.text("Type"), log.str_map("Config")),
    )


def warnings(body: Any) -> list[str]:
    """What the create accepts and drops, as docker's daemon on cgroup v2 tells it in
    the answer's ``Warnings``: a memory swappiness (v2 has no such knob)."""
    out = []
    swappiness = Doc(body).doc("HostConfig").integer("MemorySwappiness", -1)
    if swappiness != -1:
        if not 0 <= swappiness <= 100:
            raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness "
                                  "range is 0-100")
        out.append("Your kernel does not support memory swappiness capabilities or the "
                   "cgroup is not mounted. Memory swappiness discarded.")
    return out


def console_size(body: Any) -> tuple[int, int] | None:
    """``HostConfig.ConsoleSize`` ([rows, columns]: the docker CLI sends its terminal's)."""
    hc = Doc(body).doc("HostConfig")
    v = hc.raw("ConsoleSize")
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v) \
            and v[0] > 0 and v[1] > 0:
        return int(v[0]), int(v[1])
    return None

"""What a front end asks the engine for: typed requests, parsed once at the edge.

The CLI's flags (``pycompose/cli/flags.py``), compose's model (``compose/translate.py``)
and the Docker API's JSON each build these; below them nothing parses docker-CLI text
again. They cross the supervisor's socket as plain data (``pycompose.util.plain``). They are
records (``pycompose.util.records``), not dataclasses: the thin CLI builds them, and
``dataclasses`` costs it ~7 ms of start-up.

Units are fixed here so that no two layers disagree: sizes in bytes, durations in
nanoseconds (docker's), CPUs in nano-CPUs, signals as names or numbers as given.
"""

from __future__ import annotations

import posixpath

from pycompose.util.records import field, record

from ...netplug.ports import PortBinding

__all__ = [
    "CreateRequest", "DeviceCgroupRule", "DeviceMapping", "Endpoint", "Event", "ExecRequest",
    "Healthcheck", "IdMapping", "LogConfig", "Mount", "PortBinding", "Resources",
    "RestartPolicy", "Stats", "Ulimit", "device_mapping", "parse_device",
    "parse_device_cgroup_rule",
]


@record
class Mount:
    """One mount: ``type`` bind (``source`` a host path), volume (``source`` a volume
    name, "" = anonymous) or tmpfs. ``target`` is absolute, without a trailing slash."""

    type: str
    target: str
    source: str = ""
    read_only: bool = False
    #: ``-v /host:/ctr``: create a missing bind source (``--mount`` refuses instead)
    create_host_path: bool = False
    #: a volume is not filled from the image's content at its first use
    no_copy: bool = False
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None


@record
class Healthcheck:
    """docker's HEALTHCHECK, over the image's: fields left None keep the image's.
    ``test`` is ``["CMD", argv...]``, ``["CMD-SHELL", "cmd"]`` or ``["NONE"]``."""

    test: list[str] | None = None
    interval: int | None = None  # ns
    timeout: int | None = None  # ns
    start_period: int | None = None  # ns
    start_interval: int | None = None  # ns
    retries: int | None = None
    disable: bool = False


@record
class RestartPolicy:
    """``no``, ``always``, ``unless-stopped``, ``on-failure`` (with a retry limit)."""

    name: str = "no"
    maximum_retry_count: int = 0


@record
class Resources:
    memory: int = 0  # bytes, 0 = unlimited
    memory_swap: int = 0  # bytes of memory + swap; -1 unlimited, 0 = docker's default
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    pids_limit: int | None = None
    oom_score_adj: int = 0
    shm_size: int = 64 * 1024 * 1024


@record
class Ulimit:
    name: str
    soft: int
    hard: int


@record
class IdMapping:
    """One ``--uidmap``/``--gidmap`` range: container id, host id, count."""

    container_id: int
    host_id: int
    size: int


@record
class Endpoint:
    """One network a container joins, with its settings there."""

    network: str
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str | None = None
    mac_address: str | None = None


@record
class LogConfig:
    """docker's ``--log-driver``/``--log-opt``: json-file, local or none."""

    type: str = ""  # "" = the engine's default
    config: dict[str, str] = field(default_factory=dict)


@record
class DeviceMapping:
    """``--device HOST[:CONTAINER][:PERMS]`` (docker's ``HostConfig.Devices`` entry):
    the host's node, or a directory of nodes, given to the container at
    ``path_in_container`` with a device-cgroup rule of ``cgroup_permissions``."""

    path_on_host: str
    path_in_container: str
    cgroup_permissions: str = "rwm"


@record
class DeviceCgroupRule:
    """``--device-cgroup-rule 'c 10:200 rwm'``: an allow rule; ``kind`` is "a", "c" or
    "b", a major or minor of None is docker's ``*``, ``access`` some of "rwm"."""

    kind: str
    major: int | None
    minor: int | None
    access: str

    def text(self) -> str:
        """docker's spelling, as inspect shows it ("c 10:200 rwm")."""
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.kind} {major}:{minor} {self.access}"


def valid_device_permissions(text: str) -> bool:
    """docker's validDeviceMode: some of r, w and m, each at most once."""
    return bool(text) and set(text) <= set("rwm") and len(set(text)) == len(text)


def device_mapping(host: str, container: str = "", permissions: str = "rwm",
                   what: str = "--device", text: str | None = None) -> DeviceMapping:
    """A checked mapping: the container path absolute (it defaults to the host's), the
    permissions some of r, w, m. ``what`` names the flag or key in the errors and
    ``text`` the value as given (docker's "invalid argument ... for ... flag")."""
    from ..errors import InvalidArgument

    def bad(reason: str) -> InvalidArgument:
        if text is not None:
            return InvalidArgument(f'invalid argument "{text}" for "{what}" flag: {reason}')
        return InvalidArgument(f"invalid {what} {host!r}: {reason}")

    if not host:
        raise bad("bad format: the host path is empty")
    container = container or host
    if not valid_device_permissions(permissions):
        raise bad(f"bad mode specified: {permissions} (use some of r, w and m)")
    if not container.startswith("/"):
        raise bad(f"{container} is not an absolute path")
    return DeviceMapping(host, "/" + posixpath.normpath(container).lstrip("/"), permissions)


def parse_device(text: str, what: str = "--device") -> DeviceMapping:
    """docker's ``HOST[:CONTAINER][:PERMS]``: with two parts, the second is the
    permissions when it reads as some of rwm, else the container path."""
    parts = text.split(":")
    host, container, perms = parts[0], "", "rwm"
    if len(parts) > 3:
        host = ""  # docker: "bad format for path"
    elif len(parts) == 3:
        container, perms = parts[1], parts[2]
    elif len(parts) == 2:
        if valid_device_permissions(parts[1]):
            perms = parts[1]
        else:
            container = parts[1]
    return device_mapping(host, container, perms, what, text)


def parse_device_cgroup_rule(text: str, what: str = "--device-cgroup-rule"
                             ) -> DeviceCgroupRule:
    """docker's ``TYPE MAJOR:MINOR ACCESS``: TYPE a, b or c, ``*`` for any major or
    minor, ACCESS one to three of r, w, m."""
    from ..errors import InvalidArgument

    def number(part: str) -> int | None:
        if part == "*":
            return None
        if not part.isascii() or not part.isdigit():
            raise ValueError(part)
        return int(part)

    try:
        kind, numbers, access = text.split(" ")
        major_text, minor_text = numbers.split(":")
        if kind not in ("a", "b", "c") or not 1 <= len(access) <= 3 \
                or not set(access) <= set("rwm"):
            raise ValueError(text)
        return DeviceCgroupRule(kind, number(major_text), number(minor_text), access)
    except ValueError:
        where = f'invalid argument "{text}" for "{what}" flag' if what.startswith("--") \
            else f"invalid {what}"
        raise InvalidArgument(f"{where}: invalid device cgroup format '{text}' (use 'TYPE "
                              "MAJOR:MINOR ACCESS' as 'c 10:200 rwm': TYPE a, b or c, * for "
                              "any major or minor, ACCESS some of r, w, m)") from None


@record
class CreateRequest:
    """A container to create, as ``docker create`` describes one.

    ``network`` is the network mode: "" (docker's default bridge), ``bridge``, ``host``,
    ``none``, ``container:ID`` or a network's name; ``endpoints`` lists the networks to
    join with their settings (compose's ``networks:``, ``--network NAME --ip ...``) and
    wins over ``network`` when given. ``scope`` is the group whose network namespace
    the endpoints live in (compose's project); None for standalone networks.
    """

    image: str
    name: str | None = None
    #: IMAGE is a directory holding a root filesystem (podman's ``--rootfs``)
    rootfs: bool = False
    command: list[str] = field(default_factory=list)
    #: None keeps the image's; [] clears it; a list is the exact argv
    entrypoint: list[str] | None = None
    env: list[str] = field(default_factory=list)  # KEY=VALUE, already resolved
    labels: dict[str, str] = field(default_factory=dict)
    user: str = ""
    workdir: str = ""
    hostname: str = ""
    domainname: str = ""
    tty: bool = False
    open_stdin: bool = False  # -i
    attach: bool = False  # the caller attaches to its stdio (``run`` without -d)
    auto_remove: bool = False
    # network
    network: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)
    scope: str | None = None
    ports: list[PortBinding] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)  # "80/tcp"
    links: list[str] = field(default_factory=list)  # NAME[:ALIAS]
    extra_hosts: list[str] = field(default_factory=list)  # HOST:IP
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    # storage
    mounts: list[Mount] = field(default_factory=list)
    # process and security
    group_add: list[str] = field(default_factory=list)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    privileged: bool = False
    read_only: bool = False
    init: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    ulimits: list[Ulimit] = field(default_factory=list)
    #: host devices given to the container, and extra device-cgroup allow rules
    devices: list[DeviceMapping] = field(default_factory=list)
    device_cgroup_rules: list[DeviceCgroupRule] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    stop_timeout: int | None = None  # seconds
    healthcheck: Healthcheck | None = None
    userns: str = ""  # "", "host", "remap"
    #: IPC namespace: "" (private), private, shareable, none, host, container:ID
    ipc: str = ""
    uid_map: list[IdMapping] = field(default_factory=list)
    gid_map: list[IdMapping] = field(default_factory=list)
    log_config: LogConfig = field(default_factory=LogConfig)


@record
class ExecRequest:
    """A process to run in a running container (``docker exec``)."""

    cmd: list[str]
    env: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    privileged: bool = False
    console_size: tuple[int, int] | None = None


@record
class Event:
    """One change the engine made (docker's event: Type, Action, Actor.ID and its
    Attributes: name, image, the labels, exitCode for ``die``)."""

    action: str
    id: str
    attributes: dict[str, str] = field(default_factory=dict)
    type: str = "container"
    time_ns: int = 0


@record
class Stats:
    """One sample of a container's cgroup: CPU time used (ns), memory in use and its
    limit (bytes; a huge limit is none), processes; ``time_ns`` when it was read."""

    id: str
    time_ns: int
    cpu_ns: int = 0
    memory: int = 0
    memory_limit: int = 0
    pids: int = 0

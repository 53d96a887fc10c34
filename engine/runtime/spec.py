"""The fully resolved description of one container, as the runtime takes it.

Everything here is already decided by the caller (image config merged with
``docker run`` flags, paths chosen, names resolved except the user, which is looked up
in the container's own /etc/passwd). The spec crosses a pipe to the launcher as JSON,
so it holds only plain data: ``to_json`` / ``from_json`` round-trip it exactly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from pycompose.util.plain import from_plain

#: Docker's default capability set (moby daemon/pkg/oci/caps/defaults.go).
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

#: Paths hidden from the container (docker's defaultLinuxMaskedPaths); files get
#: /dev/null over them, directories an empty read-only tmpfs. Missing ones are skipped.
DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
)

#: Paths made read-only (docker's defaultLinuxReadonlyPaths).
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)

#: The namespaces a container gets by default (cgroup ns when the kernel has it).
DEFAULT_NAMESPACES: tuple[str, ...] = ("pid", "mnt", "uts", "ipc", "net", "cgroup")


@dataclass
class Rootfs:
    """An overlay root: ``lowerdirs`` top layer first (as ``img.lowerdirs()`` gives
    them), the container's own ``upperdir`` and ``workdir`` (same filesystem)."""

    lowerdirs: list[str]
    upperdir: str
    workdir: str


@dataclass
class Mount:
    """One mount inside the container.

    ``type`` is "bind" (source is a host path: a volume's _data dir or a bind source)
    or a filesystem type ("tmpfs", ...). ``options`` are docker/OCI style strings:
    "ro", "rw", "nosuid", "nodev", "noexec", "rprivate", "size=64m", "mode=1777" ...
    """

    target: str
    type: str = "bind"
    source: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Process:
    """What runs: ``args[0]`` is looked up in the container's PATH (from ``env``).

    ``user`` is docker's ``-u``: "", "name", "uid", "name:group", "uid:gid"; it is
    resolved inside the container against its /etc/passwd and /etc/group.
    """

    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    user: str = ""
    additional_gids: list[int] = field(default_factory=list)
    terminal: bool = False
    #: (rows, cols) of the pty when ``terminal``.
    console_size: tuple[int, int] | None = None
    #: the process's umask (OCI ``process.user.umask``); None keeps the launcher's.
    umask: int | None = None


@dataclass
class DeviceRule:
    """One device-cgroup rule (OCI ``linux.resources.devices``): ``kind`` "a", "c" or
    "b"; a major or minor of None is any; ``access`` of "rwm"."""

    allow: bool
    kind: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    def v1(self) -> str:
        """The rule as devices.allow/devices.deny take it ("c 1:3 rwm")."""
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.kind} {major}:{minor} {self.access}"


@dataclass
class Resources:
    """cgroup limits, in docker's units: bytes, CPUs as a float, relative shares."""

    memory: int | None = None
    memory_swap: int | None = None  # memory+swap; -1 unlimited
    cpus: float | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    oom_score_adj: int | None = None
    #: the rest of the OCI runtime spec's ``linux.resources`` (cgroup v1 units).
    memory_reservation: int | None = None
    kernel_memory: int | None = None
    kernel_tcp_memory: int | None = None
    memory_swappiness: int | None = None
    disable_oom_killer: bool | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_rt_runtime: int | None = None
    cpu_rt_period: int | None = None
    blkio_weight: int | None = None
    blkio_leaf_weight: int | None = None
    #: "major:minor weight" lines for blkio.weight_device (and leaf_weight_device).
    blkio_weight_device: list[str] = field(default_factory=list)
    blkio_leaf_weight_device: list[str] = field(default_factory=list)
    #: throttle file name ("read_bps_device", ...) -> "major:minor rate" lines.
    blkio_throttle: dict[str, list[str]] = field(default_factory=dict)
    #: page size ("2MB", "1GB") -> limit in bytes.
    hugepage_limits: dict[str, int] = field(default_factory=dict)
    net_cls_classid: int | None = None
    #: interface -> priority (net_prio.ifpriomap).
    net_prio_ifpriomap: dict[str, int] = field(default_factory=dict)
    #: device-cgroup rules, in order, or None for docker's default allowlist.
    device_rules: list[DeviceRule] | None = None


@dataclass
class IdMap:
    """One line of /proc/PID/uid_map: container id, host id, count."""

    container_id: int
    host_id: int
    size: int


@dataclass
class Rlimit:
    """``--ulimit name=soft:hard``; ``name`` as docker spells it ("nofile", "nproc")."""

    name: str
    soft: int
    hard: int


@dataclass
class DeviceNode:
    """A device node made in the container's /dev (OCI ``linux.devices``): ``kind``
    "c", "b", "u" (unbuffered char) or "p" (fifo). ``source`` is the host's node that a
    user namespace, where mknod is refused, binds instead ("" means ``path``)."""

    path: str
    kind: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    source: str = ""


@dataclass
class CapabilitySets:
    """The five capability sets, each a list of CAP_ names (OCI's
    ``process.capabilities``); docker's one list means the same list in each but
    ambient."""

    bounding: list[str] = field(default_factory=list)
    effective: list[str] = field(default_factory=list)
    inheritable: list[str] = field(default_factory=list)
    permitted: list[str] = field(default_factory=list)
    ambient: list[str] = field(default_factory=list)


Seccomp = str  # "default" | "unconfined" | path to a docker-format JSON profile


@dataclass
class ContainerSpec:
    """One container, fully resolved. ``root`` is this container's runtime directory
    under the state root; the runtime owns it (destroy() removes it)."""

    id: str
    root: str
    rootfs: Rootfs | str
    process: Process
    hostname: str = ""
    readonly_rootfs: bool = False
    mounts: list[Mount] = field(default_factory=list)
    #: files bind-mounted read-write over the image's (/etc/hosts, /etc/hostname,
    #: /etc/resolv.conf): container path -> content.
    etc_files: dict[str, str] = field(default_factory=dict)
    #: namespace name -> None (a new one), "host" (share the host's), or a path such
    #: as /proc/N/ns/net or /run/netns/X (join it). Names missing from the dict are
    #: shared with the host. "user" is only honoured with uid_map/gid_map.
    namespaces: dict[str, str | None] = field(
        default_factory=lambda: dict.fromkeys(DEFAULT_NAMESPACES))
    uid_map: list[IdMap] = field(default_factory=list)
    gid_map: list[IdMap] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    capabilities: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    privileged: bool = False
    seccomp: Seccomp = "default"
    no_new_privileges: bool = False
    masked_paths: list[str] = field(default_factory=lambda: list(DEFAULT_MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(DEFAULT_READONLY_PATHS))
    rlimits: list[Rlimit] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    shm_size: int = 64 * 1024 * 1024
    #: run a small init (tini) as PID 1 that reaps zombies and forwards signals.
    init: bool = False
    #: the cgroup parent below each hierarchy; "" means "pycompose/<root_id>" of the
    #: current state root (create() fills it in). The cgroup is "<parent>/<id>".
    cgroup_parent: str = ""
    #: the leaf of the cgroup below ``cgroup_parent``; "" means the id.
    cgroup_name: str = ""
    #: False: the runtime mounts nothing of its own (no /proc, /dev, /sys): ``mounts``
    #: is the whole list, mounted in its order (the OCI way); a tmpfs /dev still gets
    #: the default device nodes and symlinks.
    system_mounts: bool = True
    #: device nodes to make besides the default ones.
    devices: list[DeviceNode] = field(default_factory=list)
    #: separate capability sets (OCI); None means ``capabilities`` in every set.
    capability_sets: CapabilitySets | None = None
    #: propagation of the container's / ("shared", "slave", "private", "unbindable",
    #: r-prefixed too); "" leaves it private.
    rootfs_propagation: str = ""
    domainname: str = ""
    #: a plain-directory rootfs in a user namespace is used as it is, its owners
    #: already shifted by whoever made it (OCI bundles), instead of idmapped read-only.
    rootfs_shifted: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ContainerSpec:
        return from_plain(cls, json.loads(text))

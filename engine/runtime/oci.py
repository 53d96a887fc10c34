"""An OCI bundle's ``config.json`` (opencontainers/runtime-spec) as the runtime's own
``ContainerSpec``, plus what the spec has that a ContainerSpec does not carry (hooks,
annotations), for ``pycompose runtime`` (runc's command shape).

Text becomes types here, once: every later step reads dataclasses. A config that asks
for what this runtime cannot do is refused with an ``InvalidArgument`` naming the key
(``config.json: linux.namespaces[2].path: ...``), never half-honoured.

What the translation decides, and why:

- The bundle owns the filesystem: no /proc, /dev or /sys of the runtime's own
  (``system_mounts=False``); the config's mounts are mounted in their order, and a
  tmpfs /dev gets the spec's default devices and symlinks.
- Namespaces missing from ``linux.namespaces`` are the host's (the spec's rule); a
  mount namespace is always made (the runtime cannot build a root in the host's).
- The device cgroup starts from the config's rules, then allows the spec's default
  devices and each ``linux.devices`` node, as runc does.
- The seccomp section is already a docker-format profile; it is written beside the
  container's state and compiled as any profile.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from .caps import CAPABILITIES
from .devices import DEFAULT_ALLOW_RULES
from .spec import (
    CapabilitySets,
    ContainerSpec,
    DeviceNode,
    DeviceRule,
    IdMap,
    Mount,
    Process,
    Resources,
    Rlimit,
)

log = logging.getLogger("pycompose.runtime.oci")

#: The runtime spec version this runtime implements (``state`` reports it).
OCI_VERSION = "1.0.2"

#: OCI namespace type -> the runtime's name (as in /proc/PID/ns/NAME).
NAMESPACES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
              "user": "user", "cgroup": "cgroup"}

HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer",
              "poststart", "poststop")


@dataclass
class Hook:
    """One hook: ``path`` is executed with ``args`` (args[0] included) and ``env``,
    the container's state JSON on its stdin; ``timeout`` in seconds or None."""

    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None


@dataclass
class Hooks:
    prestart: list[Hook] = field(default_factory=list)
    create_runtime: list[Hook] = field(default_factory=list)
    create_container: list[Hook] = field(default_factory=list)
    start_container: list[Hook] = field(default_factory=list)
    poststart: list[Hook] = field(default_factory=list)
    poststop: list[Hook] = field(default_factory=list)


@dataclass
class Bundle:
    """A parsed bundle: the runtime's spec and the OCI-only parts."""

    path: str
    oci_version: str
    spec: ContainerSpec
    hooks: Hooks
    annotations: dict[str, str]


class _Reader:
    """Typed access to the JSON with the key path in every error."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, why: str) -> InvalidArgument:
        return InvalidArgument(f"{self.where}: {key}: {why}")

    def obj(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be an object")
        return value

    def arr(self, value: Any, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be an array")
        return value

    def strs(self, value: Any, key: str) -> list[str]:
        items = self.arr(value, key)
        for i, v in enumerate(items):
            if not isinstance(v, str):
                raise self.fail(f"{key}[{i}]", "must be a string")
        return items

    def str_(self, value: Any, key: str, default: str = "") -> str:
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(key, "must be a string")
        return value

    def int_(self, value: Any, key: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        return value

    def bool_(self, value: Any, key: str) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value


def load_bundle(bundle: str, container_id: str, runtime_dir: str) -> Bundle:
    """Read ``bundle``/config.json. ``runtime_dir`` is the container's own directory
    under the runtime's state root (the ContainerSpec's ``root``)."""
    path = Path(bundle, "config.json")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidArgument(f"{path}: no such file: a bundle needs a config.json "
                              "('pycompose runtime spec' writes one)") from None
    except OSError as e:
        raise InvalidArgument(f"{path}: {e.strerror}") from None
    except ValueError as e:
        raise InvalidArgument(f"{path}: not JSON: {e}") from None
    return parse_config(data, str(Path(bundle).absolute()), container_id, runtime_dir,
                        where=str(path))


def parse_config(data: Any, bundle: str, container_id: str, runtime_dir: str,
                 where: str = "config.json") -> Bundle:
    r = _Reader(where)
    cfg = r.obj(data, "(top level)")
    version = r.str_(cfg.get("ociVersion"), "ociVersion")
    if not version:
        raise r.fail("ociVersion", "is required")
    root = r.obj(cfg.get("root"), "root")
    root_path = r.str_(root.get("path"), "root.path")
    if not root_path:
        raise r.fail("root.path", "is required")
    rootfs = os.path.normpath(os.path.join(bundle, root_path))
    if not os.path.isdir(rootfs):
        raise r.fail("root.path", f"{rootfs} is not a directory")
    linux = r.obj(cfg.get("linux"), "linux")
    process = _process(r, r.obj(cfg.get("process"), "process"))
    proc_cfg = r.obj(cfg.get("process"), "process")
    namespaces, uid_map, gid_map = _namespaces(r, linux)
    devices = _devices(r, linux)
    resources = _resources(r, r.obj(linux.get("resources"), "linux.resources"), devices)
    adj = r.int_(proc_cfg.get("oomScoreAdj"), "process.oomScoreAdj")
    if adj is not None:
        resources.oom_score_adj = adj
    cgroup_parent, cgroup_name = _cgroups_path(r, linux, container_id)
    spec = ContainerSpec(
        id=container_id, root=runtime_dir, rootfs=rootfs, process=process,
        hostname=r.str_(cfg.get("hostname"), "hostname"),
        domainname=r.str_(cfg.get("domainname"), "domainname"),
        readonly_rootfs=bool(r.bool_(root.get("readonly"), "root.readonly")),
        mounts=_mounts(r, cfg.get("mounts"), bundle),
        namespaces=namespaces, uid_map=uid_map, gid_map=gid_map,
        resources=resources, capabilities=[], capability_sets=_caps(r, proc_cfg),
        seccomp=_seccomp(r, linux, runtime_dir),
        no_new_privileges=bool(r.bool_(proc_cfg.get("noNewPrivileges"),
                                       "process.noNewPrivileges")),
        masked_paths=r.strs(linux.get("maskedPaths"), "linux.maskedPaths"),
        readonly_paths=r.strs(linux.get("readonlyPaths"), "linux.readonlyPaths"),
        rlimits=_rlimits(r, proc_cfg),
        sysctls=_sysctls(r, linux),
        cgroup_parent=cgroup_parent, cgroup_name=cgroup_name,
        system_mounts=False, devices=devices,
        rootfs_propagation=_propagation(r, linux),
        rootfs_shifted=True,
    )
    return Bundle(path=bundle, oci_version=version, spec=spec, hooks=_hooks(r, cfg),
                  annotations=_annotations(r, cfg))


def _process(r: _Reader, p: dict[str, Any]) -> Process:
    args = r.strs(p.get("args"), "process.args")
    if not args:
        raise r.fail("process.args", "needs at least one element")
    cwd = r.str_(p.get("cwd"), "process.cwd", "/")
    if not cwd.startswith("/"):
        raise r.fail("process.cwd", f"{cwd!r} must be an absolute path")
    user = r.obj(p.get("user"), "process.user")
    uid = r.int_(user.get("uid"), "process.user.uid") or 0
    gid = r.int_(user.get("gid"), "process.user.gid") or 0
    gids = [int(g) for g in r.arr(user.get("additionalGids"), "process.user.additionalGids")]
    size = r.obj(p.get("consoleSize"), "process.consoleSize")
    console = None
    if size:
        console = (r.int_(size.get("height"), "process.consoleSize.height") or 0,
                   r.int_(size.get("width"), "process.consoleSize.width") or 0)
    if p.get("apparmorProfile"):
        raise r.fail("process.apparmorProfile", "AppArmor is not supported by this runtime")
    if p.get("selinuxLabel"):
        raise r.fail("process.selinuxLabel", "SELinux is not supported by this runtime")
    return Process(args=args, env=r.strs(p.get("env"), "process.env"), cwd=cwd,
                   user=f"{uid}:{gid}", additional_gids=gids,
                   terminal=bool(r.bool_(p.get("terminal"), "process.terminal")),
                   console_size=console,
                   umask=r.int_(user.get("umask"), "process.user.umask"))


def parse_process(data: Any, where: str = "process.json"
                  ) -> tuple[Process, CapabilitySets | None]:
    """An OCI ``process`` object (``exec --process FILE``): the process and, if it
    names them, its capability sets."""
    r = _Reader(where)
    p = r.obj(data, "(top level)")
    caps = _caps(r, p) if p.get("capabilities") is not None else None
    return _process(r, p), caps


def _caps(r: _Reader, p: dict[str, Any]) -> CapabilitySets:
    """The five sets; a name this kernel does not know is left out with a warning
    (runc's way: a config written for a newer kernel still runs)."""
    c = r.obj(p.get("capabilities"), "process.capabilities")
    sets = {}
    for k in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        names = r.strs(c.get(k), f"process.capabilities.{k}")
        unknown = [n for n in names if n not in CAPABILITIES]
        if unknown:
            log.warning("%s: process.capabilities.%s: unknown %s left out", r.where, k,
                        ", ".join(unknown))
        sets[k] = [n for n in names if n in CAPABILITIES]
    return CapabilitySets(**sets)


def _rlimits(r: _Reader, p: dict[str, Any]) -> list[Rlimit]:
    out = []
    for i, item in enumerate(r.arr(p.get("rlimits"), "process.rlimits")):
        key = f"process.rlimits[{i}]"
        item = r.obj(item, key)
        kind = r.str_(item.get("type"), f"{key}.type")
        if not kind.startswith("RLIMIT_"):
            raise r.fail(f"{key}.type", f"{kind!r} is not an RLIMIT_ name")
        soft, hard = r.int_(item.get("soft"), f"{key}.soft"), r.int_(item.get("hard"),
                                                                        f"{key}.hard")
        if soft is None or hard is None:
            raise r.fail(key, "needs soft and hard")
        out.append(Rlimit(kind[len("RLIMIT_"):].lower(), soft, hard))
    return out


def _namespaces(r: _Reader, linux: dict[str, Any]
                ) -> tuple[dict[str, str | None], list[IdMap], list[IdMap]]:
    out: dict[str, str | None] = {}
    for i, item in enumerate(r.arr(linux.get("namespaces"), "linux.namespaces")):
        key = f"linux.namespaces[{i}]"
        item = r.obj(item, key)
        kind = r.str_(item.get("type"), f"{key}.type")
        if kind not in NAMESPACES:
            raise r.fail(f"{key}.type", f"unknown namespace type {kind!r}")
        name = NAMESPACES[kind]
        if name in out:
            raise r.fail(f"{key}.type", f"namespace {kind!r} listed twice")
        path = r.str_(item.get("path"), f"{key}.path") or None
        if path is not None and name == "user":
            raise r.fail(f"{key}.path", "joining an existing user namespace is not "
                         "supported by this runtime")
        if path is not None and not os.path.exists(path):
            raise r.fail(f"{key}.path", f"{path}: no such namespace file")
        out[name] = path
    def maps(key: str) -> list[IdMap]:
        result = []
        for i, m in enumerate(r.arr(linux.get(key), f"linux.{key}")):
            m = r.obj(m, f"linux.{key}[{i}]")
            vals = [r.int_(m.get(k), f"linux.{key}[{i}].{k}")
                    for k in ("containerID", "hostID", "size")]
            if any(v is None for v in vals):
                raise r.fail(f"linux.{key}[{i}]", "needs containerID, hostID and size")
            result.append(IdMap(*(int(v or 0) for v in vals)))
        return result
    if out.get("mnt", "host") is not None:
        # no new mount namespace: the host's, or one joined by path, as it is
        log.warning("%s: no new mount namespace (%s): mounts are not applied, root.path "
                    "is a chroot", r.where,
                    "the host's" if "mnt" not in out else f"{out['mnt']}")
        out.setdefault("mnt", "host")
        if "user" in out:
            raise r.fail("linux.namespaces", "a user namespace needs a new mount namespace "
                         "here (the rootfs is set up in it)")
    uid_map, gid_map = maps("uidMappings"), maps("gidMappings")
    if (uid_map or gid_map) and "user" not in out:
        raise r.fail("linux.uidMappings", "needs a user namespace in linux.namespaces")
    if "user" in out and not uid_map:
        raise r.fail("linux.namespaces", "a new user namespace needs linux.uidMappings")
    return out, uid_map, gid_map


def _mounts(r: _Reader, items: Any, bundle: str) -> list[Mount]:
    out = []
    for i, item in enumerate(r.arr(items, "mounts")):
        key = f"mounts[{i}]"
        item = r.obj(item, key)
        target = r.str_(item.get("destination"), f"{key}.destination")
        if not target.startswith("/"):
            raise r.fail(f"{key}.destination", f"{target!r} must be an absolute path")
        kind = r.str_(item.get("type"), f"{key}.type")
        options = r.strs(item.get("options"), f"{key}.options")
        source = r.str_(item.get("source"), f"{key}.source")
        is_bind = kind == "bind" or ("bind" in options or "rbind" in options)
        if is_bind:
            if source and not source.startswith("/"):
                source = os.path.join(bundle, source)  # the spec: relative to the bundle
            kind = "bind"
        out.append(Mount(target=target, type=kind, source=source, options=options))
    return out


def _devices(r: _Reader, linux: dict[str, Any]) -> list[DeviceNode]:
    out = []
    for i, d in enumerate(r.arr(linux.get("devices"), "linux.devices")):
        key = f"linux.devices[{i}]"
        d = r.obj(d, key)
        path = r.str_(d.get("path"), f"{key}.path")
        if not path.startswith("/"):
            raise r.fail(f"{key}.path", f"{path!r} must be an absolute path")
        kind = r.str_(d.get("type"), f"{key}.type")
        if kind not in ("c", "b", "u", "p"):
            raise r.fail(f"{key}.type", f"{kind!r} is not one of c, b, u, p")
        major, minor = r.int_(d.get("major"), f"{key}.major"), r.int_(d.get("minor"),
                                                                       f"{key}.minor")
        if kind != "p" and (major is None or minor is None):
            raise r.fail(key, f"a {kind} device needs major and minor")
        out.append(DeviceNode(path=path, kind=kind, major=major or 0, minor=minor or 0,
                              file_mode=r.int_(d.get("fileMode"), f"{key}.fileMode"),
                              uid=r.int_(d.get("uid"), f"{key}.uid"),
                              gid=r.int_(d.get("gid"), f"{key}.gid")))
    return out


def _resources(r: _Reader, res: dict[str, Any], devices: list[DeviceNode]) -> Resources:
    out = Resources()
    mem = r.obj(res.get("memory"), "linux.resources.memory")
    out.memory = r.int_(mem.get("limit"), "linux.resources.memory.limit")
    out.memory_swap = r.int_(mem.get("swap"), "linux.resources.memory.swap")
    out.memory_reservation = r.int_(mem.get("reservation"),
                                    "linux.resources.memory.reservation")
    out.kernel_memory = r.int_(mem.get("kernel"), "linux.resources.memory.kernel")
    out.kernel_tcp_memory = r.int_(mem.get("kernelTCP"), "linux.resources.memory.kernelTCP")
    out.memory_swappiness = r.int_(mem.get("swappiness"), "linux.resources.memory.swappiness")
    out.disable_oom_killer = r.bool_(mem.get("disableOOMKiller"),
                                     "linux.resources.memory.disableOOMKiller")
    cpu = r.obj(res.get("cpu"), "linux.resources.cpu")
    out.cpu_shares = r.int_(cpu.get("shares"), "linux.resources.cpu.shares")
    out.cpu_quota = r.int_(cpu.get("quota"), "linux.resources.cpu.quota")
    out.cpu_period = r.int_(cpu.get("period"), "linux.resources.cpu.period")
    out.cpu_rt_runtime = r.int_(cpu.get("realtimeRuntime"),
                                "linux.resources.cpu.realtimeRuntime")
    out.cpu_rt_period = r.int_(cpu.get("realtimePeriod"), "linux.resources.cpu.realtimePeriod")
    out.cpuset_cpus = r.str_(cpu.get("cpus"), "linux.resources.cpu.cpus") or None
    out.cpuset_mems = r.str_(cpu.get("mems"), "linux.resources.cpu.mems") or None
    pids = r.obj(res.get("pids"), "linux.resources.pids")
    out.pids_limit = r.int_(pids.get("limit"), "linux.resources.pids.limit")
    blk = r.obj(res.get("blockIO"), "linux.resources.blockIO")
    out.blkio_weight = r.int_(blk.get("weight"), "linux.resources.blockIO.weight")
    out.blkio_leaf_weight = r.int_(blk.get("leafWeight"), "linux.resources.blockIO.leafWeight")
    for i, d in enumerate(r.arr(blk.get("weightDevice"), "linux.resources.blockIO.weightDevice")):
        d = r.obj(d, f"linux.resources.blockIO.weightDevice[{i}]")
        dev = f"{d.get('major', 0)}:{d.get('minor', 0)}"
        if d.get("weight") is not None:
            out.blkio_weight_device.append(f"{dev} {d['weight']}")
        if d.get("leafWeight") is not None:
            out.blkio_leaf_weight_device.append(f"{dev} {d['leafWeight']}")
    for key, name in (("throttleReadBpsDevice", "read_bps_device"),
                      ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"),
                      ("throttleWriteIOPSDevice", "write_iops_device")):
        for i, d in enumerate(r.arr(blk.get(key), f"linux.resources.blockIO.{key}")):
            d = r.obj(d, f"linux.resources.blockIO.{key}[{i}]")
            out.blkio_throttle.setdefault(name, []).append(
                f"{d.get('major', 0)}:{d.get('minor', 0)} {d.get('rate', 0)}")
    for i, h in enumerate(r.arr(res.get("hugepageLimits"), "linux.resources.hugepageLimits")):
        h = r.obj(h, f"linux.resources.hugepageLimits[{i}]")
        size = r.str_(h.get("pageSize"), f"linux.resources.hugepageLimits[{i}].pageSize")
        limit = r.int_(h.get("limit"), f"linux.resources.hugepageLimits[{i}].limit")
        if size and limit is not None:
            out.hugepage_limits[size] = limit
    net = r.obj(res.get("network"), "linux.resources.network")
    out.net_cls_classid = r.int_(net.get("classID"), "linux.resources.network.classID")
    for i, p in enumerate(r.arr(net.get("priorities"), "linux.resources.network.priorities")):
        p = r.obj(p, f"linux.resources.network.priorities[{i}]")
        out.net_prio_ifpriomap[r.str_(p.get("name"), "name")] = int(p.get("priority") or 0)
    rules = []
    for i, d in enumerate(r.arr(res.get("devices"), "linux.resources.devices")):
        key = f"linux.resources.devices[{i}]"
        d = r.obj(d, key)
        kind = r.str_(d.get("type"), f"{key}.type", "a") or "a"
        if kind not in ("a", "b", "c"):
            raise r.fail(f"{key}.type", f"{kind!r} is not one of a, b, c")
        access = r.str_(d.get("access"), f"{key}.access", "rwm") or "rwm"
        if set(access) - set("rwm"):
            raise r.fail(f"{key}.access", f"{access!r} is not made of r, w, m")
        rules.append(DeviceRule(allow=bool(r.bool_(d.get("allow"), f"{key}.allow")),
                                kind=kind, major=r.int_(d.get("major"), f"{key}.major"),
                                minor=r.int_(d.get("minor"), f"{key}.minor"),
                                access=access))
    for rule in DEFAULT_ALLOW_RULES:
        kind, numbers, access = rule.split()
        major, _, minor = numbers.partition(":")
        rules.append(DeviceRule(True, kind, None if major == "*" else int(major),
                                None if minor == "*" else int(minor), access))
    for node in devices:
        if node.kind != "p":
            rules.append(DeviceRule(True, "b" if node.kind == "b" else "c", node.major,
                                    node.minor, "rwm"))
    out.device_rules = rules
    return out


def _cgroups_path(r: _Reader, linux: dict[str, Any], container_id: str) -> tuple[str, str]:
    """(parent, leaf) below each hierarchy's mountpoint. A relative cgroupsPath is
    taken under the mountpoint too (runc's cgroupfs driver does the same for a
    runtime at the root cgroup); none gives pycompose-runtime/<id>."""
    path = r.str_(linux.get("cgroupsPath"), "linux.cgroupsPath")
    if not path:
        return "pycompose-runtime", container_id
    if ":" in path and not path.startswith("/"):
        raise r.fail("linux.cgroupsPath", f"{path!r} is a systemd slice:name, and this "
                     "runtime has no systemd cgroup driver (use a path)")
    parts = [p for p in os.path.normpath(path).split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise r.fail("linux.cgroupsPath", f"{path!r} names no cgroup of its own (the "
                     "root, or above it)")
    return "/".join(parts[:-1]) or ".", parts[-1]


def _seccomp(r: _Reader, linux: dict[str, Any], runtime_dir: str) -> str:
    """The profile, written beside (not in) the runtime dir: that one must stay
    reachable by a user namespace's root."""
    sec = linux.get("seccomp")
    if sec is None:
        return "unconfined"
    sec = r.obj(sec, "linux.seccomp")
    if not sec.get("defaultAction"):
        raise r.fail("linux.seccomp.defaultAction", "is required")
    if sec.get("listenerPath"):
        raise r.fail("linux.seccomp.listenerPath", "seccomp notify is not supported")
    state_dir = os.path.dirname(os.path.abspath(runtime_dir))
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    path = os.path.join(state_dir, "seccomp.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(sec, f)
    return path


def _sysctls(r: _Reader, linux: dict[str, Any]) -> dict[str, str]:
    values = r.obj(linux.get("sysctl"), "linux.sysctl")
    return {k: r.str_(v, f"linux.sysctl.{k}") for k, v in values.items()}


def _propagation(r: _Reader, linux: dict[str, Any]) -> str:
    value = r.str_(linux.get("rootfsPropagation"), "linux.rootfsPropagation")
    allowed = ("", "shared", "rshared", "slave", "rslave", "private", "rprivate",
               "unbindable", "runbindable")
    if value not in allowed:
        raise r.fail("linux.rootfsPropagation", f"{value!r} is not one of "
                     f"{', '.join(a for a in allowed if a)}")
    return value


def _hooks(r: _Reader, cfg: dict[str, Any]) -> Hooks:
    hooks = r.obj(cfg.get("hooks"), "hooks")
    out = Hooks()
    for kind in HOOK_KINDS:
        attr = "".join("_" + c.lower() if c.isupper() else c for c in kind)
        for i, h in enumerate(r.arr(hooks.get(kind), f"hooks.{kind}")):
            key = f"hooks.{kind}[{i}]"
            h = r.obj(h, key)
            path = r.str_(h.get("path"), f"{key}.path")
            if not path.startswith("/"):
                raise r.fail(f"{key}.path", f"{path!r} must be an absolute path")
            timeout = r.int_(h.get("timeout"), f"{key}.timeout")
            if timeout is not None and timeout <= 0:
                raise r.fail(f"{key}.timeout", "must be greater than zero")
            getattr(out, attr).append(Hook(path=path, args=r.strs(h.get("args"), f"{key}.args"),
                                           env=r.strs(h.get("env"), f"{key}.env"),
                                           timeout=timeout))
    return out


def _annotations(r: _Reader, cfg: dict[str, Any]) -> dict[str, str]:
    values = r.obj(cfg.get("annotations"), "annotations")
    return {k: r.str_(v, f"annotations.{k}") for k, v in values.items()}


def default_config(rootless: bool = False) -> dict[str, Any]:
    """What ``runc spec`` writes: a shell on a terminal in ``rootfs``, with the
    spec's default mounts, masked and read-only paths."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    cfg: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in
                             ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount",
                                                 "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }
    if rootless:
        linux = cfg["linux"]
        linux["namespaces"].insert(0, {"type": "user"})
        uid, gid = os.getuid(), os.getgid()
        linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
        del linux["resources"]
        cfg["mounts"][-1] = {"destination": "/sys/fs/cgroup", "type": "none",
                             "source": "/sys/fs/cgroup",
                             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    return cfg

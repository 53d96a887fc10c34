"""cgroups v1 and v2: probe what the host has, make a container's cgroup, set its
limits, kill what is in it, tell whether the OOM killer struck, remove it.

A container's cgroup is ``<hierarchy>/<parent>/<id>`` where ``parent`` is
``pycompose/<root_id>``: every cgroup pycompose makes can be found again from its
state root (``leftovers``). On v1 one directory is made in each controller's
hierarchy; on v2 one directory in the unified tree, with the controllers it needs
enabled in each ancestor's ``cgroup.subtree_control``.

On v2 the device allowlist is a BPF_PROG_TYPE_CGROUP_DEVICE program (devices.py emits
it) attached to the container's cgroup.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError, SetupFailed, Unavailable
from .devices import bpf_program, cgroup_rules
from .linux import attach_device_program
from .spec import Resources

#: v1 controllers a container gets a directory in (those the host has mounted).
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "devices", "freezer", "blkio",
                  "hugetlb", "net_cls", "net_prio")


@dataclass(frozen=True)
class Hierarchy:
    version: int
    mountpoint: str
    controllers: frozenset[str]


def parse_mountinfo(text: str) -> list[Hierarchy]:
    """The cgroup hierarchies in a /proc/self/mountinfo text. A host is v2 when the
    unified hierarchy is mounted at /sys/fs/cgroup itself; then it is the only one."""
    v1: list[Hierarchy] = []
    v2: list[Hierarchy] = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        rest = right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        fstype, mountpoint, superopts = rest[0], fields[4], rest[2]
        if fstype == "cgroup2":
            ctrl_file = Path(mountpoint, "cgroup.controllers")
            try:
                ctrls = frozenset(ctrl_file.read_text().split())
            except OSError:
                ctrls = frozenset()
            v2.append(Hierarchy(2, mountpoint, ctrls))
        elif fstype == "cgroup":
            ctrls = frozenset(o for o in superopts.split(",") if o in V1_CONTROLLERS)
            if ctrls and all(h.mountpoint != mountpoint for h in v1):
                v1.append(Hierarchy(1, mountpoint, ctrls))
    pure_v2 = [h for h in v2 if h.mountpoint == "/sys/fs/cgroup"]
    if pure_v2:
        return pure_v2
    # several mountpoints for one hierarchy (cpu,cpuacct comounted): keep one each
    seen: set[frozenset[str]] = set()
    out = []
    for h in v1:
        if h.controllers not in seen:
            seen.add(h.controllers)
            out.append(h)
    return out


#: probe()'s answers, by $PYCOMPOSE_CGROUP2_ROOT: a host's hierarchies are mounted at
#: boot; the supervisor asked for them several times per container (a stop: three
#: times, each a read and parse of mountinfo on the trio thread, ~2 ms each while 30
#: containers stop at once)
_probed: dict[str | None, list[Hierarchy]] = {}


def probe() -> list[Hierarchy]:
    """The host's hierarchies, read once per process. ``$PYCOMPOSE_CGROUP2_ROOT`` (a
    cgroup2 mountpoint) forces pure-v2 mode on a hybrid host: the tests use it to run
    whole containers on v2."""
    forced = os.environ.get("PYCOMPOSE_CGROUP2_ROOT") or None
    found = _probed.get(forced)
    if found is None:
        found = _probed[forced] = _probe(forced)
    return list(found)


def _probe(forced: str | None) -> list[Hierarchy]:
    if forced:
        try:
            ctrls = frozenset(Path(forced, "cgroup.controllers").read_text().split())
        except OSError as e:
            raise EngineError(f"PYCOMPOSE_CGROUP2_ROOT={forced}: {e.strerror}") from None
        return [Hierarchy(2, forced, ctrls)]
    with open("/proc/self/mountinfo") as f:
        return parse_mountinfo(f.read())


def v1_limits(res: Resources, privileged: bool) -> dict[str, list[tuple[str, str]]]:
    """controller -> [(file, value)] in the order they must be written."""
    out: dict[str, list[tuple[str, str]]] = {}
    if res.memory is not None:
        out.setdefault("memory", []).append(("memory.limit_in_bytes", str(res.memory)))
    if res.memory_swap is not None:
        out.setdefault("memory", []).append(("memory.memsw.limit_in_bytes",
                                             str(res.memory_swap)))
    if res.cpus is not None:
        out["cpu"] = [("cpu.cfs_period_us", "100000"),
                      ("cpu.cfs_quota_us", str(max(1000, round(res.cpus * 100000))))]
    if res.cpu_shares is not None:
        out.setdefault("cpu", []).append(("cpu.shares", str(res.cpu_shares)))
    if res.cpuset_cpus is not None:
        out.setdefault("cpuset", []).append(("cpuset.cpus", res.cpuset_cpus))
    if res.cpuset_mems is not None:
        out.setdefault("cpuset", []).append(("cpuset.mems", res.cpuset_mems))
    if res.pids_limit is not None:
        out["pids"] = [("pids.max", str(res.pids_limit) if res.pids_limit > 0 else "max")]
    for ctrl, entries in v1_oci_limits(res).items():
        out.setdefault(ctrl, []).extend(entries)
    if res.device_rules is not None and not privileged:
        out["devices"] = [("devices.allow" if r.allow else "devices.deny", r.v1())
                          for r in res.device_rules]
        return out
    deny, allow = cgroup_rules(privileged)
    out["devices"] = [("devices.deny", r) for r in deny] + [("devices.allow", r) for r in allow]
    return out


def v1_oci_limits(res: Resources) -> dict[str, list[tuple[str, str]]]:
    """The OCI runtime spec's resources beyond docker's flags, as v1 files."""
    out: dict[str, list[tuple[str, str]]] = {}

    def put(ctrl: str, name: str, value: object) -> None:
        if value is not None:
            out.setdefault(ctrl, []).append((name, str(value)))

    put("memory", "memory.soft_limit_in_bytes", res.memory_reservation)
    put("memory", "memory.kmem.limit_in_bytes", res.kernel_memory)
    put("memory", "memory.kmem.tcp.limit_in_bytes", res.kernel_tcp_memory)
    put("memory", "memory.swappiness", res.memory_swappiness)
    if res.disable_oom_killer is not None:
        put("memory", "memory.oom_control", int(res.disable_oom_killer))
    put("cpu", "cpu.cfs_period_us", res.cpu_period)
    put("cpu", "cpu.cfs_quota_us", res.cpu_quota)
    put("cpu", "cpu.rt_period_us", res.cpu_rt_period)
    put("cpu", "cpu.rt_runtime_us", res.cpu_rt_runtime)
    put("blkio", "blkio.weight", res.blkio_weight)
    put("blkio", "blkio.leaf_weight", res.blkio_leaf_weight)
    for line in res.blkio_weight_device:
        put("blkio", "blkio.weight_device", line)
    for line in res.blkio_leaf_weight_device:
        put("blkio", "blkio.leaf_weight_device", line)
    for name, lines in res.blkio_throttle.items():
        for line in lines:
            put("blkio", f"blkio.throttle.{name}", line)
    for size, limit in res.hugepage_limits.items():
        put("hugetlb", f"hugetlb.{size}.limit_in_bytes", limit)
    put("net_cls", "net_cls.classid", res.net_cls_classid)
    for iface, prio in res.net_prio_ifpriomap.items():
        put("net_prio", "net_prio.ifpriomap", f"{iface} {prio}")
    return out


def v2_limits(res: Resources) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    if res.memory is not None:
        out.setdefault("memory", []).append(("memory.max", str(res.memory)))
    if res.memory_swap is not None:
        if res.memory_swap < 0:
            swap = "max"
        else:
            swap = str(max(0, res.memory_swap - (res.memory or 0)))
        out.setdefault("memory", []).append(("memory.swap.max", swap))
    if res.cpus is not None:
        out["cpu"] = [("cpu.max", f"{max(1000, round(res.cpus * 100000))} 100000")]
    if res.cpu_shares is not None:
        weight = 1 + ((res.cpu_shares - 2) * 9999) // 262142
        out.setdefault("cpu", []).append(("cpu.weight", str(min(10000, max(1, weight)))))
    if res.cpuset_cpus is not None:
        out.setdefault("cpuset", []).append(("cpuset.cpus", res.cpuset_cpus))
    if res.cpuset_mems is not None:
        out.setdefault("cpuset", []).append(("cpuset.mems", res.cpuset_mems))
    if res.pids_limit is not None:
        out["pids"] = [("pids.max", str(res.pids_limit) if res.pids_limit > 0 else "max")]
    return out


@dataclass(frozen=True)
class Cgroup:
    """A container's cgroup: one directory per hierarchy."""

    paths: tuple[tuple[Hierarchy, str], ...]

    @classmethod
    def for_container(cls, parent: str, cid: str,
                      hierarchies: list[Hierarchy] | None = None) -> Cgroup:
        hs = probe() if hierarchies is None else hierarchies
        return cls(tuple((h, os.path.normpath(os.path.join(h.mountpoint, parent, cid)))
                         for h in hs))

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(p, "cgroup.procs") for _, p in self.paths]

    def join_files(self) -> tuple[list[str], list[str]]:
        """Where a (single-threaded) launcher joins this cgroup: (the v1 hierarchies'
        ``tasks``, where it moves its one thread itself by writing 0; the v2 ones'
        ``cgroup.procs``, where the caller moves it by pid). A move of a whole process
        (cgroup.procs, or any pid written) takes the kernel's global threadgroup lock,
        whose first taking after a quiet spell waits an RCU grace period (8-14 ms
        here); the calling thread moving itself alone needs no such lock (0.2 ms for
        all eight v1 hierarchies, measured)."""
        tasks = [os.path.join(p, "tasks") for h, p in self.paths if h.version == 1]
        procs = [os.path.join(p, "cgroup.procs") for h, p in self.paths if h.version == 2]
        return tasks, procs

    def create(self, res: Resources, privileged: bool = False) -> None:
        """Make the directories and write the limits; on failure remove what was made
        and raise an EngineError naming the file."""
        v1 = [h for h, _ in self.paths if h.version == 1]
        if v1:
            have = frozenset().union(*(h.controllers for h in v1))
            missing = sorted(c for c, entries in v1_limits(res, privileged).items()
                             if entries and c not in have and c != "devices")
            if missing:
                raise EngineError(f"cgroup v1: no {', '.join(missing)} controller is mounted "
                                  "on this host: cannot apply the requested limits")
        try:
            for h, _ in self.paths:
                if h.version == 2:
                    check_v2_controllers(h, res)
            short = [(h, path) for h, path in self.paths if not _make_leaf(h, path)]
            if short:
                with tree_lock():  # levels others may be making or removing at this moment
                    for h, path in short:
                        _makedirs(h, path)
            for h, path in self.paths:
                if h.version == 1:
                    self._create_v1(h, path, res, privileged)
                else:
                    self._create_v2(h, path, res, privileged)
        except BaseException:
            self.remove(timeout=1)
            raise

    def _create_v1(self, h: Hierarchy, path: str, res: Resources, privileged: bool) -> None:
        limits = v1_limits(res, privileged)
        for ctrl in h.controllers:
            for name, value in limits.get(ctrl, []):
                if name == "memory.memsw.limit_in_bytes" and not os.path.exists(
                        os.path.join(path, name)):
                    continue  # swap accounting off: docker ignores --memory-swap too
                _write(os.path.join(path, name), value)

    def _create_v2(self, h: Hierarchy, path: str, res: Resources, privileged: bool) -> None:
        limits = v2_limits(res)
        rel = Path(path).relative_to(h.mountpoint).parts
        if limits:
            enable = " ".join(f"+{c}" for c in limits)
            for i in range(len(rel)):
                _write(os.path.join(h.mountpoint, *rel[:i], "cgroup.subtree_control"), enable)
        for entries in limits.values():
            for name, value in entries:
                _write(os.path.join(path, name), value)
        if not privileged:
            _, allow = cgroup_rules(privileged)
            if res.device_rules is not None:  # a BPF allowlist: the allow rules only
                allow = [r.v1() for r in res.device_rules if r.allow]
            try:
                attach_device_program(path, bpf_program(allow))
            except OSError as e:
                raise SetupFailed(f"cgroup {path}: cannot attach the device allowlist "
                                  f"(BPF): {e.strerror}", step="cgroup devices",
                                  errno=e.errno or 0) from None

    def pids(self) -> list[int]:
        """Every process in the container's cgroup (from the first hierarchy that has
        the directory)."""
        for _, path in self.paths:
            try:
                with open(os.path.join(path, "cgroup.procs")) as f:
                    return [int(x) for x in f.read().split()]
            except FileNotFoundError:
                continue
        return []

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to every process in the cgroup. For SIGKILL: on v2 the kernel's
        cgroup.kill does it atomically; on v1 the freezer holds every process still
        while each gets the signal. Nothing at all for an empty cgroup (the usual case
        after PID 1 exited: the kernel killed its namespace), which the exit path asks
        about several times."""
        if not self.pids():
            return
        if sig == signal.SIGKILL:
            for h, path in self.paths:
                kill_file = os.path.join(path, "cgroup.kill")
                if h.version == 2 and os.path.exists(kill_file):
                    with contextlib.suppress(OSError):
                        _write(kill_file, "1")
        freezer = self._freezer() if sig == signal.SIGKILL else None
        if freezer:  # v1: freeze first, so that nothing forks between reading and killing
            with contextlib.suppress(OSError, EngineError):
                _write(freezer, "FROZEN")
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    with open(freezer) as f:
                        if f.read().strip() == "FROZEN":
                            break
                    time.sleep(0.001)
        try:
            self._sweep(sig, 5 if sig == signal.SIGKILL else 1)
        finally:
            if freezer:
                with contextlib.suppress(OSError, EngineError):
                    _write(freezer, "THAWED")  # SIGKILL is delivered once thawed

    def _freezer(self) -> str | None:
        for h, path in self.paths:
            if h.version == 1 and "freezer" in h.controllers:
                f = os.path.join(path, "freezer.state")
                return f if os.path.exists(f) else None
        return None

    def _sweep(self, sig: int, sweeps: int) -> None:
        for _ in range(sweeps):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)

    def freeze(self, frozen: bool) -> None:
        """``pause``/``unpause``: v2's ``cgroup.freeze``, else v1's freezer controller.
        Waits until the kernel says every process is frozen (v1 FREEZING passes)."""
        for h, path in self.paths:
            if h.version == 2 and os.path.exists(os.path.join(path, "cgroup.freeze")):
                _write(os.path.join(path, "cgroup.freeze"), "1" if frozen else "0")
                return
        state = self._freezer()
        if state is None:
            raise EngineError("no cgroup freezer on this host (neither cgroup v2's "
                              "cgroup.freeze nor the v1 freezer controller): cannot pause")
        _write(state, "FROZEN" if frozen else "THAWED")
        deadline = time.monotonic() + 2.0
        while frozen and time.monotonic() < deadline:
            if _read(state).strip() == "FROZEN":
                return
            time.sleep(0.002)

    def stats(self) -> dict[str, int]:
        """What ``stats`` shows: memory in use and its limit (bytes), CPU time used
        (ns), the number of processes; a hierarchy that lacks one leaves it out."""
        out: dict[str, int] = {}

        def num(path: str) -> int | None:
            try:
                text = _read(path).strip()
            except (OSError, EngineError):
                return None
            return int(text) if text.isdigit() else None
        for h, path in self.paths:
            if h.version == 2:
                for key, name in (("memory", "memory.current"), ("memory_limit", "memory.max"),
                                  ("pids", "pids.current")):
                    v = num(os.path.join(path, name))
                    if v is not None:
                        out.setdefault(key, v)
                try:
                    for line in _read(os.path.join(path, "cpu.stat")).splitlines():
                        k, _, usec = line.partition(" ")
                        if k == "usage_usec":
                            out.setdefault("cpu_ns", int(usec) * 1000)
                except (OSError, EngineError):
                    pass
                continue
            ctrls = h.controllers
            if "memory" in ctrls:
                for key, name in (("memory", "memory.usage_in_bytes"),
                                  ("memory_limit", "memory.limit_in_bytes")):
                    v = num(os.path.join(path, name))
                    if v is not None:
                        out.setdefault(key, v)
            if "cpuacct" in ctrls:
                v = num(os.path.join(path, "cpuacct.usage"))
                if v is not None:
                    out.setdefault("cpu_ns", v)
            if "pids" in ctrls:
                v = num(os.path.join(path, "pids.current"))
                if v is not None:
                    out.setdefault("pids", v)
        if "pids" not in out:
            out["pids"] = len(self.pids())
        return out

    def oom_killed(self) -> bool:
        """Whether the kernel OOM killer killed a process in this cgroup."""
        for h, path in self.paths:
            name = "memory.oom_control" if h.version == 1 else "memory.events"
            try:
                with open(os.path.join(path, name)) as f:
                    for line in f:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            return True
            except FileNotFoundError:
                continue
        return False

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left, then remove the directories (and our empty parents);
        idempotent. Raises EngineError if a cgroup stays busy past ``timeout``."""
        deadline = time.monotonic() + timeout
        self.kill_all(signal.SIGKILL)
        for h, path in self.paths:
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise EngineError(f"cannot remove cgroup {path}: {e.strerror}") from None
                    self.kill_all(signal.SIGKILL)
                    time.sleep(0.01)
            if not _has_children(os.path.dirname(path)):  # else no parent to remove
                with tree_lock():
                    _remove_empty_parents(h, path)


def check_v2_controllers(h: Hierarchy, res: Resources) -> None:
    missing = [c for c in v2_limits(res) if c not in h.controllers]
    if missing:
        raise Unavailable(
            f"cgroup v2 at {h.mountpoint} has no {', '.join(missing)} controller: "
            "cannot apply the requested limits")


def _lock_path() -> str:
    """One lock for every pycompose on the machine (all state roots share the
    ``pycompose`` levels): root-only under /run; a rootless caller's own state root."""
    if os.geteuid() == 0:
        return "/run/pycompose/cgroups.lock"
    from pycompose.util.paths import state_root

    return str(state_root() / "cgroups.lock")


@contextlib.contextmanager
def tree_lock() -> Iterator[None]:
    """Hold the flock under which cgroup levels above a container's own are made,
    filled (v1 cpuset) and removed. Without it, 30 containers created at once raced:
    one found a level another had just made and not yet filled, copied its empty
    ``cpuset.cpus`` and failed to join with ENOSPC; or a remover took an empty level
    from under a creator about to make its child in it (ENOENT). Held for a few
    mkdirs and small writes, so it never waits long; it dies with its process."""
    path = _lock_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_empty_parents(h: Hierarchy, path: str) -> None:
    parent = os.path.dirname(path)
    while parent.startswith(h.mountpoint + "/") and os.path.basename(parent) != "":
        try:
            os.rmdir(parent)
        except OSError:
            return
        if os.path.basename(parent) == "pycompose":
            return
        parent = os.path.dirname(parent)


def _make_leaf(h: Hierarchy, path: str) -> bool:
    """The container's own level, without tree_lock(), when every level above it is
    there (and, in a v1 cpuset, filled): the common case, the first container of a
    state root aside. The lock serialised every create on the machine (30 at once
    waited ~0.1-1 s each behind one another's eight mkdirs). False, having made
    nothing that matters, when the levels above must be made or filled under the
    lock: a parent gone (a remover took it: ENOENT) or, v1 cpuset, still empty (its
    creator has not filled it yet); _makedirs then checks every level again."""
    parent = os.path.dirname(path)
    cpuset = h.version == 1 and "cpuset" in h.controllers
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    except OSError:
        return False
    if cpuset:
        for name in ("cpuset.cpus", "cpuset.mems"):
            try:
                if _read(os.path.join(path, name)):
                    continue
                value = _read(os.path.join(parent, name))
            except SetupFailed:
                return False
            if not value:
                return False
            _write(os.path.join(path, name), value)
    return True


def _has_children(path: str) -> bool:
    """Whether the cgroup ``path`` holds another cgroup (a sibling of a removed one):
    then it is not empty, and its removal need not take tree_lock(). Each remover
    removes its own level before it looks, so the last of them sees none."""
    try:
        with os.scandir(path) as it:
            return any(e.is_dir(follow_symlinks=False) for e in it)
    except OSError:
        return False


def _makedirs(h: Hierarchy, path: str) -> None:
    """mkdir -p, with every v1 cpuset level's cpuset.cpus/mems filled from its parent
    (the kernel leaves a new level's empty, and an empty cpuset refuses tasks). A level
    that exists is checked too: a creator killed between its mkdir and its copy left
    it empty. Call under tree_lock()."""
    rel = Path(path).relative_to(h.mountpoint).parts
    cpuset = h.version == 1 and "cpuset" in h.controllers
    for i in range(1, len(rel) + 1):
        d = os.path.join(h.mountpoint, *rel[:i])
        try:
            os.mkdir(d)
        except FileExistsError:
            pass
        except OSError as e:
            raise SetupFailed(f"cannot create cgroup {d}: {e.strerror}", step="create cgroup",
                              errno=e.errno or 0) from None
        if cpuset:
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not _read(os.path.join(d, name)):
                    _write(os.path.join(d, name), _read(os.path.join(os.path.dirname(d), name)))


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise SetupFailed(f"cgroup: reading {path}: {e.strerror}", step="create cgroup",
                          errno=e.errno or 0) from None


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise SetupFailed(f"cgroup: writing {value!r} to {path}: {e.strerror}",
                          step="cgroup limits", errno=e.errno or 0) from None


def leftovers(parent: str, keep: set[str] | frozenset[str] = frozenset(),
              hierarchies: list[Hierarchy] | None = None) -> list[str]:
    """Container ids that have a cgroup under ``parent`` but are not in ``keep``."""
    found: set[str] = set()
    for h in probe() if hierarchies is None else hierarchies:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(os.path.join(h.mountpoint, parent)):
                if entry.is_dir() and entry.name not in keep:
                    found.add(entry.name)
    return sorted(found)

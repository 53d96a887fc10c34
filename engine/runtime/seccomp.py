"""Seccomp: docker's default allowlist, docker-format profiles, and a tiny ctypes
binding over Debian's libseccomp2 (no PyPI binding needed).

A profile is handled in docker's JSON shape (``defaultAction``, ``syscalls`` with
``names``/``action``/``args``/``includes``/``excludes``), whether it is the built-in
default (``default_profile()``) or a user's ``--security-opt seccomp=FILE``; one
compiler turns either into rules for the capabilities the container really has.

The caller compiles a profile into a BPF program once (libseccomp's slow part, cached
in memory and under the state root); the container's process loads that program with
seccomp(2) as late as possible before execve, without libseccomp.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the launcher ms
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

# The syscalls docker's default profile allows unconditionally (moby/profiles
# seccomp/default.json), as one list of names. Names a kernel or libseccomp does not
# know are skipped at compile time.
_ALLOWED = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv
futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat
listen listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr
lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir
mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify
mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64
prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64
pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename renameat
renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd
signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64
statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid
write writev process_vm_readv process_vm_writev ptrace
"""

#: Address families above 11 that ``socket(2)`` may use (AF_VSOCK, AF_ALG, ...
#: stay refused); all below 12 are allowed.
_SOCKET_FAMILIES = [13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30,
                    31, 32, 33, 35, 36, 39, 41, 42, 43, 44, 45]

#: personality(2) values allowed: the default, UNAME26, ADDR_NO_RANDOMIZE, both, query.
_PERSONALITIES = [0, 8, 131072, 131080, 4294967295]

#: clone flags that make namespaces; clone without them is allowed to everyone.
_CLONE_NS_MASK = 0x7E020000

#: Syscalls allowed only with a capability.
_BY_CAPABILITY: dict[str, str] = {
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
    "CAP_SYS_ADMIN": "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick "
                     "lookup_dcookie lsm_get_self_attr lsm_list_modules lsm_set_self_attr "
                     "mount mount_setattr move_mount open_tree perf_event_open quotactl "
                     "quotactl_fd setdomainname sethostname setns syslog umount umount2 "
                     "unshare",
    "CAP_SYS_BOOT": "reboot",
    "CAP_SYS_CHROOT": "chroot",
    "CAP_SYS_MODULE": "delete_module init_module finit_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv "
                      "process_vm_writev ptrace",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    "CAP_SYSLOG": "syslog",
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
}


def default_profile() -> dict[str, Any]:
    """Docker's default profile, in docker's JSON shape (x86_64 rules only)."""
    syscalls: list[dict[str, Any]] = [
        {"names": _ALLOWED.split(), "action": "SCMP_ACT_ALLOW"},
        {"names": ["arch_prctl", "modify_ldt"], "action": "SCMP_ACT_ALLOW"},
    ]
    syscalls.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 12, "op": "SCMP_CMP_LT"}]})
    for fam in _SOCKET_FAMILIES:
        syscalls.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": fam, "op": "SCMP_CMP_EQ"}]})
    for p in _PERSONALITIES:
        syscalls.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}]})
    for cap, names in _BY_CAPABILITY.items():
        syscalls.append({"names": names.split(), "action": "SCMP_ACT_ALLOW",
                         "includes": {"caps": [cap]}})
    syscalls.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": _CLONE_NS_MASK, "valueTwo": 0,
                               "op": "SCMP_CMP_MASKED_EQ"}],
                     "excludes": {"caps": ["CAP_SYS_ADMIN"]}})
    # glibc falls back to clone(2) when clone3 says ENOSYS; clone's flags are checked.
    syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                     "excludes": {"caps": ["CAP_SYS_ADMIN"]}})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "syscalls": syscalls}


class Arg(tuple):
    """(argument index, comparison op, datum a, datum b)."""

    @property
    def arg(self) -> int:
        return int(self[0])

    @property
    def op(self) -> int:
        return int(self[1])

    @property
    def a(self) -> int:
        return int(self[2])

    @property
    def b(self) -> int:
        return int(self[3])


class Rule:
    """One compiled rule: syscall names, action code, argument filters."""

    __slots__ = ("action", "args", "names")

    def __init__(self, names: tuple[str, ...], action: int, args: tuple[Arg, ...]) -> None:
        self.names, self.action, self.args = names, action, args

    def __repr__(self) -> str:
        return f"Rule({self.names!r}, {self.action:#x}, {self.args!r})"


SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000

_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}

_ARCH_TOKENS = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003,
                "SCMP_ARCH_X32": 0x4000003E, "SCMP_ARCH_AARCH64": 0xC00000B7,
                "SCMP_ARCH_ARM": 0x40000028}


_SCMP_FLTATR_CTL_NNP = 3


class ProfileError(ValueError):
    """A profile that cannot be compiled; the message names the field."""


def action_code(name: str, errno_ret: int | None) -> int:
    if name == "SCMP_ACT_ALLOW":
        return SCMP_ACT_ALLOW
    if name == "SCMP_ACT_ERRNO":
        return 0x00050000 | ((1 if errno_ret is None else errno_ret) & 0xFFFF)
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return SCMP_ACT_KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return SCMP_ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return SCMP_ACT_TRAP
    if name == "SCMP_ACT_LOG":
        return SCMP_ACT_LOG
    raise ProfileError(f"unsupported seccomp action {name!r}")


def _applies(entry: dict[str, Any], caps: set[str], arch: str) -> bool:
    inc = entry.get("includes") or {}
    exc = entry.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    return not (exc.get("arches") and arch in exc["arches"])


def compile_profile(profile: dict[str, Any], caps: Iterable[str],
                    arch: str = "amd64") -> tuple[int, list[Rule]]:
    """(default action, rules) of a docker-format profile for a container holding
    ``caps``: entries whose ``includes``/``excludes`` don't match are dropped."""
    capset = set(caps)
    try:
        default = action_code(profile["defaultAction"], profile.get("defaultErrnoRet"))
        rules = []
        for entry in profile.get("syscalls") or []:
            if not _applies(entry, capset, arch):
                continue
            names = tuple(entry.get("names") or ([entry["name"]] if "name" in entry else []))
            action = action_code(entry["action"], entry.get("errnoRet"))
            args = tuple(
                Arg((a["index"], _OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0)))
                for a in entry.get("args") or []
            )
            if action != default or args:
                rules.append(Rule(names, action, args))
    except KeyError as e:
        raise ProfileError(f"seccomp profile: missing or unknown field {e}") from None
    return default, rules


def host_arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class Filter:
    """A libseccomp filter context: built from rules, loaded into this thread."""

    def __init__(self, default: int, rules: list[Rule], extra_arches: Iterable[str] = ()):
        self._lib = lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                               ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        self._ctx = lib.seccomp_init(default)
        if not self._ctx:
            raise OSError(ctypes.get_errno() or 22, "seccomp_init failed")
        # libseccomp sets no_new_privs on load unless told not to; docker only sets
        # it with --security-opt no-new-privileges (the child does that itself).
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_attr_set(self._ctx, _SCMP_FLTATR_CTL_NNP, 0)
        for arch in extra_arches:
            lib.seccomp_arch_add(self._ctx, _ARCH_TOKENS[arch])
        self.skipped: list[str] = []
        for rule in rules:
            arr = (_ArgCmp * max(1, len(rule.args)))(
                *[_ArgCmp(a.arg, a.op, a.a, a.b) for a in rule.args])
            for name in rule.names:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == -1:  # __NR_SCMP_ERROR: unknown to this libseccomp
                    self.skipped.append(name)
                    continue
                rc = lib.seccomp_rule_add_array(self._ctx, rule.action, nr, len(rule.args), arr)
                if rc < 0 and rc != -17:  # -EEXIST: the same rule twice is fine
                    self.skipped.append(name)

    def export_bpf(self) -> bytes:
        """The compiled BPF program (struct sock_filter[]): generating it is the slow
        part (~30 ms for docker's profile), so it is done once and cached."""
        self._lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            rc = self._lib.seccomp_export_bpf(self._ctx, fd)
            if rc < 0:
                raise OSError(-rc, f"seccomp_export_bpf: {os.strerror(-rc)}")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._ctx:
            self._lib.seccomp_release(self._ctx)
            self._ctx = None

    def load(self) -> None:
        rc = self._lib.seccomp_load(self._ctx)
        if rc < 0:
            raise OSError(-rc, f"seccomp_load: {os.strerror(-rc)}")


def build(profile: dict[str, Any], caps: Iterable[str]) -> Filter:
    """A ready-to-load filter for ``profile`` and the container's capabilities."""
    default, rules = compile_profile(profile, caps, host_arch())
    extra = ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] if host_arch() == "amd64" else []
    return Filter(default, rules, extra)


_BPF_CACHE: dict[tuple[str, tuple[str, ...]], bytes] = {}


def bpf_program(profile: dict[str, Any], caps: Iterable[str],
                cache_dir: str | None = None) -> bytes:
    """The BPF program for ``profile`` and ``caps``, memoised for the process's life
    and, with ``cache_dir``, on disk (a new supervisor's first container then skips the
    ~40 ms libseccomp takes to compile docker's profile)."""
    import hashlib
    import json

    key = (json.dumps(profile, sort_keys=True), tuple(sorted(caps)))
    if key in _BPF_CACHE:
        return _BPF_CACHE[key]
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(
            f"{key[0]}|{','.join(key[1])}|{host_arch()}|{_libseccomp_version()}".encode()
        ).hexdigest()
        path = os.path.join(cache_dir, digest + ".bpf")
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            if data and len(data) % 8 == 0:
                _BPF_CACHE[key] = data
                return data
        except OSError:
            pass
    f = build(profile, key[1])
    try:
        program = f.export_bpf()
    finally:
        f.release()
    _BPF_CACHE[key] = program
    if path is not None:
        from pycompose.util.fs import atomic_write

        try:
            atomic_write(Path(path), program)
        except OSError:
            pass  # a cache, not state: the next caller compiles again
    return program


def _libseccomp_version() -> str:
    class _Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint),
                    ("micro", ctypes.c_uint)]

    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"

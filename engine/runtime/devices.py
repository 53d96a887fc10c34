"""The device nodes a container gets and the device-cgroup allowlist, as docker/runc
define them (runtime-spec "default devices"; runc's AllowedDevices)."""

from __future__ import annotations


class Device:
    """One device node: path, "c"/"b", major, minor, mode."""

    __slots__ = ("kind", "major", "minor", "mode", "path")

    def __init__(self, path: str, kind: str, major: int, minor: int, mode: int) -> None:
        self.path, self.kind, self.major, self.minor, self.mode = path, kind, major, minor, mode


#: Nodes created in the container's /dev (a fresh tmpfs).
DEFAULT_DEVICES: tuple[Device, ...] = (
    Device("/dev/null", "c", 1, 3, 0o666),
    Device("/dev/zero", "c", 1, 5, 0o666),
    Device("/dev/full", "c", 1, 7, 0o666),
    Device("/dev/random", "c", 1, 8, 0o666),
    Device("/dev/urandom", "c", 1, 9, 0o666),
    Device("/dev/tty", "c", 5, 0, 0o666),
)

#: Symlinks every /dev has.
DEFAULT_SYMLINKS: tuple[tuple[str, str], ...] = (
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
)

#: Device-cgroup rules (v1 ``devices.allow`` syntax) after a ``deny a``: mknod of any
#: node, the default devices, ptys, /dev/console, /dev/net/tun; fuse stays denied.
DEFAULT_ALLOW_RULES: tuple[str, ...] = (
    "c *:* m", "b *:* m",
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
)


def cgroup_rules(privileged: bool) -> tuple[list[str], list[str]]:
    """(deny, allow) lines for a v1 devices cgroup: everything when privileged."""
    if privileged:
        return [], ["a *:* rwm"]
    return ["a *:* rwm"], list(DEFAULT_ALLOW_RULES)


# --- cgroup v2: the same allowlist as a BPF_PROG_TYPE_CGROUP_DEVICE program -------------
#
# v2 has no devices.allow file: the kernel asks a BPF program attached to the cgroup,
# with a context of (access << 16 | type, major, minor), to return 1 (allow) or 0.

_DEV_TYPES = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}

# opcodes (linux/bpf.h): 64-bit ALU, jumps, 32-bit loads
_LDXW, _AND_K, _RSH_K, _MOV_X, _MOV_K, _JNE_K, _EXIT = 0x61, 0x57, 0x77, 0xBF, 0xB7, 0x55, 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return bytes([code, (src << 4) | dst]) + off.to_bytes(2, "little", signed=True) + \
        imm.to_bytes(4, "little", signed=True)


def parse_rule(rule: str) -> tuple[str, int | None, int | None, int]:
    """``"c 1:3 rwm"`` -> ("c", 1, 3, access bits); ``*`` is None."""
    kind, numbers, access = rule.split()
    major, _, minor = numbers.partition(":")
    bits = 0
    for ch in access:
        bits |= _ACCESS[ch]
    return (kind, None if major == "*" else int(major), None if minor == "*" else int(minor),
            bits)


def bpf_program(allow: list[str] | tuple[str, ...]) -> bytes:
    """A device program allowing exactly ``allow`` (v1 rule syntax; type "a" is any)."""
    head = [
        _insn(_LDXW, dst=2, src=1, off=0), _insn(_AND_K, dst=2, imm=0xFFFF),   # r2 = type
        _insn(_LDXW, dst=3, src=1, off=0), _insn(_RSH_K, dst=3, imm=16),       # r3 = access
        _insn(_LDXW, dst=4, src=1, off=4),                                     # r4 = major
        _insn(_LDXW, dst=5, src=1, off=8),                                     # r5 = minor
    ]
    out = list(head)
    for rule in allow:
        kind, major, minor, bits = parse_rule(rule)
        checks: list[tuple[str, int, int]] = []  # (what, register, value)
        if kind != "a":
            checks.append(("eq", 2, _DEV_TYPES[kind]))
        if bits != 7:
            checks.append(("subset", 3, bits))
        if major is not None:
            checks.append(("eq", 4, major))
        if minor is not None:
            checks.append(("eq", 5, minor))
        block: list[tuple[int, int, int, int]] = []  # (code, dst, src, imm)
        for what, reg, value in checks:
            if what == "eq":
                block.append((_JNE_K, reg, 0, value))
            else:  # any requested access outside the allowed bits -> next rule
                block += [(_MOV_X, 0, 3, 0), (_AND_K, 0, 0, ~value & 7), (_JNE_K, 0, 0, 0)]
        size = len(block) + 2  # then "r0 = 1; exit"
        for i, (code, dst, src, imm) in enumerate(block):
            off = size - i - 1 if code == _JNE_K else 0  # a failed check skips the rule
            out.append(_insn(code, dst=dst, src=src, off=off, imm=imm))
        out += [_insn(_MOV_K, dst=0, imm=1), _insn(_EXIT)]
    out += [_insn(_MOV_K, dst=0, imm=0), _insn(_EXIT)]
    return b"".join(out)

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

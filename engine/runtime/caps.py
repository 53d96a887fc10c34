"""Capability names and sets: docker's ``--cap-add``/``--cap-drop`` rules, pure.

The kernel knows capabilities by number; users and images by name, with or without
the ``CAP_`` prefix, in any case, and "ALL".
"""

from __future__ import annotations

from ..errors import InvalidArgument

#: Linux capability numbers (include/uapi/linux/capability.h), up to CAP_CHECKPOINT_RESTORE.
CAPABILITIES: dict[str, int] = {
    name: i for i, name in enumerate([
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ])
}


def normalize(name: str) -> str:
    """``net_admin`` / ``NET_ADMIN`` / ``CAP_NET_ADMIN`` -> ``CAP_NET_ADMIN``."""
    up = name.strip().upper()
    if up == "ALL":
        return "ALL"
    if not up.startswith("CAP_"):
        up = "CAP_" + up
    if up not in CAPABILITIES:
        raise InvalidArgument(f"unknown capability {name!r}")
    return up


def resolve(default: list[str] | tuple[str, ...], add: list[str], drop: list[str]) -> list[str]:
    """docker's rule: start from ``default``; ``drop`` ALL empties it, ``add`` ALL fills
    it; then the named adds are added and the named drops removed (a drop of a name
    wins over ALL in add, an add of a name wins over ALL in drop)."""
    adds = {normalize(c) for c in add}
    drops = {normalize(c) for c in drop}
    caps = {normalize(c) for c in default}
    if "ALL" in drops:
        caps = set()
    if "ALL" in adds:
        caps = set(CAPABILITIES)
    caps |= adds - {"ALL"}
    caps -= drops - {"ALL"} - adds
    return sorted(caps, key=CAPABILITIES.__getitem__)


def mask(names: list[str] | tuple[str, ...]) -> int:
    """The 64-bit kernel mask of ``names`` (unknown ones raise)."""
    m = 0
    for n in names:
        m |= 1 << CAPABILITIES[normalize(n)]
    return m


def names(m: int) -> list[str]:
    """The names in a mask, e.g. the ``CapEff`` of /proc/PID/status."""
    return [n for n, i in CAPABILITIES.items() if m >> i & 1]

"""Host devices given to a container (docker's ``--device``, compose's ``devices:``) and
its extra device-cgroup rules (``--device-cgroup-rule``, ``device_cgroup_rules:``).

The record keeps what the user asked for (docker inspect's ``HostConfig.Devices`` and
``HostConfig.DeviceCgroupRules``); the host's nodes are looked up (``lstat``) when the
container is created, so that a wrong path fails ``create`` with docker's message, and
again at every start, because that is when the runtime makes the nodes: a device that
went away in between (a USB stick pulled out) fails the start with the same message
rather than giving the container a node that points at nothing, or at something else.

As docker's ``DevicesFromPath``: a host path that is a symlink is followed once (the
usual ``/dev/serial/by-id/...``); a directory gives every char and block node below it
(``/dev/snd``, ``/dev/dri``), symlinks inside it ignored; each node keeps the host's
type, major:minor, mode, uid and gid, and gets an allow rule with the mapping's
permissions.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Any

from ..api.requests import DeviceCgroupRule, DeviceMapping, parse_device_cgroup_rule
from ..errors import EngineError, InvalidArgument, NotFound


@dataclass(frozen=True)
class HostNode:
    """One host device node, as the container gets it at ``path``."""

    path: str
    host_path: str
    kind: str  # "c" or "b"
    major: int
    minor: int
    mode: int  # permission bits only
    uid: int
    gid: int
    permissions: str


def _node(host_path: str, path: str, permissions: str) -> HostNode | None:
    """The node at ``host_path``, or None when it is not a device node."""
    st = os.lstat(host_path)
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        return None
    return HostNode(path, host_path, kind, os.major(st.st_rdev), os.minor(st.st_rdev),
                    stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, permissions)


def gather(mapping: DeviceMapping) -> list[HostNode]:
    """The host nodes ``mapping`` gives; docker's errors when there are none."""
    host = mapping.path_on_host
    resolved = os.path.realpath(host) if os.path.islink(host) else host

    def fail(reason: str) -> InvalidArgument:
        return InvalidArgument("error gathering device information while adding custom "
                               f'device "{host}": {reason}')

    try:
        node = _node(resolved, mapping.path_in_container, mapping.cgroup_permissions)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise NotFound("error gathering device information while adding custom "
                           f'device "{host}": no such file or directory') from None
        raise fail((e.strerror or str(e)).lower()) from None
    if node is not None:
        return [node]
    if not os.path.isdir(resolved):
        raise fail("not a device node")
    out: list[HostNode] = []
    for top, dirs, files in os.walk(resolved):  # symlinks are not followed
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(top, name)
            rel = os.path.relpath(full, resolved)
            try:
                child = _node(full, os.path.join(mapping.path_in_container, rel),
                              mapping.cgroup_permissions)
            except OSError:
                continue  # gone while we walked: docker ignores it too
            if child is not None:
                out.append(child)
    if not out:
        raise fail("not a device node (a directory with no device nodes in it)")
    return out


def gather_all(mappings: list[DeviceMapping], *, strict: bool = True) -> list[HostNode]:
    """Every mapping's host nodes; with ``strict=False`` those that are there now (a
    container adopted after a restart keeps running with a device unplugged since:
    its spec, rebuilt to watch and remove it, must not fail for that)."""
    out: list[HostNode] = []
    for m in mappings:
        try:
            out += gather(m)
        except EngineError:
            if strict:
                raise
    return out


def host_config(devices: list[DeviceMapping], rules: list[DeviceCgroupRule]
                ) -> dict[str, Any]:
    """docker inspect's ``HostConfig.Devices`` and ``HostConfig.DeviceCgroupRules``."""
    return {
        "Devices": [{"PathOnHost": d.path_on_host, "PathInContainer": d.path_in_container,
                     "CgroupPermissions": d.cgroup_permissions} for d in devices],
        "DeviceCgroupRules": [r.text() for r in rules] or None,
    }


def mappings_of(host: dict[str, Any]) -> list[DeviceMapping]:
    return [DeviceMapping(d["PathOnHost"], d["PathInContainer"],
                          d.get("CgroupPermissions") or "rwm")
            for d in host.get("Devices") or []]


def rules_of(host: dict[str, Any]) -> list[DeviceCgroupRule]:
    return [parse_device_cgroup_rule(r, "HostConfig.DeviceCgroupRules")
            for r in host.get("DeviceCgroupRules") or []]


def runtime_devices(host: dict[str, Any], privileged: bool, *, strict: bool = True
                    ) -> tuple[list[Any], list[Any] | None]:
    """The runtime spec's device nodes and device-cgroup rules for a record's
    HostConfig: (nodes, rules), rules None for the runtime's default allowlist.

    Unprivileged: docker's default rules, then an allow rule per node with its
    permissions, then the extra rules. Privileged: every device is allowed, and the
    mapped nodes are made still (at another path, as docker does, and below /dev's
    top level, which is all a privileged /dev copies).
    """
    from ..runtime.devices import DEFAULT_ALLOW_RULES
    from ..runtime.spec import DeviceNode, DeviceRule

    nodes = gather_all(mappings_of(host), strict=strict)
    extra = rules_of(host)
    spec_nodes = [DeviceNode(path=n.path, kind=n.kind, major=n.major, minor=n.minor,
                             file_mode=n.mode, uid=n.uid, gid=n.gid, source=n.host_path)
                  for n in nodes]
    if privileged or (not nodes and not extra):
        return spec_nodes, None
    rules = [DeviceRule(allow=False, kind="a", access="rwm")]
    for line in DEFAULT_ALLOW_RULES:
        kind, numbers, access = line.split()
        major, _, minor = numbers.partition(":")
        rules.append(DeviceRule(True, kind, None if major == "*" else int(major),
                                None if minor == "*" else int(minor), access))
    rules += [DeviceRule(True, n.kind, n.major, n.minor, n.permissions) for n in nodes]
    rules += [DeviceRule(True, r.kind, r.major, r.minor, r.access) for r in extra]
    return spec_nodes, rules

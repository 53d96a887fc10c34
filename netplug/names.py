"""Kernel object names: every one carries the state root's id so it can be found again.

Interface names are limited to IFNAMSIZ-1 = 15 bytes. The host-side objects (the only
ones that can collide with anything else) are ``pc<rid6><kind><hash6>`` = 15 bytes;
objects inside a namespace of ours (bridges, veth ends) need no root id because the
namespace itself is named for the root and goes away as a whole.
"""

from __future__ import annotations

import hashlib
import re

from .errors import NetplugError

IFNAMSIZ = 16  # including the NUL
#: every host-side link of every pycompose root starts with this (nft rules match "pc*")
LINK_PREFIX = "pc"
#: the scope of standalone networks (``network create``, the default ``bridge``)
STANDALONE = ""


def short_hash(text: str, n: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def check_ifname(name: str, what: str = "interface") -> str:
    """Refuse a name the kernel would refuse, with a message naming it."""
    if not name or len(name.encode()) > IFNAMSIZ - 1:
        raise NetplugError(
            f"{what} name {name!r} is too long: Linux allows at most {IFNAMSIZ - 1} bytes")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name in (".", ".."):
        raise NetplugError(f"{what} name {name!r} is invalid: use letters, digits, '_.-'")
    return name


def netns_name(rid: str, scope: str) -> str:
    """The named netns (``/run/netns/NAME``) holding a project's bridges, or the
    standalone networks' namespace for scope ``""``."""
    if scope == STANDALONE:
        return f"pc-{rid}-standalone"
    return f"pc-{rid}-p-{scope}"


def netns_prefix(rid: str) -> str:
    return f"pc-{rid}-"


def spare_netns_name(rid: str, spare_id: str) -> str:
    """A network namespace wired ahead of the container that will join it (spares.py)."""
    return f"pc-{rid}-sp-{spare_id}"


def spare_netns_prefix(rid: str) -> str:
    return f"pc-{rid}-sp-"


def uplink_name(rid: str, scope: str) -> str:
    """The host end of a namespace's uplink veth."""
    return f"{LINK_PREFIX}{rid}u{short_hash('scope:' + scope)}"


def host_link_prefix(rid: str) -> str:
    return f"{LINK_PREFIX}{rid}"


#: the namespace end of the uplink, inside the namespace
UPLINK_PEER = "up0"

#: the device group of every link we make inside a namespace of ours (bridges, their
#: veth ends, up0): a scope's links are deleted in one request (rtnl.delete_group)
NETDEV_GROUP = 0x7063


def bridge_name(network_id: str) -> str:
    """The bridge of a network inside its namespace."""
    return f"br-{network_id[:12]}"


def veth_name(network_id: str, container_id: str) -> str:
    """The bridge-side end of a container's attachment, inside the network's namespace."""
    return f"v{short_hash(network_id + '/' + container_id, 12)}"


def nft_table(rid: str) -> str:
    """The host nftables table (family ip) of one state root."""
    return f"pycompose_{rid}"


def container_veth_tmp(network_id: str, container_id: str) -> str:
    """A temporary name for the container end before it is renamed to eth0 etc."""
    return f"c{short_hash(network_id + '/' + container_id, 12)}"

"""Networks, for front ends: the engine is the networking layer's one door (the
CLI's ``network`` verbs and compose never import netplug themselves)."""

from __future__ import annotations

from ...netplug import (
    AddressError,
    NetplugError,
    NetworkConflict,
    NetworkNotFound,
    PortInUse,
    format_mapping,
    parse_port,
)
from ..neterrors import netplug_error
from ..networks import NetworkDoor, NetworkInfo, NetworkSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...netplug import Networks

__all__ = ["AddressError", "NetplugError", "NetworkConflict", "NetworkDoor", "NetworkInfo",
           "NetworkNotFound", "NetworkSpec", "Networks", "PortInUse", "format_mapping",
           "netplug_error", "parse_port"]


def __getattr__(name: str) -> object:
    if name == "Networks":  # pyroute2 and the kernel seam: only when a verb needs them
        from ...netplug import Networks

        return Networks
    raise AttributeError(name)

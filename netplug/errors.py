"""Errors of the networking layer.

::

    NetplugError                 a network, an address or a port could not be set up
     ├── NetworkNotFound         no network of that name (exit 1, as docker)
     ├── NetworkConflict         a name, subnet or address taken by another object
     ├── AddressError            an address or subnet that does not fit (outside, overlaps)
     ├── PortInUse               a host port already taken on the host or by a container
     └── StateDamaged            the networks' state file cannot be read (names it, and
                                 what to do)

Every message names the object (network, container, address, port) so a user can act.
"""

from __future__ import annotations

from pycompose.errors import PycomposeError


class NetplugError(PycomposeError):
    """A network, an address or a port could not be set up or removed."""


class NetworkNotFound(NetplugError):
    """No network of that name exists in this state root."""


class NetworkConflict(NetplugError):
    """A name, subnet or address is already taken."""


class AddressError(NetplugError):
    """A subnet, gateway, range or address that does not fit."""


class PortInUse(NetplugError):
    """A published host port is already in use."""


class StateDamaged(NetplugError):
    """``networks/state.json`` cannot be read (a hand edit, a full disk)."""

"""Errors of the networking layer."""

from __future__ import annotations

from pycompose.errors import PycomposeError


class NetplugError(PycomposeError):
    """A network, an address or a port could not be set up or removed."""

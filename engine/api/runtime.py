"""The OCI runtime (runc's command shape, ``pycompose runtime``), for its CLI."""

from __future__ import annotations

from ..runtime import ocirun
from ..runtime.oci import OCI_VERSION, default_config, parse_process
from ..runtime.ocistate import DEFAULT_ROOT, Store
from ..runtime.spec import CapabilitySets

__all__ = ["DEFAULT_ROOT", "OCI_VERSION", "CapabilitySets", "Store", "default_config",
           "ocirun", "parse_process"]

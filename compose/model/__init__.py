"""Typed models of the Compose Specification, and :func:`validate` which makes a
:class:`Project` of the loader's merged document."""

from __future__ import annotations

from .honour import NOT_HONOURED, unhonoured_keys
from .project import Project, validate
from .resources import ComposeFile, Config, Network, Secret, Volume
from .service import Service

__all__ = ["NOT_HONOURED", "ComposeFile", "Config", "Network", "Project", "Secret",
           "Service", "Volume", "unhonoured_keys", "validate"]

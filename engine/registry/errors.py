"""Registry errors: the engine's kinds, plus the one a registry adds.

A registry's refusal to serve without (valid) credentials is neither a missing object
nor a bad argument, so it has a kind of its own; everything else a registry says maps
onto ``engine.errors`` (404 -> NotFound, a dropped connection -> Unavailable, a blob
whose bytes do not match its digest -> RegistryDataError, an EngineError).
"""

from __future__ import annotations

from ..errors import EngineError, Unauthorized

__all__ = ["RegistryDataError", "Unauthorized"]


class RegistryDataError(EngineError):
    """A registry sent data that is not what it claimed: a digest or a size that does
    not match, a manifest that is not JSON, a media type we cannot use."""

    kind = "engine"

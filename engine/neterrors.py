"""netplug's errors as the engine's kinds, at the one boundary where they cross: the
face's network verbs (networks.py) and the supervisor's wiring (supervisor/net.py) both
raise what this gives. netplug is imported only when there is an error to translate.
"""

from __future__ import annotations

from .errors import Conflict, Damaged, EngineError, InvalidArgument, NotFound, SetupFailed


def netplug_error(e: Exception, where: str = "") -> EngineError:
    """A netplug error as the engine's kind."""
    from ..netplug.errors import (
        AddressError,
        NetworkConflict,
        NetworkNotFound,
        PortInUse,
        StateDamaged,
    )

    kind: type[EngineError] = SetupFailed
    if isinstance(e, NetworkNotFound):
        kind = NotFound
    elif isinstance(e, (NetworkConflict, PortInUse)):
        kind = Conflict
    elif isinstance(e, AddressError):
        kind = InvalidArgument
    elif isinstance(e, StateDamaged):
        kind = Damaged
    return kind(f"{where}{e}")

"""The engine's error kinds as docker's HTTP statuses, at this one boundary.

docker's daemon answers a missing object with 404, a state that forbids the request
(a name taken, a container running, an image in use) with 409, a malformed request with
400, and anything else with 500; a command that cannot be found or run in a container is
a 400 whose message the docker CLI turns into its 127/126 (it reads the words
``executable file not found`` and ``permission denied``).
"""

from __future__ import annotations

from ..engine.api import (
    Busy,
    CannotExecute,
    CommandNotFound,
    Conflict,
    EngineError,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from ..engine.errors import Unauthorized
from .http import ApiError


def status_of(e: BaseException) -> int:
    if isinstance(e, ApiError):
        return e.status
    if isinstance(e, NotFound):
        return 404
    if isinstance(e, (Conflict, Busy)):
        return 409
    if isinstance(e, (InvalidArgument, CommandNotFound, CannotExecute)):
        return 400
    if isinstance(e, Unauthorized):  # a registry's refusal
        return 401
    if isinstance(e, Unavailable):
        return 503
    return 500


def message_of(e: BaseException) -> str:
    """The message a docker client reads; the words its CLI looks for are kept."""
    text = str(e)
    if isinstance(e, CommandNotFound) and "executable file not found" not in text \
            and "no such file or directory" not in text:
        text += ": executable file not found in $PATH"
    if isinstance(e, CannotExecute) and "permission denied" not in text:
        text += ": permission denied"
    return text


def from_netplug(e: Exception) -> EngineError:
    """A networking error as the engine's kind (the face's translation)."""
    from ..engine.api.networks import netplug_error

    return netplug_error(e)

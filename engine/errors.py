"""Errors of the engine layer: kinds that survive the supervisor's socket.

::

    EngineError                    "engine"       an image, a container or a volume went wrong
     ├── NotFound                  "not_found"    no such container, image, volume, network
     ├── Conflict                  "conflict"     a name taken, an object in use or in the
     │                                            wrong state (not running, already started)
     ├── InvalidArgument           "invalid"      a request the engine refuses as malformed
     ├── SetupFailed               "setup_failed" a container could not be set up: the step
     │    │                                       that failed and its errno
     │    ├── CommandNotFound      "command_not_found"  the command is not in the container
     │    └── CannotExecute        "cannot_execute"     it is there but cannot be run
     ├── Busy                      "busy"         a lock or a resource is held; try again
     ├── Unavailable               "unavailable"  a service the engine needs cannot be reached
     │                                            (the supervisor, a registry)
     ├── Unauthorized              "unauthorized" a registry refused the credentials, or
     │                                            wants some
     ├── Damaged                   "damaged"      a record on disk cannot be read (a hand
     │                                            edit, a full disk): names the file and
     │                                            what to do
     └── Internal                  "internal"     a bug on the far side (supervisor.log has it)

Library code raises a kind with a message naming the object; it never picks a process
exit status. The supervisor sends an error as ``{"kind", "message", ...}`` (see
:meth:`EngineError.to_wire`) and the client rebuilds the same class
(:func:`from_wire`), so ``except NotFound`` works on both sides of the socket. Only the
CLI maps kinds to exit codes (docker's 125/126/127 for ``run``/``exec``).
"""

from __future__ import annotations

from pycompose.errors import PycomposeError

TYPE_CHECKING = False  # not typing's: the thin client imports this module
if TYPE_CHECKING:
    from typing import Any


class EngineError(PycomposeError):
    """Something about an image, a container or a volume went wrong."""

    kind = "engine"

    def to_wire(self) -> dict[str, Any]:
        """The error as the supervisor sends it."""
        return {"kind": self.kind, "message": self.message}


class NotFound(EngineError):
    """An object named by the user does not exist."""

    kind = "not_found"


class Conflict(EngineError):
    """The request conflicts with an object's current state (a name taken, in use, not
    running, already running)."""

    kind = "conflict"


class InvalidArgument(EngineError):
    """A request the engine refuses as it stands: a bad flag value, a malformed spec."""

    kind = "invalid"


class SetupFailed(EngineError):
    """A container (or an exec) could not be set up: ``step`` names what failed
    (``mount /data on /srv``, ``join cgroup``, ``exec``) and ``errno`` the cause."""

    kind = "setup_failed"

    def __init__(self, message: str, *, step: str = "", errno: int = 0) -> None:
        super().__init__(message)
        self.step = step
        self.errno = errno

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "step": self.step, "errno": self.errno}


class CommandNotFound(SetupFailed):
    """The container's command does not exist (docker's 127)."""

    kind = "command_not_found"


class CannotExecute(SetupFailed):
    """The container's command exists but cannot be executed (docker's 126)."""

    kind = "cannot_execute"


class Busy(EngineError):
    """A lock or a resource is held by someone else; the same request may work later."""

    kind = "busy"


class Unavailable(EngineError):
    """A service the engine needs cannot be reached (the supervisor, a registry)."""

    kind = "unavailable"


class Unauthorized(EngineError):
    """A registry (or its token server) refused the credentials, or wants some."""

    kind = "unauthorized"


class Damaged(EngineError):
    """A record on disk cannot be read (a container's state.json, a volume's
    volume.json, the networks' state): the message names the file and what to do. The
    objects it described are still found by their names and ids, so removing works."""

    kind = "damaged"


class Internal(EngineError):
    """A bug on the far side of the socket; its traceback is in ``supervisor.log``."""

    kind = "internal"


KINDS: dict[str, type[EngineError]] = {
    c.kind: c for c in (EngineError, NotFound, Conflict, InvalidArgument, SetupFailed,
                        CommandNotFound, CannotExecute, Busy, Unavailable, Unauthorized,
                        Damaged, Internal)
}


def from_wire(data: dict[str, Any]) -> EngineError:
    """Rebuild the error the supervisor sent; an unknown kind becomes an EngineError."""
    cls = KINDS.get(str(data.get("kind", "engine")), EngineError)
    message = str(data.get("message", "unknown error"))
    if issubclass(cls, SetupFailed):
        return cls(message, step=str(data.get("step") or ""), errno=int(data.get("errno") or 0))
    return cls(message)

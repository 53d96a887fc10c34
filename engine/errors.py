"""Errors of the engine layer."""

from __future__ import annotations

from pycompose.errors import PycomposeError


class EngineError(PycomposeError):
    """Something about an image, a container or a volume went wrong."""


class NotFound(EngineError):
    """An object named by the user does not exist."""


class Conflict(EngineError):
    """The request conflicts with an object's current state (a name taken, in use)."""

"""The root of every error pycompose raises on purpose.

Each layer has its own tree below this one::

    PycomposeError
     ├── compose.errors.ComposeError      a bad project: file, line, column, key path
     ├── engine.errors.EngineError        images, containers, volumes
     └── netplug.errors.NetplugError      networks, addresses, ports

Only the CLI prints errors and picks exit codes (one table, ``pycompose/cli/errors.py``,
from the error's kind and the command): library code raises, with the context a user
needs (the file and key, the object's name, the path, the errno). Anything else
reaching the CLI is a bug and is reported as one.
"""

from __future__ import annotations


class PycomposeError(Exception):
    """An error meant for the user: its ``str`` is the whole message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

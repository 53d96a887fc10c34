"""Errors of the Compose layer."""

from __future__ import annotations

from pycompose.errors import PycomposeError


class ComposeError(PycomposeError):
    """A project that cannot be loaded or run.

    ``file``, ``line`` and ``column`` (1-based) and ``key`` (``services.web.ports[1]``)
    locate the problem when it comes from a file; the message is built from them so
    that every error reads the same way::

        compose.yaml:12:9: services.web.ports[1]: published port 99999 is out of range
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
    ) -> None:
        self.detail = message
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}"
                if self.column:
                    where += f":{self.column}"
        parts = [p for p in (where, self.key) if p]
        return ": ".join([*parts, self.detail])

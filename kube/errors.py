"""Errors of the Kubernetes front ends.

``KubeError`` is a :class:`~pycompose.errors.PycomposeError`: a manifest that cannot be
read or played (naming the file, the object and the key), or a cluster that refused or
could not be reached (naming the object and what the API server said).
"""

from __future__ import annotations

from pycompose.errors import PycomposeError


class KubeError(PycomposeError):
    """A Kubernetes manifest or cluster problem, with where it happened."""

    def __init__(self, message: str, *, file: str | None = None,
                 obj: str | None = None, key: str | None = None) -> None:
        self.detail = message
        self.file = file
        self.obj = obj
        self.key = key
        parts = [p for p in (file, obj, key) if p]
        super().__init__(": ".join([*parts, message]))

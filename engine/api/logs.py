"""Reading containers' logs, for front ends (``logs``, attached ``up``): the face's
door to the files the log keeper writes (``engine/logs``), read in the caller's
process without a supervisor."""

from __future__ import annotations

from ..logs.reader import LogReader, NotReadable, Window, parse_timestamp, render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from ..record import ContainerRecord

__all__ = ["LogReader", "NotReadable", "Window", "parse_timestamp", "reader", "render"]


def reader(root: Path, rec: ContainerRecord) -> LogReader:
    """The reader of a container's log; NotReadable for the ``none`` driver."""
    from ..containers import ContainerStore

    return LogReader.of(ContainerStore(root).path(rec.id), rec.raw)

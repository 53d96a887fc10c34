"""Reading containers' logs, for front ends (``logs``, attached ``up``): the face's
door to the log files the log keeper writes (``engine/logs/reader.py``: every driver,
rotated and compressed files, --tail/--since/--until, following across rotations)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..logs.reader import Entry, LogReader, NotReadable, Window, parse_timestamp, render

if TYPE_CHECKING:
    from ..record import ContainerRecord

__all__ = ["Entry", "LogReader", "NotReadable", "Window", "open_log", "parse_timestamp",
           "render"]


def open_log(rec: ContainerRecord) -> LogReader:
    """The log of a container; NotReadable (docker's words) for ``--log-driver none``."""
    return LogReader.of(Path(rec.upper_dir).parent, rec.raw)

"""Reading containers' logs, for front ends (``logs``, attached ``up``): the face's
door to the log files the supervisor writes."""

from __future__ import annotations

from ..supervisor.logs import render, tail_lines

__all__ = ["render", "tail_lines"]

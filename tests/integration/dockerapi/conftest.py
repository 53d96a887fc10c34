"""Fixtures of the Docker API tests: ``engine`` (a state root with busybox, cleaned up
and leak-checked) and ``api`` (``pycompose system service`` on a socket of the test's
own, with the clients pointed at it)."""

from __future__ import annotations

from pctest.dockerapi import Service, api
from pctest.engine import Engine, engine

__all__ = ["Engine", "Service", "api", "engine"]

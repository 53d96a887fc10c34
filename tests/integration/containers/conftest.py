"""Fixtures of the container tests: the ``engine`` of ``pctest/engine.py`` (a state
root with the busybox image imported, a CLI runner, a teardown that removes every
container and stops the supervisor before ``no_leaks`` looks for leftovers)."""

from __future__ import annotations

from pctest.engine import Engine, engine

__all__ = ["Engine", "engine"]

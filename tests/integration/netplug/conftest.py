"""Fixtures for netplug's kernel tests: a Networks on the test's own state root, and
"containers" that are plain named network namespaces (the runtime's containers plug in
the same way: netplug only needs a path to a network namespace)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nethelp import SERVER  # type: ignore[import-not-found]

from pycompose.netplug import Networks
from pycompose.util.paths import root_id

_seq = itertools.count()


@pytest.fixture
def nets(no_leaks: Path) -> Iterator[Networks]:
    n = Networks(no_leaks)
    yield n
    n.cleanup_all()


@pytest.fixture
def make_ctr(no_leaks: Path) -> Iterator[Callable[[], str]]:
    """Make a 'container' network namespace; returns its name (/run/netns/NAME)."""
    made: list[str] = []
    rid = root_id(no_leaks)

    def make() -> str:
        name = f"pctest-{rid}-{next(_seq)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        made.append(name)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def serve(no_leaks: Path) -> Iterator[Callable[..., None]]:
    """Start a TCP+UDP 'hello' server on PORT inside a namespace (None: the host); UDP
    replies end with TAG."""
    procs: list[subprocess.Popen[str]] = []

    def start(ns: str | None, port: int, tag: str = "") -> None:
        cmd = [sys.executable, "-c", SERVER, str(port), tag]
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd] if ns else cmd,
                             stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"

    yield start
    for p in procs:
        p.kill()
        p.wait()

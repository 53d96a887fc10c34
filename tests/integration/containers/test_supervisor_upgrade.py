"""A supervisor started from other code steps down for the first client of newer code
when it holds nothing; the clients that connected meanwhile (a compose `up` opens
several at once) find it leaving and get the new supervisor, never "connection reset".
An upgrade is stood for by another code-stamp salt (engine/client.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pctest.engine import lock_pid, stop_supervisors

from pycompose.engine import client


def test_clients_of_new_code_all_reach_the_new_supervisor(
        no_leaks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = no_leaks
    monkeypatch.setenv("_PYCOMPOSE_STAMP_SALT", "-0")
    client.request(root, {"op": "ping"})
    errors: list[str] = []
    stepped_down = 0
    try:
        for version in range(1, 6):  # five upgrades, eight clients of each at once
            old = lock_pid(root)
            monkeypatch.setenv("_PYCOMPOSE_STAMP_SALT", f"-{version}")

            def one() -> None:
                try:
                    client.request(root, {"op": "ping"})
                except BaseException as e:  # each is reported below
                    errors.append(f"{type(e).__name__}: {e}")
            threads = [threading.Thread(target=one) for _ in range(8)]
            for t in threads:
                t.start()
                time.sleep(0.0005)
            for t in threads:
                t.join(60)
            stepped_down += lock_pid(root) != old
        assert not errors, errors
        assert stepped_down  # the race was run: an old one left for a new one
    finally:
        # every supervisor, also one a racing client spawned late, then the log keeper
        stop_supervisors(root)

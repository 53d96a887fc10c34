"""cgroups.probe() reads the host's hierarchies once per process (a stop asked three
times, each a read and parse of /proc/self/mountinfo on the supervisor's trio thread),
and once more for another $PYCOMPOSE_CGROUP2_ROOT."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from pycompose.engine.runtime import cgroups


def test_probe_reads_mountinfo_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cgroups, "_probed", {})
    monkeypatch.delenv("PYCOMPOSE_CGROUP2_ROOT", raising=False)
    opened: list[str] = []
    real_open = builtins.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    first = cgroups.probe()
    first.clear()  # a caller's copy: the next answer is whole
    second = cgroups.probe()
    assert second == cgroups._probe(None)
    assert opened.count("/proc/self/mountinfo") == 2  # probe() once, _probe() above once

    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    monkeypatch.setenv("PYCOMPOSE_CGROUP2_ROOT", str(tmp_path))
    forced = cgroups.probe()
    assert forced == [cgroups.Hierarchy(2, str(tmp_path), frozenset({"cpu", "memory", "pids"}))]
    monkeypatch.delenv("PYCOMPOSE_CGROUP2_ROOT")
    assert cgroups.probe() == second
    assert opened.count("/proc/self/mountinfo") == 2

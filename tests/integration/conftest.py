from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest.leaks import snapshot
from pctest.stack import Stack, stack_fixture


@pytest.fixture
def no_leaks(state_root: Path) -> Iterator[Path]:
    """The test's own state root; at teardown, fail if the test left any mount, netns,
    link, cgroup or process marked with it."""
    from pycompose.util.paths import root_id

    marks = [str(state_root), f"PYCOMPOSE_ROOT={state_root}", root_id(state_root)]
    before = snapshot(marks)
    yield state_root
    left = snapshot(marks).new_since(before)
    assert not left, "the test left kernel objects behind:\n" + "\n".join(left)


@pytest.fixture
def stack(no_leaks: Path, busybox_tar: Path, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A compose project folder with busybox imported (pctest/stack.py)."""
    yield from stack_fixture(no_leaks, busybox_tar, tmp_path, monkeypatch)

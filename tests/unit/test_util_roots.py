"""The roots registry: which noted roots are gone (their kernel objects then swept by
the next supervisor: tests/integration/containers/test_vanished_root.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycompose.util import roots
from pycompose.util.paths import root_id


def test_a_root_whose_folder_is_gone_is_vanished_until_forgotten(tmp_path: Path) -> None:
    reg = tmp_path / "roots"
    here, gone = tmp_path / "here", tmp_path / "gone"
    here.mkdir()
    reg.mkdir()
    for root in (here, gone):
        (reg / root_id(root)).write_text(str(root))
    (reg / ".half-written.123").write_text(str(gone))
    assert roots.vanished(reg) == [root_id(gone)]
    roots.forget(root_id(gone), reg)
    roots.forget(root_id(gone), reg)  # idempotent
    assert roots.vanished(reg) == []
    assert roots.vanished(tmp_path / "none") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the registry is root's (/run)")
def test_note_writes_the_path_once_and_privately(tmp_path: Path) -> None:
    reg = tmp_path / "roots"
    root = tmp_path / "state"
    roots.note(root, reg)
    entry = reg / root_id(root)
    assert entry.read_text() == str(root)
    assert (entry.stat().st_mode & 0o777, reg.stat().st_mode & 0o777) == (0o600, 0o700)
    before = entry.stat().st_mtime_ns
    roots.note(root, reg)
    assert entry.stat().st_mtime_ns == before
    assert os.listdir(reg) == [root_id(root)]

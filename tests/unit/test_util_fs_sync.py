"""util.fs.deferred_sync: inside it, atomic writes wait for no disk but are still whole
(old or new) for readers; sync_paths waits for them all at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pycompose.util import fs


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_atomic_write_syncs_at_once_outside_the_block(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_fsyncs(monkeypatch)
    fs.atomic_write(tmp_path / "d" / "a", b"1")
    assert len(calls) == 2  # the data, then the new name's directory
    assert (tmp_path / "d" / "a").read_bytes() == b"1"


def test_inside_the_block_writes_are_noted_and_synced_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_fsyncs(monkeypatch)
    with fs.deferred_sync() as pending:
        fs.atomic_write(tmp_path / "a", b"1")
        fs.atomic_write(tmp_path / "a", b"2")  # replaced: the same path once
        fs.fsync_dir(tmp_path)
        seen: list[list[Path] | None] = []
        t = threading.Thread(target=lambda: seen.append(fs._deferred.get()))
        t.start()
        t.join()
        assert calls == []
        assert (tmp_path / "a").read_bytes() == b"2"
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert seen == [None]  # a plain thread does not inherit the block (only copies do)
    assert set(pending) == {tmp_path / "a", tmp_path}
    fs.sync_paths(pending)
    assert len(calls) == 2 and pending == []
    fs.atomic_write(tmp_path / "b", b"3")  # after the block: synced at once again
    assert len(calls) == 4


def test_sync_paths_skips_what_is_gone(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")
    todo = [tmp_path / "x", tmp_path / "gone", tmp_path]
    fs.sync_paths(todo)
    assert todo == []

"""Volumes (create, in-use, prune, copy-up across layers) and json-file logs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pycompose.engine.containers import ContainerStore
from pycompose.engine.errors import Conflict, EngineError, NotFound
from pycompose.engine.supervisor.logs import LineSplitter, parse_line, render, tail_lines
from pycompose.engine.volumes import ANON_LABEL, VolumeStore, merge_layers


def test_create_is_idempotent_and_lists(tmp_path: Path) -> None:
    vs = VolumeStore(tmp_path)
    v = vs.create("data", {"a": "b"})
    assert v["Mountpoint"] == str(tmp_path / "volumes" / "data" / "_data")
    assert vs.create("data")["CreatedAt"] == v["CreatedAt"]
    assert [x["Name"] for x in vs.list()] == ["data"]
    with pytest.raises(EngineError, match="invalid volume name"):
        vs.create("a/b")


def test_in_use_volumes_are_kept_and_prune_takes_anonymous_ones(tmp_path: Path) -> None:
    vs = VolumeStore(tmp_path)
    vs.create("named")
    anon = vs.create(None)["Name"]
    used = vs.create("used")["Name"]
    assert ANON_LABEL in vs.get(anon)["Labels"]
    ContainerStore(tmp_path).create({"Mounts": [{"Type": "volume", "Name": used}]}, "c")
    with pytest.raises(Conflict, match="volume is in use"):
        vs.remove(used)
    assert vs.prune() == [anon]
    assert vs.prune(all_volumes=True) == ["named"]
    with pytest.raises(NotFound):
        vs.get("named")


def test_merge_layers_upper_wins_and_lower_shows_through(tmp_path: Path) -> None:
    top, low, dest = tmp_path / "top", tmp_path / "low", tmp_path / "dest"
    for d in (top / "srv", low / "srv" / "sub", dest):
        d.mkdir(parents=True)
    (top / "srv" / "a").write_text("top")
    (low / "srv" / "a").write_text("low")
    (low / "srv" / "sub" / "b").write_text("b")
    os.symlink("a", low / "srv" / "link")
    merge_layers([top, low], "srv", dest)
    assert (dest / "a").read_text() == "top"
    assert (dest / "sub" / "b").read_text() == "b"
    assert os.readlink(dest / "link") == "a"


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts are 0:0 device nodes (mknod)")
def test_merge_layers_honours_whiteouts_and_opaque_dirs(tmp_path: Path) -> None:
    import stat

    top, low, dest = tmp_path / "top", tmp_path / "low", tmp_path / "dest"
    for d in (top / "srv" / "opq", low / "srv" / "opq", dest):
        d.mkdir(parents=True)
    (low / "srv" / "gone").write_text("x")
    os.mknod(top / "srv" / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    (low / "srv" / "opq" / "hidden").write_text("x")
    (top / "srv" / "opq" / "shown").write_text("y")
    os.setxattr(top / "srv" / "opq", "trusted.overlay.opaque", b"y")
    merge_layers([top, low], "srv", dest)
    assert sorted(os.listdir(dest)) == ["opq"]
    assert os.listdir(dest / "opq") == ["shown"]


def test_copy_up_happens_once(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    (layer / "www").mkdir(parents=True)
    (layer / "www" / "index.html").write_text("hi")
    vs = VolumeStore(tmp_path)
    vs.create("web")
    assert vs.copy_up("web", [layer], "/www") is True
    data = vs.data_dir("web")
    assert (data / "index.html").read_text() == "hi"
    (data / "index.html").unlink()
    assert vs.copy_up("web", [layer], "/www") is False
    assert not (data / "index.html").exists()


def test_log_lines_split_at_newlines_and_16k() -> None:
    s = LineSplitter("stdout")
    out = s.feed(b"one\ntw") + s.feed(b"o\n") + s.feed(b"x" * (16 * 1024 + 3)) + s.flush()
    logs = [json.loads(e)["log"] for e in out]
    assert logs == ["one\n", "two\n", "x" * 16 * 1024, "xxx"]
    assert all(json.loads(e)["stream"] == "stdout" for e in out)
    assert json.loads(out[0])["time"].endswith("Z")


def test_tail_and_render(tmp_path: Path) -> None:
    s = LineSplitter("stderr")
    path = tmp_path / "c-json.log"
    path.write_bytes(b"".join(s.feed(b"a\nb\nc\n")) + b'{"torn')
    lines, offset = tail_lines(path, 2)
    assert [parse_line(x)[2] for x in lines] == ["b\n", "c\n"]  # type: ignore[index]
    assert offset == path.read_bytes().rfind(b"\n") + 1
    stream, data = render(lines[0], timestamps=True)  # type: ignore[misc]
    assert stream == "stderr" and data.endswith(b"Z b\n")
    assert tail_lines(path, 0)[0] == []
    assert parse_line(b"not json") is None

"""Volumes (create, in-use, prune, copy-up across layers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycompose.engine.containers import ContainerStore
from pycompose.engine.errors import Conflict, EngineError, NotFound
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


def test_a_removal_killed_half_way_does_not_block_the_next(tmp_path: Path) -> None:
    """A down -v killed while it emptied a volume left ``.removing-NAME`` behind; the
    next removal of a volume of that name failed with "Directory not empty" (seen in
    the kill-points test). Its grave is its own now, and leftovers are swept."""
    vs = VolumeStore(tmp_path)
    left = tmp_path / "volumes" / ".removing-data"
    (left / "_data" / "sub").mkdir(parents=True)
    (left / "_data" / "sub" / "f").write_text("x")
    vs.create("data")
    vs.remove("data")
    assert [x["Name"] for x in vs.list()] == []
    assert [n for n in os.listdir(tmp_path / "volumes") if n != ".lock"] == []

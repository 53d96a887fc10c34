"""spread_dir: the churning state folders are Orlov top dirs on ext2/3/4 (``chattr +T``,
so that each container's files get a block group of their own), and nothing at all
where the filesystem has no such flag."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from pycompose.engine.containers import ContainerStore
from pycompose.util.fs import spread_dir, spread_state


def _fstype(path: Path) -> str:
    return subprocess.run(["findmnt", "-no", "FSTYPE", "-T", str(path)],
                          capture_output=True, text=True).stdout.split("\n")[0].strip()


def _topdir(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, 0x80086601, bytes(8))[:4], "little")
    finally:
        os.close(fd)
    return bool(flags & 0x00020000)


@pytest.fixture
def ext4_dir(tmp_path: Path) -> Path:
    if _fstype(tmp_path) not in ("ext2", "ext3", "ext4"):
        pytest.skip(f"{tmp_path} is not on ext2/3/4")  # these VMs' /tmp is ext4
    return tmp_path


def test_a_new_containers_folder_is_a_top_dir(ext4_dir: Path) -> None:
    store = ContainerStore(ext4_dir / "state")
    rec = store.create({"Config": {}}, "a")
    assert _topdir(ext4_dir / "state" / "containers")
    assert not _topdir(store.path(rec["Id"]))  # only the folder of folders


def test_an_older_root_gets_the_flag(ext4_dir: Path) -> None:
    (ext4_dir / "containers").mkdir()
    (ext4_dir / "images" / "layers").mkdir(parents=True)
    (ext4_dir / "networks").mkdir()
    spread_state(ext4_dir)
    assert _topdir(ext4_dir / "containers") and _topdir(ext4_dir / "images" / "layers")
    assert not _topdir(ext4_dir / "networks")  # a few files, rewritten in place
    assert spread_dir(ext4_dir / "containers")  # again: still set, no error


def test_no_flag_where_the_filesystem_has_none(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if _fstype(shm) != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm")
    d = shm / f"pc-spread-{os.getpid()}"
    d.mkdir()
    try:
        assert spread_dir(d) is False
    finally:
        d.rmdir()
    assert spread_dir(tmp_path / "missing") is False

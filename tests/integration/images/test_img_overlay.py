"""Real overlay mounts of the store's layers: what a container's root would show."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from pctest.cli import run
from pctest.layers import docker_save, two_layer_image

from pycompose.engine.images import ImageStore


def _load_multi(tmp_path: Path) -> None:
    r = run(["image", "load", "-i", str(docker_save(tmp_path / "multi.tar", two_layer_image()))])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Loaded image: test/multi:latest"


def test_whiteouts_and_opaque_dirs_hide_lower_content_when_mounted(
        store: ImageStore, tmp_path: Path, overlay) -> None:
    _load_multi(tmp_path)
    img = store.resolve("test/multi")
    lowers = img.lowerdirs()
    assert len(lowers) == 2 and all(len(p) < len(str(store.root)) + 30 for p in lowers)
    merged = overlay.mount(lowers)
    assert sorted(os.listdir(merged / "etc")) == ["keep"]  # etc/gone was deleted above
    assert sorted(os.listdir(merged / "data")) == ["new"]  # data/ made opaque above
    assert (merged / "data/new").read_text() == "new\n"
    # what the lower layer kept: hard links, symlinks, devices, fifos, owners, modes,
    # mtimes, xattrs
    hello, hi = (merged / "bin/hello").stat(), (merged / "bin/hi").stat()
    assert hello.st_ino == hi.st_ino and hello.st_nlink == 2
    assert stat.S_IMODE(hello.st_mode) == 0o755 and hello.st_mtime == 1700000000
    assert os.readlink(merged / "bin/sh-link") == "/bin/hello"
    null = (merged / "dev/null").lstat()
    assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1
    assert stat.S_ISFIFO((merged / "run/fifo").lstat().st_mode)
    home = (merged / "home").stat()
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (1000, 1000, 0o750)
    assert os.getxattr(merged / "bin/cap", "user.note") == b"hello"


def test_committing_an_upper_dir_makes_a_layer_that_mounts_the_same(
        store: ImageStore, busybox, overlay) -> None:
    merged = overlay.mount(busybox.lowerdirs(), upper=True)
    (merged / "etc/os-release").unlink()  # a whiteout in the upper dir
    shutil.rmtree(merged / "var/www")
    (merged / "var/www").mkdir()  # a fresh directory over a lower one: opaque
    (merged / "var/www/new.html").write_text("new\n")
    (merged / "root/note").write_text("committed\n")
    upper = overlay.base / "upper0"
    overlay.umount_all()

    from pycompose.engine.images.commit import commit_dir

    img = commit_dir(store, upper, busybox, repo_tag="bb:committed", author="tester",
                     comment="a test commit", changes=["ENV X=1"], created_by="sh -c edit")
    assert img.id != busybox.id and img.repo_tags == ["docker.io/library/bb:committed"]
    assert img.config["Cmd"] == ["sh"] and "X=1" in img.config["Env"]
    assert len(img.lowerdirs()) == 2 and img.lowerdirs()[1:] == busybox.lowerdirs()
    merged2 = overlay.mount(img.lowerdirs())
    assert not (merged2 / "etc/os-release").exists()
    assert os.listdir(merged2 / "var/www") == ["new.html"]
    assert (merged2 / "root/note").read_text() == "committed\n"
    assert (merged2 / "bin/busybox").exists()

    r = run(["image", "history", "bb:committed", "--no-trunc"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT",
                                "AUTHOR"]  # shown when a layer has an author
    assert lines[1].startswith(img.id) and "sh -c edit" in lines[1]
    assert lines[1].rstrip().endswith("tester")
    assert "a test commit" in lines[1]
    assert lines[2].startswith("<missing>") and "Imported from" in lines[2]


def test_a_hundred_layers_fit_the_mount_option_page(store: ImageStore, tmp_path: Path) -> None:
    from pctest.layers import entry, make_tar

    layers = [make_tar([entry("layers", "dir"), entry(f"layers/{i:03d}", data=b"%d" % i)])
              for i in range(100)]
    r = run(["image", "load", "-i", str(docker_save(tmp_path / "deep.tar", layers,
                                                     tag="deep:1"))])
    assert r.returncode == 0, r.stderr
    img = store.resolve("deep:1")
    # docker's answer to the one-page (4096 bytes) limit: short links, relative to a
    # working directory at the store; absolute ones fit too from /var/lib/pycompose
    assert len(":".join(img.lowerdirs(relative=True))) < 1500
    assert max(len(p) for p in img.lowerdirs()) == len(str(store.images_dir)) + 15
    merged = tmp_path / "merged"
    merged.mkdir()
    opts = "lowerdir=" + ":".join(img.lowerdirs(relative=True))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)],
                   check=True, cwd=store.images_dir)
    try:
        assert sorted(os.listdir(merged / "layers")) == [f"{i:03d}" for i in range(100)]
    finally:
        subprocess.run(["umount", str(merged)], check=True)

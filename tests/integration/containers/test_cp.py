"""``container cp`` by docker's rules (SRC/DEST kinds, ``/.``, ``-a``, ``-L``), into and
out of running and stopped containers, seen from the CLI."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("a\n")
    (d / "sub" / "b.txt").write_text("b\n")
    os.chown(d / "a.txt", 1234, 5678)
    os.chmod(d / "a.txt", 0o640)
    os.symlink("a.txt", d / "link")
    return d


def _box(engine: Engine, state: str) -> str:
    if state == "running":
        engine.ok("run", "-d", "--name", "box", "busybox", "sh", "-c",
                  "mkdir /dir; touch /file /ready; sleep 600")
        deadline = time.monotonic() + 10
        while engine("exec", "box", "test", "-e", "/ready").returncode != 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    else:
        engine.ok("run", "--name", "box", "busybox", "sh", "-c", "mkdir /dir; touch /file")
    return "box"


def _ls(engine: Engine, tmp_path: Path, path: str) -> list[str]:
    """What the container holds under ``path``, copied back out."""
    out = tmp_path / f"ls-{time.monotonic_ns()}"
    engine.ok("cp", f"box:{path}", str(out))
    return sorted(str(p.relative_to(out)) for p in out.rglob("*"))


@pytest.mark.parametrize("state", ["running", "stopped"])
def test_cp_in_follows_dockers_rules(engine: Engine, src: Path, tmp_path: Path,
                                     state: str) -> None:
    _box(engine, state)
    engine.ok("cp", str(src), "box:/dir")  # an existing directory: SRC goes into it
    engine.ok("cp", str(src), "box:/new")  # missing: made as a copy of SRC
    engine.ok("cp", f"{src}/.", "box:/dir")  # "/.": the content only
    engine.ok("cp", str(src / "a.txt"), "box:/dir/renamed.txt")
    want = ["a.txt", "link", "sub", "sub/b.txt"]
    assert _ls(engine, tmp_path, "/new") == want
    assert _ls(engine, tmp_path, "/dir") == sorted(
        [*want, "renamed.txt", *(f"src/{w}" for w in want), "src"])
    r = engine("cp", str(src), "box:/file")
    assert r.returncode != 0 and "cannot overwrite non-directory" in r.stderr
    r = engine("cp", str(src / "a.txt"), "box:/nodir/")
    assert r.returncode != 0 and "Could not find the directory" in r.stderr
    r = engine("cp", str(src / "a.txt"), "box:/no/such/x")
    assert r.returncode != 0 and "Could not find the directory /no/such" in r.stderr


def test_cp_in_owners_and_links(engine: Engine, src: Path, tmp_path: Path) -> None:
    _box(engine, "running")
    engine.ok("cp", str(src / "a.txt"), "box:/plain.txt")
    engine.ok("cp", "-a", str(src / "a.txt"), "box:/kept.txt")
    engine.ok("cp", str(src / "link"), "box:/link")  # a link is copied as a link
    engine.ok("cp", "-L", str(src / "link"), "box:/followed")
    out = engine.ok("exec", "box", "sh", "-c",
                    "stat -c '%u:%g %a' /plain.txt /kept.txt; readlink /link; cat /followed")
    assert out == "0:0 640\n1234:5678 640\na.txt\na\n"


@pytest.mark.parametrize("state", ["running", "stopped"])
def test_cp_out_follows_dockers_rules(engine: Engine, tmp_path: Path, state: str) -> None:
    if state == "running":
        engine.ok("run", "-d", "--name", "box", "busybox", "sh", "-c",
                  "mkdir -p /d/s; echo x > /d/s/x; chmod 4755 /d/s/x; ln -s s /d/l; "
                  "touch /ready; sleep 600")
        deadline = time.monotonic() + 10
        while engine("exec", "box", "test", "-e", "/ready").returncode != 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    else:
        engine.ok("run", "--name", "box", "busybox", "sh", "-c",
                  "mkdir -p /d/s; echo x > /d/s/x; chmod 4755 /d/s/x; ln -s s /d/l")
    (tmp_path / "into").mkdir()
    engine.ok("cp", "box:/d", str(tmp_path / "into"))
    engine.ok("cp", "box:/d/.", str(tmp_path / "content"))
    engine.ok("cp", "box:/d/l", str(tmp_path / "link"))
    engine.ok("cp", "-L", "box:/d/l", str(tmp_path / "followed"))
    assert (tmp_path / "into" / "d" / "s" / "x").read_text() == "x\n"
    assert (tmp_path / "content" / "s" / "x").read_text() == "x\n"
    assert os.readlink(tmp_path / "link") == "s"
    assert (tmp_path / "followed" / "x").read_text() == "x\n"
    # owned by whoever copies, and no setuid file on the host from a container
    assert stat.S_IMODE((tmp_path / "content" / "s" / "x").stat().st_mode) == 0o755
    r = engine("cp", "box:/nothing", str(tmp_path / "n"))
    assert r.returncode != 0 and "Could not find the file /nothing in container box" in r.stderr
    (tmp_path / "afile").write_text("")
    r = engine("cp", "box:/d", str(tmp_path / "afile"))
    assert r.returncode != 0 and "cannot overwrite non-directory" in r.stderr


def test_cp_into_a_stopped_container_shows_on_its_next_start(engine: Engine,
                                                             tmp_path: Path) -> None:
    """Written into the upper dir: the directories the image has are made there as
    overlayfs would copy them up (same owner and mode), a deleted path stays deleted."""
    engine.ok("create", "--name", "box", "busybox", "sh", "-c",
              "cat /home/app/in.txt; stat -c '%u %a' /home/app; ls /var/www")
    f = tmp_path / "in.txt"
    f.write_text("copied in\n")
    engine.ok("cp", str(f), "box:/home/app/")
    engine.ok("cp", str(f), "box:/var/www/index.html")
    out = engine.ok("start", "-a", "box")
    assert out == "copied in\n1000 755\nindex.html\n"

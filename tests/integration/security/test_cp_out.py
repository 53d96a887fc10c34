"""Holes 2, B6, B7, B9 of issue 16: ``container cp`` out of a container must never
read the host's files: not through a symlink in a stopped container's layers, not
through ``..``, and not through a directory swapped for a symlink while a running
container is being copied (CVE-2018-15664)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine

PLANT = ("ln -s / /hostroot; rm -rf /app; ln -s /etc /app; mkdir -p /etc/ssl; "
         "echo mine > /etc/ssl/mine; ln -s {v} /hostdir; mkdir /d; ln -s {v} /d/link; "
         "ln -s {v}/marker-HOST /d/file")


def _leaks(out: Path) -> list[str]:
    """Host files that turned up in a copy: the victim's, or the host's /etc."""
    if not out.exists():
        return []
    found = [str(p) for p in out.rglob("*")
             if p.name in ("marker-HOST", "victim.txt", "shadow", "debian_version", "certs")]
    return found


@pytest.mark.parametrize("state", ["stopped", "running"])
def test_cp_out_follows_a_containers_symlinks_inside_the_container(
        engine: Engine, victim: Path, tmp_path: Path, state: str) -> None:
    if state == "stopped":
        engine.ok("run", "--name", "cpo", "busybox", "sh", "-c", PLANT.format(v=victim))
    else:
        engine.ok("run", "-d", "--name", "cpo", "busybox", "sh", "-c",
                  PLANT.format(v=victim) + "; touch /planted; sleep 600")
        deadline = time.monotonic() + 10
        while engine("exec", "cpo", "test", "-e", "/planted").returncode != 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    for i, path in enumerate(["/hostroot/etc", "/app/", "/../../../../../../etc",
                              "/hostroot/../../etc/."]):
        out = tmp_path / f"out{i}"
        engine.ok("cp", f"cpo:{path}", str(out))
        assert not out.is_symlink(), path
        assert (out / "passwd").read_text().count("app:x:1000") == 1, path
        assert (out / "ssl" / "mine").read_text() == "mine\n"
        assert _leaks(out) == [], path
    out = tmp_path / "ssl"
    engine.ok("cp", "cpo:/app/ssl", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["mine"]
    for path in ["/hostdir/marker-HOST", "/hostdir/", "/d/link/."]:
        r = engine("cp", f"cpo:{path}", str(tmp_path / "x"))
        assert r.returncode != 0 and "Could not find" in r.stderr, path
        assert _leaks(tmp_path / "x") == []
    engine.ok("cp", "cpo:/app", str(tmp_path / "app"))  # a link: copied as a link
    assert (tmp_path / "app").is_symlink()
    out = tmp_path / "d"
    engine.ok("cp", "cpo:/d", str(out))  # the links themselves, never their targets
    assert (out / "link").is_symlink() and (out / "file").is_symlink()
    assert _leaks(out) == []
    r = engine("cp", "-L", "cpo:/d/file", str(tmp_path / "f"))  # followed in the container
    assert r.returncode != 0 and not (tmp_path / "f").exists()


def test_cp_out_of_a_running_container_survives_a_symlink_swap_race(
        engine: Engine, victim: Path, tmp_path: Path) -> None:
    """B9: the container swaps /w/a for a symlink to the host as fast as it can while
    we copy /w out, again and again. Not one host file may come out. ``/w/0big``,
    copied first, widens the window between listing /w and entering /w/a."""
    from pycompose.engine.containers import ContainerStore, copy_from
    from pycompose.engine.errors import EngineError

    engine.ok("run", "-d", "--name", "racer", "busybox", "sh", "-c",
              f"mkdir -p /w/a /w/0big; echo c > /w/a/marker-container; ln -s {victim} /w/sym; "
              "for i in $(seq 300); do echo $i > /w/0big/$i; done; "
              "while true; do mv /w/a /w/a.tmp; mv /w/sym /w/a; mv /w/a /w/sym; "
              "mv /w/a.tmp /w/a; done")
    time.sleep(0.3)
    rec = ContainerStore(engine.root).get("racer")
    copied = 0
    for i in range(100):
        out = tmp_path / f"o{i}"
        try:
            copy_from(rec, "/w", out)
            copied += 1
        except (EngineError, OSError, shutil.Error):
            pass  # a directory vanished mid-copy: an error is fine, a leak is not
        assert _leaks(out) == [], f"try {i}: a host file came out"
        shutil.rmtree(out, ignore_errors=True)
    assert copied > 0

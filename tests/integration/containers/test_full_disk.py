"""A full disk under the state root: ``run --rm`` fails with one line naming the file
it was writing and what to do (not an internal error), and leaves nothing: no record,
no mount, no cgroup, no network attachment. Once there is room again it works."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine


@pytest.fixture
def small_root(no_leaks: Path) -> Iterator[Path]:
    """The test's state root on a 24 MiB tmpfs of its own (unmounted before no_leaks
    looks: the engine's teardown runs first)."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs",
                    str(no_leaks)], check=True)
    yield no_leaks
    subprocess.run(["umount", "-l", str(no_leaks)], check=False)


def test_run_rm_on_a_full_disk_is_a_clear_error_and_leaves_nothing(
        small_root: Path, engine: Engine) -> None:
    engine.ok("run", "--rm", "busybox", "true")  # the bridge and its prepared namespace
    r = engine("run", "--name", "filler", "busybox", "dd", "if=/dev/zero", "of=/fill",
               "bs=1M", "count=40")
    assert r.returncode != 0  # dd itself hit the end of the disk
    for _ in range(3):
        r = engine("run", "--rm", "busybox", "echo", "x")
        assert r.returncode == 125, r.stdout + r.stderr
        assert "no space left on device writing " + str(small_root) in r.stderr, r.stderr
        assert "free some space" in r.stderr
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert engine.ok("ls", "-a", "--format", "{{.Names}}").split() == ["filler"]
    engine.ok("rm", "filler")
    assert engine.ok("run", "--rm", "busybox", "echo", "x") == "x\n"


def test_a_state_root_that_is_a_mount_of_its_own_stays_mounted(
        small_root: Path, engine: Engine) -> None:
    """/var/lib/pycompose on a disk of its own: a starting supervisor sweeps leftover
    mounts of containers, never the state root's own (it was unmounted from under it,
    and every image 'vanished')."""
    assert engine.ok("run", "--rm", "busybox", "echo", "x") == "x\n"
    r = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", str(small_root)],
                       capture_output=True, text=True)
    assert r.stdout.strip() == "tmpfs"


def test_a_supervisor_that_cannot_start_says_why_at_once(
        small_root: Path, engine: Engine) -> None:
    """No supervisor yet, and a full (then read-only) state root: the command that
    would start one fails in a line naming the cause, where it waited 15 s for a
    supervisor that had died ("did not start within 15 s") or called a read-only
    root an internal error."""
    assert engine.supervisor_pid() is None
    fill = small_root / "fill"
    subprocess.run(["dd", "if=/dev/zero", f"of={fill}", "bs=1M", "count=40"],
                   capture_output=True, check=False)
    r = engine("run", "--rm", "busybox", "true")
    assert r.returncode == 125, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: cannot start the supervisor of {small_root}: no space left on device: "
        f"free some space on the file system of {small_root}"], r.stderr
    fill.unlink()
    deadline = time.monotonic() + 10  # until the supervisor that failed has exited
    while subprocess.run(["mount", "-o", "remount,ro", str(small_root)],
                         capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, "the state root stayed busy"
        time.sleep(0.05)
    try:
        r = engine("run", "--rm", "busybox", "true")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_root)], check=True)
    assert r.returncode == 125, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: cannot start the supervisor of {small_root}: read-only file system "
        f"writing {small_root}/supervisor.lock"], r.stderr
    assert engine.ok("run", "--rm", "busybox", "echo", "x") == "x\n"

"""Holes 1, B5, B8 of issue 16: ``container cp`` into a container must never write,
create or overwrite a host file through a symlink the container planted, running or
stopped. Docker's semantics stay: a symlink met inside a copied directory is replaced
by the copied entry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Engine

ORIGINAL = ["marker-HOST", "victim.txt"]


def _wait_file(engine: Engine, name: str, path: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if engine("exec", name, "test", "-e", path).returncode == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared in {name}")


def _conf(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    (conf / "sub").mkdir(parents=True)
    (conf / "settings.ini").write_text("EVIL-settings\n")
    (conf / "sub" / "injected").write_text("EVIL-injected\n")
    return conf


PLANT = ("mkdir -p /app/conf; ln -s {v}/victim.txt /app/conf/settings.ini; "
         "ln -s {v} /app/conf/sub; ln -s {v} /t; touch /planted")


def test_cp_of_a_directory_into_a_running_container_writes_no_host_file(
        engine: Engine, victim: Path, tmp_path: Path) -> None:
    engine.ok("run", "-d", "--name", "cpc", "busybox", "sh", "-c",
              PLANT.format(v=victim) + "; sleep 600")
    _wait_file(engine, "cpc", "/planted")
    engine.ok("cp", str(_conf(tmp_path)), "cpc:/app/")
    assert (victim / "victim.txt").read_text() == "ORIGINAL\n"
    assert sorted(p.name for p in victim.iterdir()) == ORIGINAL
    # docker's tar extraction: the container's links were replaced by the copied files
    out = engine.ok("exec", "cpc", "sh", "-c",
                    "cat /app/conf/settings.ini /app/conf/sub/injected; "
                    "test -L /app/conf/settings.ini || echo not-a-link")
    assert out == "EVIL-settings\nEVIL-injected\nnot-a-link\n"


def test_cp_into_a_stopped_container_writes_no_host_file(
        engine: Engine, victim: Path, tmp_path: Path) -> None:
    engine.ok("run", "--name", "cps", "busybox", "sh", "-c", PLANT.format(v=victim))
    engine.ok("cp", str(_conf(tmp_path)), "cps:/app/")
    assert (victim / "victim.txt").read_text() == "ORIGINAL\n"
    assert sorted(p.name for p in victim.iterdir()) == ORIGINAL
    engine.ok("cp", "cps:/app/conf", str(tmp_path / "back"))
    assert (tmp_path / "back" / "settings.ini").read_text() == "EVIL-settings\n"
    assert (tmp_path / "back" / "sub" / "injected").read_text() == "EVIL-injected\n"
    assert not (tmp_path / "back" / "settings.ini").is_symlink()


def test_cp_of_a_file_over_a_containers_symlink_to_a_host_file(
        engine: Engine, victim: Path, tmp_path: Path) -> None:
    engine.ok("run", "--name", "cpf", "busybox", "sh", "-c",
              PLANT.format(v=victim) + "; echo real > /app/real; ln -s /app/real /app/link")
    evil = tmp_path / "settings.ini"
    evil.write_text("EVIL\n")
    # the link at the destination is followed *inside* the container (docker's CLI):
    # there, its target's directory does not exist
    r = engine("cp", str(evil), "cpf:/app/conf/settings.ini")
    assert r.returncode != 0 and "Could not find the directory" in r.stderr
    assert (victim / "victim.txt").read_text() == "ORIGINAL\n"
    engine.ok("cp", str(evil), "cpf:/app/link")  # a link to a file it has: written there
    engine.ok("cp", "cpf:/app/real", str(tmp_path / "real"))
    assert (tmp_path / "real").read_text() == "EVIL\n"


def test_cp_never_makes_host_directories_through_a_container_symlink(
        engine: Engine, victim: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil.txt"
    evil.write_text("EVIL\n")
    engine.ok("run", "--name", "cpt", "busybox", "sh", "-c", PLANT.format(v=victim))
    r = engine("cp", str(evil), "cpt:/t/made-by-cp/deeper/x.txt")
    assert r.returncode != 0 and "Could not find the directory" in r.stderr
    engine.ok("start", "cpt")
    r = engine("cp", str(evil), "cpt:/t/made-by-cp/deeper/x.txt")
    assert r.returncode != 0 and "Could not find the directory" in r.stderr
    r = engine("cp", str(evil), "cpt:/t/")
    assert r.returncode != 0
    assert sorted(p.name for p in victim.iterdir()) == ORIGINAL


def test_cp_never_writes_into_the_containers_kernel_filesystems(engine: Engine,
                                                               tmp_path: Path) -> None:
    """cp runs as host root: the container's /proc and /sys are the host kernel's
    knobs (core_pattern runs a program as host root). Refused, as docker refuses."""
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    evil = tmp_path / "evil"
    (evil / "proc" / "sys" / "kernel").mkdir(parents=True)
    (evil / "proc" / "sys" / "kernel" / "core_pattern").write_text("|/tmp/pwn\n")
    engine.ok("run", "-d", "--name", "kfs", "busybox", "sh", "-c", "touch /planted; sleep 600")
    _wait_file(engine, "kfs", "/planted")
    r = engine("cp", f"{evil}/.", "kfs:/")
    assert r.returncode != 0 and "kernel" in r.stderr, r.stderr
    r = engine("cp", str(evil / "proc" / "sys" / "kernel" / "core_pattern"),
               "kfs:/proc/sys/kernel/")
    assert r.returncode != 0 and "belongs to the kernel" in r.stderr, r.stderr
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before

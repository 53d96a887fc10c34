"""Versions of a tag as a user sees them: every import, tag, commit, pull and rollback
that moves a name is listed by ``image versions``, newest first, with when, who and
the command; ``image rollback`` goes back (and is recorded); ``image prune`` keeps what
a version refers to and says so; ``image history`` shows created_by and the author."""

from __future__ import annotations

import json
from pathlib import Path

from pctest.cli import run
from pctest.registry import RegistryServer, ok

from pycompose.engine.images import ImageStore


def _versions(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in
            ok(["image", "versions", "--format", "json", name]).splitlines()]


def test_versions_record_every_move_and_rollback_goes_back(
        busybox: Path, containers: Path, busybox_tar: Path) -> None:
    store = ImageStore(busybox)
    v1 = store.resolve("busybox:latest").id
    r = run(["container", "run", "--name", "c1", "busybox", "sh", "-c", "echo 2 > /two"])
    assert r.returncode == 0, r.stderr
    ok(["container", "commit", "-a", "Jane Doe <jane@example.com>", "-m", "second", "c1",
        "busybox:latest"], env={"SUDO_USER": "jane"})
    v2 = store.resolve("busybox:latest").id
    ok(["image", "import", str(busybox_tar), "other:1", "-c", "ENV X=3"])
    ok(["image", "tag", "other:1", "busybox"])
    v3 = store.resolve("busybox").id
    assert len({v1, v2, v3}) == 3

    rows = _versions("busybox:latest")
    assert [(r["number"], r["action"], r["image_id"]) for r in rows] == [
        (3, "tag", v3), (2, "commit", v2), (1, "import", v1)]
    assert rows[0]["Current"] is True and rows[1]["Current"] is False
    assert rows[1]["user"] == "jane" and rows[1]["host"]
    assert rows[0]["command"] == "pycompose image tag other:1 busybox"
    assert str(rows[2]["command"]).startswith("pycompose image import ")
    assert rows[0]["previous"] == v2 and rows[1]["previous"] == v1

    table = ok(["image", "versions", "busybox"]).splitlines()  # every tag of the repo
    assert table[0].split()[:4] == ["TAG", "VERSION", "IMAGE", "ID"]
    assert "3 (current)" in table[1] and v3[7:19] in table[1] and "jane@" in table[2]

    out = ok(["image", "rollback", "busybox"])
    assert out == f"busybox:latest: back at version 2 ({v2[7:19]}), recorded as version 4\n"
    assert store.resolve("busybox:latest").id == v2
    ok(["image", "rollback", "busybox"])  # again: one step further back
    assert store.resolve("busybox:latest").id == v1
    ok(["image", "rollback", "busybox", "--to", "3"])
    assert store.resolve("busybox:latest").id == v3
    ok(["image", "rollback", "busybox", "--to", v2[7:19]])
    assert store.resolve("busybox:latest").id == v2
    rows = _versions("busybox:latest")
    assert [(r["number"], r["action"], r["rolled_back_to"]) for r in rows[:4]] == [
        (7, "rollback", 2), (6, "rollback", 3), (5, "rollback", 1), (4, "rollback", 2)]
    r = run(["image", "rollback", "busybox", "--to", "2"])
    assert r.returncode == 1 and "already points at version 2" in r.stderr
    r = run(["image", "rollback", "busybox", "--to", "99"])
    assert r.returncode == 1 and "has no version 99 (it has 1 to 7)" in r.stderr

    # the history shows who made each layer, and how
    hist = ok(["image", "history", "busybox:latest"]).splitlines()
    assert hist[0].split()[-1] == "AUTHOR"
    assert "Jane Doe <jane@example.com>" in hist[1] and "echo 2 > /two" in hist[1]

    # prune keeps the untagged images versions point at, and says so
    ok(["container", "rm", "c1"])
    dry = ok(["image", "prune", "--dry-run"])
    assert "Nothing to remove." in dry and "Kept for rollback" in dry
    assert v1[7:19] in dry and "versions of busybox:latest" in dry
    out = ok(["image", "prune", "-f"])
    assert "Kept 1 untagged image that earlier versions of tags point at" in out
    assert {im.id for im in store.images()} == {v1, v2, v3}
    out = ok(["image", "prune", "-a", "-f"])
    assert v1 in out and v3 in out
    rows = _versions("busybox:latest")
    assert rows[0]["action"] == "remove" and rows[0]["image_id"] == ""
    r = run(["image", "rollback", "busybox", "--to", "1"])
    assert r.returncode == 1 and "is no longer in the store" in r.stderr


def test_a_pull_is_a_version_with_its_source(busybox: Path, registry: RegistryServer,
                                             tmp_path: Path) -> None:
    name = f"{registry.host}/v/bb:1"
    ok(["image", "tag", "busybox", name])
    ok(["image", "push", "-q", name])
    clean = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    ok(["image", "pull", "-q", name], env=clean)
    rows = [json.loads(x) for x in
            ok(["image", "versions", "--format", "json", name], env=clean).splitlines()]
    digest = ImageStore(busybox).resolve(name).manifest_digest
    assert [(r["action"], r["source"]) for r in rows] == [
        ("pull", f"{registry.host}/v/bb@{digest}")]
    r = run(["image", "versions", "nothing:here"])
    assert r.returncode == 1 and "no versions are recorded for nothing:here" in r.stderr

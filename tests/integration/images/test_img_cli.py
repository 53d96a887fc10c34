"""The ``pycompose image`` verbs as a user sees them."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest
import zstandard
from pctest.cli import PYCOMPOSE, run

from pycompose.engine.images import ImageStore


def test_import_then_ls_inspect_history(store: ImageStore, busybox_tar: Path) -> None:
    r = run(["image", "import", str(busybox_tar), "busybox:1", "-c", 'CMD ["sh"]',
             "-c", "ENV A=b", "-c", "WORKDIR /srv", "-c", "EXPOSE 80", "-c", "USER app",
             "-c", "ENTRYPOINT /bin/true", "-m", "the everyday image"])
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71

    ls = run(["image", "ls"]).stdout.splitlines()
    assert ls[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert ls[1].split()[:3] == ["busybox", "1", image_id[7:19]]
    assert run(["image", "ls", "-q"]).stdout.split() == [image_id[7:19]]
    row = json.loads(run(["image", "ls", "--format", "json"]).stdout)
    assert (row["Repository"], row["Tag"]) == ("busybox", "1")

    doc = json.loads(run(["image", "inspect", "busybox:1"]).stdout)[0]
    assert doc["Id"] == image_id and doc["RepoTags"] == ["busybox:1"]
    assert doc["Config"] == {"Cmd": ["sh"], "Env": ["A=b"], "WorkingDir": "/srv",
                             "ExposedPorts": {"80/tcp": {}}, "User": "app",
                             "Entrypoint": ["/bin/sh", "-c", "/bin/true"]}
    assert len(doc["RootFS"]["Layers"]) == 1
    hist = run(["image", "history", "busybox:1"]).stdout.splitlines()
    assert len(hist) == 2 and "the everyday image" in hist[1]
    assert run(["image", "inspect", "-f", "{{.Config.WorkingDir}}", image_id[7:12]]
               ).stdout.strip() == "/srv"


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_import_from_stdin_compressed(store: ImageStore, busybox_tar: Path,
                                      compression: str) -> None:
    data = busybox_tar.read_bytes()
    packed = gzip.compress(data, 1) if compression == "gzip" else \
        zstandard.ZstdCompressor().compress(data)
    r = subprocess.run([PYCOMPOSE, "image", "import", "-", "bb"], input=packed,
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    img = store.resolve("bb:latest")
    assert img.diff_ids[0] == "sha256:" + __import__("hashlib").sha256(data).hexdigest()
    assert img.layers[0].media_type.endswith("+" + compression)


def test_the_same_layer_imported_twice_is_stored_once(store: ImageStore,
                                                      busybox_tar: Path) -> None:
    for name in ("a", "b", "c"):
        assert run(["image", "import", str(busybox_tar), name]).returncode == 0
    assert len(os.listdir(store.layers_dir)) == 1
    layer_blobs = [n for n in os.listdir(store.blobs)
                   if (store.blobs / n).stat().st_size > 100_000]
    assert len(layer_blobs) == 1
    df = run(["system", "df"]).stdout.splitlines()
    assert df[1].split()[:3] == ["Images", "3", "0"]


def test_tag_rm_and_prune_follow_docker(store: ImageStore, busybox, no_leaks: Path) -> None:
    assert run(["image", "tag", "busybox", "me/app:v1"]).returncode == 0
    r = run(["image", "rm", busybox.short_id])
    assert r.returncode != 0 and "referenced in multiple repositories" in r.stderr
    r = run(["image", "rm", "me/app:v1"])
    assert r.stdout.strip() == "Untagged: me/app:v1"
    # a container uses it: rm refuses without -f
    cdir = no_leaks / "containers" / ("c" * 64)
    cdir.mkdir(parents=True)
    (cdir / "state.json").write_text(json.dumps({"Image": busybox.id}))
    r = run(["image", "rm", "busybox"])
    assert r.returncode != 0 and "a container is using" in r.stderr
    assert run(["image", "prune", "-a", "-f"]).stdout.strip().endswith("0B")
    r = run(["image", "rm", "-f", "busybox"])
    assert r.returncode == 0 and f"Deleted: {busybox.id}" in r.stdout
    # ... but the layers the container mounts stay until no container uses them
    assert all(os.path.isdir(p) for p in busybox.lowerdirs())
    (cdir / "state.json").unlink()
    cdir.rmdir()
    r = run(["image", "prune", "-f"])
    assert r.returncode == 0
    assert not any(store.has_layer(c) for c in busybox.chain_ids)
    assert os.listdir(store.links) == ["EMPTY"]
    assert os.listdir(store.blobs) == [] and os.listdir(store.layers_dir) == []


def test_prune_removes_dangling_images_only(store: ImageStore, busybox_tar: Path) -> None:
    run(["image", "import", str(busybox_tar), "x:1", "-c", "CMD a"])
    run(["image", "import", str(busybox_tar), "x:1", "-c", "CMD b"])  # takes the name
    ids = run(["image", "ls", "-q", "--no-trunc"]).stdout.split()
    assert len(ids) == 2
    assert "<none>" in run(["image", "ls"]).stdout
    # the replaced image is version 1 of x:1: prune keeps it for rollback, and says so
    r = run(["image", "prune", "-f"])
    assert "Kept 1 untagged image that earlier versions of tags point at" in r.stdout
    assert len(run(["image", "ls", "-q"]).stdout.split()) == 2
    r = run(["image", "prune", "-f", "--old-versions"])
    assert r.stdout.startswith("Deleted Images:") and "deleted: sha256:" in r.stdout
    assert len(run(["image", "ls", "-q"]).stdout.split()) == 1
    assert store.resolve("x:1").config["Cmd"] == ["/bin/sh", "-c", "b"]


def test_user_mistakes_are_one_line_errors(store: ImageStore, tmp_path: Path) -> None:
    for args, words in [
        (["image", "inspect", "nope"], "No such image: nope"),
        (["image", "import", str(tmp_path / "missing.tar")], "cannot open"),
        (["image", "tag", "nope", "x"], "No such image"),
        (["image", "import", "/dev/null", "Bad:Name"], "invalid reference format"),
        (["image", "load", "-i", "/etc/hostname"], "not a tar archive"),
    ]:
        r = run(args)
        assert r.returncode != 0
        assert words in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_system_df_counts_images_containers_and_volumes(store: ImageStore, busybox,
                                                        no_leaks: Path) -> None:
    cdir = no_leaks / "containers" / ("d" * 64)
    (cdir / "upper").mkdir(parents=True)
    (cdir / "upper" / "f").write_bytes(b"x" * 50_000)
    (cdir / "state.json").write_text(json.dumps({
        "Id": "d" * 64, "Name": "/web", "Image": busybox.id, "State": {"Running": False},
        "GraphDriver": {"Data": {"UpperDir": str(cdir / "upper")}},
        "Mounts": [{"Type": "volume", "Name": "data"}]}))
    for v in ("data", "spare"):
        (no_leaks / "volumes" / v / "_data").mkdir(parents=True)
    (no_leaks / "volumes" / "spare" / "_data" / "f").write_bytes(b"y" * 10_000)
    r = run(["system", "df"])
    assert r.returncode == 0, r.stderr
    rows = {line.split("  ")[0]: line.split() for line in r.stdout.splitlines()[1:]}
    assert rows["Images"][1:3] == ["1", "1"] and rows["Images"][4].startswith("0B")
    assert rows["Containers"][1:3] == ["1", "0"]
    assert rows["Local Volumes"][2:4] == ["2", "1"]
    verbose = run(["system", "df", "-v"]).stdout
    assert "busybox" in verbose and "web" in verbose and "spare" in verbose


def test_an_image_is_found_by_every_name_docker_accepts(store: ImageStore, busybox) -> None:
    for ref in ["busybox", "busybox:latest", "docker.io/library/busybox",
                "index.docker.io/library/busybox:latest", busybox.id, busybox.short_id,
                busybox.id[7:12], f"busybox@{busybox.manifest_digest}"]:
        assert store.resolve(ref).id == busybox.id, ref
    r = run(["image", "inspect", "-f", "{{.Id}}", f"busybox@{busybox.manifest_digest}"])
    assert r.stdout.strip() == busybox.id

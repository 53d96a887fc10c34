"""``image save`` writes what docker/podman load (checked with skopeo, which reads both
formats through the library podman uses); ``image load`` reads it back."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from pctest.cli import PYCOMPOSE, run
from pctest.layers import docker_save, two_layer_image

from pycompose.engine.images import ImageStore


def _save_two(tmp_path: Path) -> Path:
    assert run(["image", "load", "-i", str(docker_save(tmp_path / "m.tar",
                                                         two_layer_image()))]).returncode == 0
    out = tmp_path / "saved.tar"
    r = run(["image", "save", "-o", str(out), "busybox", "test/multi:latest"])
    assert r.returncode == 0, r.stderr
    return out


def test_save_writes_docker_and_oci_layouts(store: ImageStore, busybox, tmp_path) -> None:
    out = _save_two(tmp_path)
    with tarfile.open(out) as t:
        names = set(t.getnames())
        manifest = json.load(t.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(t.extractfile("index.json"))  # type: ignore[arg-type]
    assert {"manifest.json", "index.json", "oci-layout"} <= names
    assert [m["RepoTags"] for m in manifest] == [["busybox:latest"], ["test/multi:latest"]]
    assert all(p in names for m in manifest for p in [m["Config"], *m["Layers"]])
    assert {m["annotations"]["io.containerd.image.name"] for m in index["manifests"]} == {
        "docker.io/library/busybox:latest", "docker.io/test/multi:latest"}


def test_save_then_load_into_another_store_keeps_ids_and_names(
        store: ImageStore, busybox, tmp_path: Path) -> None:
    out = _save_two(tmp_path)
    other = tmp_path / "other-root"
    env = {"PYCOMPOSE_ROOT": str(other)}
    gz = tmp_path / "saved.tar.gz"
    gz.write_bytes(gzip.compress(out.read_bytes(), 1))
    with open(gz, "rb") as f:  # compressed, from stdin
        r = subprocess.run([PYCOMPOSE, "image", "load"], stdin=f, capture_output=True,
                           text=True, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Loaded image: busybox:latest",
                                     "Loaded image: test/multi:latest"]
    theirs = ImageStore(other)
    assert theirs.resolve("busybox").id == busybox.id
    assert theirs.resolve("test/multi").id == store.resolve("test/multi").id
    # loading again stores nothing new
    before = sorted(p.name for p in theirs.layers_dir.iterdir())
    assert run(["image", "load", "-i", str(out)], env=env).returncode == 0
    assert sorted(p.name for p in theirs.layers_dir.iterdir()) == before


def test_save_to_a_pipe(store: ImageStore, busybox, tmp_path: Path) -> None:
    r = subprocess.run([PYCOMPOSE, "image", "save", "busybox"], capture_output=True)
    assert r.returncode == 0
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
        assert t.getmember("manifest.json").size > 0


#: skopeo as root keeps a blob-info cache in /var/lib/containers/cache (no flag moves
#: it): run in a mount namespace of its own with an empty /var/lib, nothing stays
SKOPEO = ["unshare", "-m", "sh", "-c", 'mount -t tmpfs pc-skopeo /var/lib && exec "$@"',
          "sh", "skopeo"]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_skopeo_reads_and_verifies_the_saved_archive(store: ImageStore, busybox,
                                                     tmp_path: Path, transport: str) -> None:
    out = tmp_path / "bb.tar"
    assert run(["image", "save", "-o", str(out), "busybox"]).returncode == 0
    src = f"{transport}:{out}"
    r = subprocess.run([*SKOPEO, "inspect", "--config", src], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rootfs"]["diff_ids"] == busybox.diff_ids
    # copying checks every blob against its digest
    r = subprocess.run([*SKOPEO, "copy", "-q", src, f"oci:{tmp_path / 'copy'}:x"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # and what skopeo writes (an OCI archive it made) loads back
    r = subprocess.run([*SKOPEO, "copy", "-q", src,
                        f"oci-archive:{tmp_path / 'sk.tar'}:quay.io/me/bb:1"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = run(["image", "load", "-i", str(tmp_path / "sk.tar")])
    assert r.returncode == 0 and r.stdout.strip() == "Loaded image: quay.io/me/bb:1", r.stderr


def test_an_oci_index_of_platforms_loads_this_machines_image(store: ImageStore,
                                                             tmp_path: Path) -> None:
    from pctest.layers import entry, make_tar, oci_config, sha256

    from pycompose.engine.images.changes import go_arch

    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        blobs[sha256(data)] = data
        return sha256(data)

    manifests = []
    for arch in ("s390x", go_arch()):
        layer = gzip.compress(make_tar([entry("arch", data=arch.encode())]))
        diff = sha256(gzip.decompress(layer))
        cfg = json.dumps({**oci_config([diff]), "architecture": arch}).encode()
        m = json.dumps({"schemaVersion": 2, "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg),
            "size": len(cfg)}, "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": put(layer), "size": len(layer)}]}).encode()
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": put(m), "size": len(m),
                          "platform": {"architecture": arch, "os": "linux"}})
    inner = json.dumps({"schemaVersion": 2, "manifests": manifests}).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(inner),
        "size": len(inner), "annotations": {"io.containerd.image.name":
                                            "docker.io/library/multi:1"}}]}
    archive = tmp_path / "oci.tar.zst"
    import zstandard

    archive.write_bytes(zstandard.ZstdCompressor().compress(make_tar([
        entry("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'),
        entry("index.json", data=json.dumps(index).encode()),
        *[entry("blobs/sha256/" + d[7:], data=b) for d, b in blobs.items()]])))
    r = run(["image", "load", "-i", str(archive)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Loaded image: multi:1"
    img = store.resolve("multi:1")
    assert img.oci_config["architecture"] == go_arch()
    assert img.layers[0].media_type.endswith("+gzip")
    root = Path(os.path.realpath(img.lowerdirs()[0]))
    assert (root / "arch").read_text() == go_arch()

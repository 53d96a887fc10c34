"""Bad input and faults: a wrong digest, a truncated blob, an image for another platform
only, bad credentials, a registry that drops the connection or disappears mid-pull, a
disk that fills, a name that is not a reference. Each is one clear line naming the
image (and the layer), exit status 1, nothing half-stored, and the next pull works."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from pctest import registry as R
from pctest.cli import PYCOMPOSE, run
from pctest.registry import RegistryServer, ok

from pycompose.engine.images import ImageStore


def _pushed(busybox: Path, registry: RegistryServer, name: str) -> str:
    """Push busybox as ``name``; the digest of its one layer."""
    full = f"{registry.host}/{name}"
    ok(["image", "tag", "busybox", full])
    ok(["image", "push", "-q", full])
    return ImageStore(busybox).resolve(full).layers[0].digest


def _nothing_stored(root: Path) -> None:
    images = root / "images"
    if not images.exists():
        return
    assert not list((images / "layers").iterdir()), "a layer stayed"
    assert [p.name for p in (images / "blobs/sha256").iterdir()] == [], "a blob stayed"
    assert [p.name for p in (images / "tmp").iterdir()] == [], "work files stayed"
    assert ImageStore(root).images() == []


def test_a_blob_whose_bytes_do_not_match_its_digest(busybox: Path, registry: RegistryServer,
                                                    tmp_path: Path) -> None:
    layer = _pushed(busybox, registry, "bad/digest:1")
    data = registry.blob_data(layer)
    good = data.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF  # one byte inside the busybox binary: a valid tar still
    data.write_bytes(bytes(bad))
    clean = tmp_path / "clean"
    env = {"PYCOMPOSE_ROOT": str(clean)}
    r = run(["image", "pull", f"{registry.host}/bad/digest:1"], env=env)
    assert r.returncode == 1
    err = r.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert f"layer {layer[7:19]} of {registry.host}/bad/digest:1" in err
    assert "mismatch" in err
    _nothing_stored(clean)
    data.write_bytes(good)
    ok(["image", "pull", f"{registry.host}/bad/digest:1"], env=env)


def test_a_truncated_blob(busybox: Path, registry: RegistryServer, tmp_path: Path) -> None:
    layer = _pushed(busybox, registry, "bad/short:1")
    data = registry.blob_data(layer)
    good = data.read_bytes()
    data.write_bytes(good[: len(good) // 3])
    env = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    r = run(["image", "pull", f"{registry.host}/bad/short:1"], env=env)
    assert r.returncode == 1
    assert f"layer {layer[7:19]} of {registry.host}/bad/short:1" in r.stderr
    assert "truncated" in r.stderr and f"of {len(good)} bytes" in r.stderr
    _nothing_stored(tmp_path / "clean")
    data.write_bytes(good)
    ok(["image", "pull", f"{registry.host}/bad/short:1"], env=env)


def test_an_index_for_another_platform_only(busybox_tar: Path, registry: RegistryServer,
                                            tmp_path: Path) -> None:
    raw = busybox_tar.read_bytes()
    layer = gzip.compress(raw, 1, mtime=0)
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    arm = R.image_for_platform(registry.host, "multi/bb", layer, diff_id, os_="linux",
                               arch="arm64", variant="v8")
    s390 = R.image_for_platform(registry.host, "multi/bb", layer, diff_id, os_="linux",
                                arch="s390x")
    R.put_manifest(registry.host, "multi/bb", "1", {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [arm, s390]})
    env = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    r = run(["image", "pull", f"{registry.host}/multi/bb:1"], env=env)
    assert r.returncode == 1
    assert ("no matching manifest for linux/amd64 in the manifest list entries "
            "(it has: linux/arm64, linux/s390x" in r.stderr), r.stderr
    _nothing_stored(tmp_path / "clean")
    out = ok(["image", "pull", "--platform", "linux/arm64", f"{registry.host}/multi/bb:1"],
             env=env)
    im = ImageStore(tmp_path / "clean").resolve(f"{registry.host}/multi/bb:1")
    assert im.oci_config["architecture"] == "arm64"
    assert im.manifest_digest == arm["digest"]
    # docker prints the index's digest: the one the tag names at the registry
    assert "Digest: sha256:" in out and arm["digest"] not in out

    # a single manifest for another platform: refused too, with the way out
    R.put_manifest(registry.host, "multi/bb", "armonly", json.loads(
        _manifest_bytes(registry.host, "multi/bb", arm["digest"])))
    r = run(["image", "pull", f"{registry.host}/multi/bb:armonly"],
            env={"PYCOMPOSE_ROOT": str(tmp_path / "clean2")})
    assert r.returncode == 1
    assert "the image is for linux/arm64, not linux/amd64 (pull it anyway with " \
        "--platform linux/arm64)" in r.stderr


def _manifest_bytes(host: str, repo: str, digest: str) -> bytes:
    import httpx

    return httpx.get(f"http://{host}/v2/{repo}/manifests/{digest}",
                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).content


def test_bad_credentials_are_one_clear_401(busybox: Path, basic_registry: RegistryServer,
                                          tmp_path: Path) -> None:
    cfg = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"auths": {basic_registry.host: {
        "auth": base64.b64encode(b"alice:wrong").decode()}}}))
    name = f"{basic_registry.host}/team/app:1"
    ok(["image", "tag", "busybox", name])
    r = run(["image", "push", name])
    assert r.returncode == 1
    assert r.stderr == (f"error: {basic_registry.host}: unauthorized: incorrect username or "
                        f"password (pycompose login {basic_registry.host})\n")
    r = run(["image", "pull", name], env={"PYCOMPOSE_ROOT": str(tmp_path / "clean")})
    assert r.returncode == 1 and "incorrect username or password" in r.stderr
    _nothing_stored(tmp_path / "clean")


def test_a_dropped_connection_resumes_with_range(busybox: Path, registry: RegistryServer,
                                                 tmp_path: Path) -> None:
    layer = _pushed(busybox, registry, "flaky/bb:1")
    size = registry.blob_data(layer).stat().st_size
    proxy = R.Proxy(registry.host, cut_after=size // 2)
    try:
        env = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
        r = run(["image", "pull", f"{proxy.host}/flaky/bb:1"], env=env)
        assert r.returncode == 0, r.stderr
        assert proxy.cuts == 1
        assert f"{layer[7:19]}: Retrying" in r.stdout
        ranges = [h for h in proxy.heads if f"/blobs/{layer}" in h and "\r\nrange: bytes=" in
                  h.lower()]
        assert len(ranges) == 1, proxy.heads
        start = int(ranges[0].lower().split("range: bytes=")[1].split("-")[0])
        assert 0 < start < size
        im = ImageStore(tmp_path / "clean").resolve(f"{proxy.host}/flaky/bb:1")
        assert im.layers[0].digest == layer
    finally:
        proxy.close()


@pytest.mark.slow
def test_a_registry_that_disappears_mid_pull(busybox: Path, registry: RegistryServer,
                                             tmp_path: Path) -> None:
    layer = _pushed(busybox, registry, "gone/bb:1")
    size = registry.blob_data(layer).stat().st_size
    proxy = R.Proxy(registry.host, rate=size // 4)  # about four seconds for the layer
    clean = tmp_path / "clean"
    env = {**os.environ, "PYCOMPOSE_ROOT": str(clean)}
    name = f"{proxy.host}/gone/bb:1"
    try:
        # killed for good: a clear error once the retries are spent, nothing stored
        p = subprocess.Popen([PYCOMPOSE, "image", "pull", name], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait(lambda: proxy.downstream_bytes > size // 8)
        registry.stop()
        proxy.drop_all()  # what was in flight dies with it
        out, err = p.communicate(timeout=60)
        assert p.returncode == 1, (out, err)
        assert f"layer {layer[7:19]} of {name}" in err and "the download failed" in err
        assert f"of {size})" in err and err.count("\n") == 1
        _nothing_stored(clean)

        # killed and back within the retries: the pull resumes and succeeds
        registry.start()
        mark = proxy.downstream_bytes
        p = subprocess.Popen([PYCOMPOSE, "image", "pull", name], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait(lambda: proxy.downstream_bytes > mark + size // 4)
        registry.stop()
        proxy.drop_all()
        time.sleep(0.5)
        registry.start()
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "Retrying" in out
        assert ImageStore(clean).resolve(name).layers[0].digest == layer
    finally:
        proxy.close()


def _wait(cond: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_disk_that_fills(busybox: Path, registry: RegistryServer, tmp_path: Path) -> None:
    layer = _pushed(busybox, registry, "big/bb:1")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "pctest-small", str(small)],
                   check=True)
    try:
        env = {"PYCOMPOSE_ROOT": str(small / "root")}
        r = run(["image", "pull", f"{registry.host}/big/bb:1"], env=env)
        assert r.returncode == 1
        assert f"layer {layer[7:19]} of {registry.host}/big/bb:1" in r.stderr
        assert "no space left on device" in r.stderr and r.stderr.count("\n") == 1
        _nothing_stored(small / "root")
        subprocess.run(["mount", "-o", "remount,size=32m", str(small)], check=True)
        ok(["image", "pull", f"{registry.host}/big/bb:1"], env=env)
    finally:
        subprocess.run(["umount", str(small)], check=False)


@pytest.mark.parametrize("ref", ["Busy/Box", "busybox::1", "busybox@sha256:12",
                                 "-flag", "a" * 300])
def test_a_name_that_is_not_a_reference(registry: RegistryServer, ref: str,
                                        no_leaks: Path) -> None:
    r = run(["image", "pull", "--", ref] if ref.startswith("-") else ["image", "pull", ref])
    assert r.returncode in (1, 2)
    if r.returncode == 1:
        assert r.stderr.startswith("error: invalid reference format") or \
            "invalid repository name" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1
    assert not (no_leaks / "images" / "layers").exists() or \
        not list((no_leaks / "images" / "layers").iterdir())

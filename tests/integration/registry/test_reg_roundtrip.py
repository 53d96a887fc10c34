"""Push and pull against a real registry, as a user does it: an image pushed from one
store pulls back identical into another and runs; version 2 of an image sends only
its new layer (the registry's own log shows it); a blob another repository of the
registry holds is mounted, not sent; big blobs go up in chunks."""

from __future__ import annotations

import json
from pathlib import Path

import trio
from pctest.cli import run
from pctest.registry import RegistryServer, ok

from pycompose.engine.images import ImageStore


def test_pushed_image_pulls_back_identical_into_a_clean_store_and_runs(
        containers: Path, busybox_tar: Path, registry: RegistryServer, tmp_path: Path) -> None:
    other = {"PYCOMPOSE_ROOT": str(tmp_path / "other-store")}
    name = f"{registry.host}/team/busybox:1.0"
    ok(["image", "import", str(busybox_tar), name, "-c", 'CMD ["sh"]'], env=other)
    out = ok(["image", "push", name], env=other)
    lines = out.splitlines()
    assert lines[0] == f"The push refers to repository [{registry.host}/team/busybox]"
    assert any(line.endswith(": Pushed") for line in lines)
    src = ImageStore(tmp_path / "other-store").resolve(name)
    assert f"1.0: digest: {src.manifest_digest} size: " in out
    assert lines[-1].startswith("1 of 1 layers sent (") and "0 already in the registry" in out

    out = ok(["image", "pull", name])
    assert out.splitlines()[-2:] == [f"Status: Downloaded newer image for {name}", name]
    got = ImageStore(containers).resolve(name)
    assert (got.manifest_digest, got.id) == (src.manifest_digest, src.id)
    assert got.layers[0].digest == src.layers[0].digest
    r = run(["container", "run", "--rm", name, "echo", "hello from the registry"])
    assert (r.returncode, r.stdout) == (0, "hello from the registry\n"), r.stderr

    # the second pull finds it up to date and fetches nothing
    before = len(registry.requests("GET", "/blobs/"))
    out = ok(["image", "pull", name])
    assert f"Status: Image is up to date for {name}" in out
    assert len(registry.requests("GET", "/blobs/")) == before


def test_push_of_version_2_sends_only_its_new_layer(
        busybox: Path, containers: Path, registry: RegistryServer) -> None:
    repo = f"{registry.host}/team/app"
    ok(["image", "tag", "busybox", f"{repo}:v1"])
    ok(["image", "push", f"{repo}:v1"])
    v1 = ImageStore(busybox).resolve(f"{repo}:v1")
    assert set(registry.uploaded()) == {v1.layers[0].digest, v1.id}

    r = run(["container", "run", "--name", "mkv2", f"{repo}:v1", "sh", "-c",
             "echo version two > /v2.txt"])
    assert r.returncode == 0, r.stderr
    ok(["container", "commit", "mkv2", f"{repo}:v2"])
    v2 = ImageStore(busybox).resolve(f"{repo}:v2")
    new_layer = v2.layers[-1]
    assert v2.layers[0].digest == v1.layers[0].digest and len(v2.layers) == 2

    mark = len(registry.uploaded())
    out = ok(["image", "push", f"{repo}:v2"])
    sent = registry.uploaded()[mark:]
    # the registry's log: only the new layer and the new config were uploaded
    assert sorted(sent) == sorted([new_layer.digest, v2.id])
    assert f"{v1.layers[0].digest[7:19]}: Layer already exists" in out
    assert f"{new_layer.digest[7:19]}: Pushed" in out
    size = (busybox / "images/blobs/sha256" / new_layer.digest[7:]).stat().st_size
    summary = out.splitlines()[-1]
    assert summary.startswith("1 of 2 layers sent (") and "1 already in the registry" in summary

    # the engine's result says the same in numbers: layer bytes sent == the new layer
    from pycompose.engine.registry import PushRequest, push_image

    ok(["container", "rm", "mkv2"])
    r2 = run(["container", "run", "--name", "mkv3", f"{repo}:v2", "sh", "-c", "echo 3 > /3"])
    assert r2.returncode == 0, r2.stderr
    ok(["container", "commit", "mkv3", f"{repo}:v3"])
    v3 = ImageStore(busybox).resolve(f"{repo}:v3")
    res = push_image(PushRequest(f"{repo}:v3"), root=busybox).images[0]
    v3_size = (busybox / "images/blobs/sha256" / v3.layers[-1].digest[7:]).stat().st_size
    assert (res.layers, res.layers_existing, res.layers_uploaded) == (3, 2, 1)
    assert res.bytes_sent == v3_size and size > 0
    assert res.digest == v3.manifest_digest


def test_a_blob_in_another_repository_is_mounted_not_sent(
        busybox: Path, registry: RegistryServer) -> None:
    a, b = f"{registry.host}/one/app:1", f"{registry.host}/two/app:1"
    ok(["image", "tag", "busybox", a])
    ok(["image", "push", a])
    ok(["image", "tag", "busybox", b])
    mark = len(registry.uploaded())
    out = ok(["image", "push", b])
    assert ": Mounted from one/app" in out
    assert registry.uploaded()[mark:] == []  # nothing uploaded, not even the config
    assert any("mount=" in u and "from=one%2Fapp" in u
               for u in registry.requests("POST", "/v2/two/app/blobs/uploads/"))
    assert "1 mounted from other repositories" in out.splitlines()[-1]


def test_a_large_blob_goes_up_in_chunks_and_comes_back(
        busybox: Path, registry: RegistryServer, tmp_path: Path) -> None:
    from pycompose.engine.registry import PullRequest, PushRequest, pull_image, push_image

    name = f"{registry.host}/chunks/busybox:1"
    ok(["image", "tag", "busybox", name])
    res = push_image(PushRequest(name, chunk_size=256 << 10), root=busybox).images[0]
    im = ImageStore(busybox).resolve(name)
    size = (busybox / "images/blobs/sha256" / im.layers[0].digest[7:]).stat().st_size
    assert res.bytes_sent == size
    patches = registry.requests("PATCH", "/v2/chunks/busybox/blobs/uploads/")
    assert len(patches) >= size // (256 << 10)
    clean = tmp_path / "clean"
    got = pull_image(PullRequest(name), root=clean).images[0]
    assert (got.manifest_digest, got.image_id) == (im.manifest_digest, im.id)


def test_pull_all_tags_and_by_digest(busybox: Path, registry: RegistryServer,
                                     tmp_path: Path) -> None:
    repo = f"{registry.host}/many/bb"
    for t in ("a", "b"):
        ok(["image", "tag", "busybox", f"{repo}:{t}"])
        ok(["image", "push", "-q", f"{repo}:{t}"])
    clean = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    out = ok(["image", "pull", "-a", repo], env=clean)
    assert f"{repo}:a" in out and f"{repo}:b" in out
    digest = ImageStore(busybox).resolve(f"{repo}:a").manifest_digest
    clean2 = {"PYCOMPOSE_ROOT": str(tmp_path / "clean2")}
    out = ok(["image", "pull", "-q", f"{repo}@{digest}"], env=clean2)
    assert out == f"{repo}@{digest}\n"
    ls = json.loads(ok(["image", "ls", "--format", "json"], env=clean2))
    assert (ls["Repository"], ls["Tag"], ls["Digest"]) == (repo, "<none>", digest)
    doc = json.loads(ok(["image", "inspect", f"{repo}@{digest}"], env=clean2))[0]
    assert doc["RepoTags"] == [] and doc["RepoDigests"] == [f"{repo}@{digest}"]


def test_two_pulls_at_once_fetch_each_shared_layer_once(
        busybox: Path, registry: RegistryServer, tmp_path: Path) -> None:
    from pycompose.engine.registry import PullRequest, pull_image_async

    a, b = f"{registry.host}/s/one:1", f"{registry.host}/s/two:1"
    for n in (a, b):
        ok(["image", "tag", "busybox", n])
        ok(["image", "push", "-q", n])
    layer = ImageStore(busybox).resolve(a).layers[0].digest
    clean = tmp_path / "clean"
    mark = len(registry.requests("GET", f"/blobs/{layer}"))

    async def both() -> None:
        async with trio.open_nursery() as n:
            n.start_soon(lambda: pull_image_async(PullRequest(a), root=clean))
            n.start_soon(lambda: pull_image_async(PullRequest(b), root=clean))

    trio.run(both)
    gets = registry.requests("GET", f"/blobs/{layer}")[mark:]
    assert len(gets) == 1, gets
    store = ImageStore(clean)
    assert store.resolve(a).id == store.resolve(b).id


def test_pull_on_a_terminal_draws_a_live_bar_per_layer(busybox: Path, registry: RegistryServer,
                                                       tmp_path: Path) -> None:
    import os
    import pty
    import subprocess

    from pctest.cli import PYCOMPOSE

    name = f"{registry.host}/tty/bb:1"
    ok(["image", "tag", "busybox", name])
    ok(["image", "push", "-q", name])
    master, slave = pty.openpty()
    env = {**os.environ, "PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    p = subprocess.Popen([PYCOMPOSE, "image", "pull", name], stdout=slave, stderr=slave,
                         env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.wait(timeout=60) == 0
    text = out.decode()
    layer = ImageStore(busybox).resolve(name).layers[0].digest[7:19]
    assert "\x1b[" in text  # drawn in place
    # fetched and checked; unpacked when first used (docker's word for that state)
    assert f"{layer}: Download complete" in text
    assert "Status: Downloaded newer image" in text


def test_docker_schema2_lists_and_zstd_layers_pull_and_run(
        busybox_tar: Path, containers: Path, registry: RegistryServer) -> None:
    import gzip
    import hashlib

    import zstandard
    from pctest import registry as R

    raw = busybox_tar.read_bytes()
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    amd = R.image_for_platform(registry.host, "fmt/docker", gzip.compress(raw, 1, mtime=0),
                               diff_id, os_="linux", arch="amd64", docker=True)
    arm = R.image_for_platform(registry.host, "fmt/docker", gzip.compress(raw, 1, mtime=0),
                               diff_id, os_="linux", arch="arm", variant="v7", docker=True)
    R.put_manifest(registry.host, "fmt/docker", "list", {
        "schemaVersion": 2, "mediaType": R.DOCKER_LIST, "manifests": [arm, amd]})
    name = f"{registry.host}/fmt/docker:list"
    ok(["image", "pull", name])
    im = ImageStore(containers).resolve(name)
    assert im.manifest_digest == amd["digest"]
    assert im.manifest["mediaType"] == R.DOCKER_V2
    r = run(["container", "run", "--rm", name, "echo", "schema2"])
    assert (r.returncode, r.stdout) == (0, "schema2\n"), r.stderr

    zst = zstandard.ZstdCompressor().compress(raw)
    desc = R.image_for_platform(registry.host, "fmt/zstd", zst, diff_id, os_="linux",
                                arch="amd64", labels={"compression": "zstd"},
                                layer_media="application/vnd.oci.image.layer.v1.tar+zstd")
    R.put_manifest(registry.host, "fmt/zstd", "1", {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [desc]})
    out = ok(["image", "pull", f"{registry.host}/fmt/zstd:1"])
    # the same uncompressed layer as the schema 2 image: only its blob is new
    assert "Download complete" in out
    z = ImageStore(containers).resolve(f"{registry.host}/fmt/zstd:1")
    assert z.layers[0].media_type.endswith("+zstd") and z.chain_ids == im.chain_ids
    r = run(["container", "run", "--rm", f"{registry.host}/fmt/zstd:1", "echo", "zstd"])
    assert (r.returncode, r.stdout) == (0, "zstd\n"), r.stderr


def test_layers_in_the_store_are_not_fetched_again(
        busybox: Path, containers: Path, registry: RegistryServer, tmp_path: Path) -> None:
    repo = f"{registry.host}/share/app"
    ok(["image", "tag", "busybox", f"{repo}:v1"])
    ok(["image", "push", "-q", f"{repo}:v1"])
    r = run(["container", "run", "--name", "mk", f"{repo}:v1", "sh", "-c", "echo 2 > /2"])
    assert r.returncode == 0, r.stderr
    ok(["container", "commit", "mk", f"{repo}:v2"])
    ok(["image", "push", "-q", f"{repo}:v2"])
    base = ImageStore(busybox).resolve(f"{repo}:v1").layers[0].digest
    clean = {"PYCOMPOSE_ROOT": str(tmp_path / "clean")}
    ok(["image", "pull", f"{repo}:v1"], env=clean)
    mark = len(registry.requests("GET", f"/blobs/{base}"))
    out = ok(["image", "pull", f"{repo}:v2"], env=clean)
    assert f"{base[7:19]}: Already exists" in out
    assert len(registry.requests("GET", f"/blobs/{base}")) == mark


def test_a_tls_registry_is_reached_over_https(busybox: Path, tmp_path: Path) -> None:
    import subprocess

    key, cert = tmp_path / "reg.key", tmp_path / "reg.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    reg = RegistryServer(tmp_path / "tls-registry").use_tls(cert, key).start()
    try:
        name = f"{reg.host}/tls/bb:1"
        ok(["image", "tag", "busybox", name])
        ok(["image", "push", "-q", name])  # https: a plain-http client would be refused
        ok(["image", "pull", "-q", name], env={"PYCOMPOSE_ROOT": str(tmp_path / "clean")})
        assert reg.requests("PUT", "/v2/tls/bb/manifests/1")
    finally:
        reg.stop()

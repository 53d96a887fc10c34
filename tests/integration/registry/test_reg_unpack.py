"""A pull stores blobs; the layers are unpacked when a container first needs them
(engine/images/unpacking.py). What a user must be able to count on: a pulled image
runs, however many containers start from it at once (each layer unpacked once, none
ever seen half made); two pulls at once, in two processes, fetch each blob once; a
pull or an unpack killed half way leaves nothing the next one trips on; and an image
whose layer fails the unpacker's checks is refused, by name, when first used."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from pctest import registry as R
from pctest.cli import PYCOMPOSE, run
from pctest.registry import RegistryServer, ok

from pycompose.engine.images import ImageStore
from pycompose.engine.images.unpacking import pending


def _push(busybox: Path, registry: RegistryServer, name: str) -> str:
    full = f"{registry.host}/{name}"
    ok(["image", "tag", "busybox", full])
    ok(["image", "push", "-q", full])
    return full


def _left_in_tmp(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "images" / "tmp").iterdir())


def test_a_pulled_image_unpacks_once_when_containers_start_from_it(
        busybox: Path, containers: Path, registry: RegistryServer, tmp_path: Path) -> None:
    name = _push(busybox, registry, "lazy/bb:1")
    ok(["image", "rm", name, "busybox"])  # the store forgets the image and its blobs
    assert not list((containers / "images" / "blobs" / "sha256").iterdir())
    out = ok(["image", "pull", name])
    assert "Download complete" in out and "Pull complete" not in out
    store = ImageStore(containers)
    im = store.resolve(name)
    assert pending(store, im.layers) == [(0, im.layers[0])]  # stored, not unpacked
    # three containers at once from the packed image: all run on one unpacked layer
    # (that it is unpacked once is test_img_unpacking's, by the unpackers' counts)
    procs = [subprocess.Popen([PYCOMPOSE, "container", "run", "--rm", name, "cat",
                               "/bin/busybox"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    assert len({o for o, _ in outs}) == 1 and len(outs[0][0]) > 100_000
    assert pending(store, im.layers) == []
    layer_dirs = list((containers / "images" / "layers").iterdir())
    assert im.chain_ids[0].partition(":")[2] in [p.name for p in layer_dirs]
    assert _left_in_tmp(containers) == []


def test_two_pulls_at_once_in_two_processes_fetch_each_blob_once(
        busybox: Path, containers: Path, registry: RegistryServer, tmp_path: Path) -> None:
    a = _push(busybox, registry, "two/one:1")
    b = _push(busybox, registry, "two/other:1")
    layer = ImageStore(busybox).resolve(a).layers[0].digest
    size = registry.blob_data(layer).stat().st_size
    proxy = R.Proxy(registry.host, rate=size * 2)  # about half a second a blob
    clean = tmp_path / "clean"
    env = {**os.environ, "PYCOMPOSE_ROOT": str(clean)}
    try:
        mark = len(registry.requests("GET", f"/blobs/{layer}"))
        procs = [subprocess.Popen([PYCOMPOSE, "image", "pull", name.replace(
                    registry.host, proxy.host)], env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True) for name in (a, b)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
    finally:
        proxy.close()
    assert len(registry.requests("GET", f"/blobs/{layer}")[mark:]) == 1
    assert sum("Already exists" in o for o, _ in outs) == 1  # the one that waited
    store = ImageStore(clean)
    ia, ib = store.resolve(a.replace(registry.host, proxy.host)), \
        store.resolve(b.replace(registry.host, proxy.host))
    assert ia.id == ib.id
    assert _left_in_tmp(clean) == []
    assert len(ia.lowerdirs()) == 1 and pending(store, ia.layers) == []


def test_a_killed_pull_leaves_nothing_the_next_trips_on(
        busybox: Path, registry: RegistryServer, tmp_path: Path) -> None:
    name = _push(busybox, registry, "killed/bb:1")
    layer = ImageStore(busybox).resolve(name).layers[0].digest
    size = registry.blob_data(layer).stat().st_size
    proxy = R.Proxy(registry.host, rate=size // 4)  # about four seconds for the layer
    clean = tmp_path / "clean"
    env = {**os.environ, "PYCOMPOSE_ROOT": str(clean)}
    slow = name.replace(registry.host, proxy.host)
    try:
        p = subprocess.Popen([PYCOMPOSE, "image", "pull", slow], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while proxy.downstream_bytes < size // 3:
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL)
        p.wait()
        # what it left: its half blob in its work folder (its lock now free), the lock
        # of the blob it was fetching; no image; in the store only whole, checked blobs
        # (the config, the manifest), which the next pull uses as they are
        assert ImageStore(clean).images() == []
        kept = list((clean / "images" / "blobs" / "sha256").iterdir())
        assert layer[7:] not in [p.name for p in kept]
        assert all(hashlib.sha256(p.read_bytes()).hexdigest() == p.name for p in kept)
        assert _left_in_tmp(clean)
    finally:
        proxy.close()
    mark = len(registry.requests("GET", "/blobs/"))
    out = ok(["image", "pull", name], env={"PYCOMPOSE_ROOT": str(clean)})
    assert f"Status: Downloaded newer image for {name}" in out
    fetched = registry.requests("GET", "/blobs/")[mark:]
    assert all(p.name not in " ".join(fetched) for p in kept)  # not fetched again
    assert _left_in_tmp(clean) == []
    im = ImageStore(clean).resolve(name)
    assert (im.layers[0].digest, len(im.lowerdirs())) == (layer, 1)
    assert _left_in_tmp(clean) == []


def test_a_killed_first_use_leaves_nothing_the_next_trips_on(
        busybox_tar: Path, registry: RegistryServer, tmp_path: Path) -> None:
    # a layer big enough to kill its unpack half way: busybox and 64 MB of noise
    raw = _tar_with(busybox_tar.read_bytes(), {"noise": os.urandom(64 << 20)})
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    desc = R.image_for_platform(registry.host, "big/bb", gzip.compress(raw, 1, mtime=0),
                                diff_id, os_="linux", arch="amd64")
    R.put_manifest(registry.host, "big/bb", "1", {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [desc]})
    name = f"{registry.host}/big/bb:1"
    clean = tmp_path / "clean"
    env = {**os.environ, "PYCOMPOSE_ROOT": str(clean)}
    ok(["image", "pull", "-q", name], env=env)
    store = ImageStore(clean)
    im = store.resolve(name)
    # inspect only names the layers: nothing is unpacked by looking
    ok(["image", "inspect", name], env=env)
    assert pending(store, im.layers) == [(0, im.layers[0])]
    # the first use (what a container's create asks: the layers' directories) is
    # killed while it unpacks
    use = ("import sys; from pycompose.engine.images import ImageStore; "
           "ImageStore(sys.argv[1]).resolve(sys.argv[2]).lowerdirs()")
    p = subprocess.Popen([sys.executable, "-c", use, str(clean), name], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not any((d / "layer").is_dir() for d in (clean / "images" / "tmp").iterdir()
                  if d.is_dir()):
        assert time.monotonic() < deadline and p.poll() is None, "the unpack never began"
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert pending(store, im.layers) == [(0, im.layers[0])]  # no half layer in layers/
    assert _left_in_tmp(clean)  # its work folder and locks, for the next writer to clear
    r = subprocess.run([sys.executable, "-c", use, str(clean), name], env=env)
    assert r.returncode == 0
    doc = json.loads(ok(["image", "inspect", name], env=env))[0]
    lower = doc["GraphDriver"]["Data"]["LowerDir"]
    assert (Path(lower) / "noise").stat().st_size == 64 << 20
    assert (Path(lower) / "bin" / "busybox").is_file()
    assert _left_in_tmp(clean) == []


def test_a_layer_the_unpacker_refuses_fails_its_first_run_by_name(
        busybox_tar: Path, containers: Path, registry: RegistryServer) -> None:
    raw = busybox_tar.read_bytes()
    lie = "sha256:" + hashlib.sha256(b"not this layer").hexdigest()
    layer = gzip.compress(raw, 1, mtime=0)
    desc = R.image_for_platform(registry.host, "bad/diff", layer, lie, os_="linux",
                                arch="amd64")
    R.put_manifest(registry.host, "bad/diff", "1", {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [desc]})
    name = f"{registry.host}/bad/diff:1"
    ok(["image", "pull", name])  # its blob is what the manifest says: stored
    r = run(["container", "run", "--rm", name, "true"])
    short = "sha256:" + hashlib.sha256(layer).hexdigest()
    assert r.returncode == 125, r.stderr
    assert f"layer {short[7:19]} of {name}: diff_id mismatch" in r.stderr
    assert "Traceback" not in r.stderr
    store = ImageStore(containers)
    assert pending(store, store.resolve(name).layers)  # nothing half made
    assert _left_in_tmp(containers) == []
    ok(["image", "rm", name])
    # an implicit pull unpacks before it returns, so it refuses the image then
    r = run(["container", "run", "--rm", name, "true"])
    assert r.returncode == 125 and "diff_id mismatch" in r.stderr
    assert store.images() == [] or name not in [t for i in store.images() for t in i.repo_tags]


def _tar_with(base: bytes, extra: dict[str, bytes]) -> bytes:
    """The tar ``base`` with ``extra`` files appended (before its end blocks)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(base)) as src, \
            tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
        for m in src.getmembers():
            out.addfile(m, src.extractfile(m) if m.isreg() else None)
        for n, data in extra.items():
            ti = tarfile.TarInfo(n)
            ti.size, ti.mode = len(data), 0o644
            out.addfile(ti, io.BytesIO(data))
    return buf.getvalue()

"""Hostile and broken archives: never a byte outside the store, always a clear error
naming the entry, never a half-registered image."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest
from pctest.cli import PYCOMPOSE, run
from pctest.layers import docker_save, entry, make_tar, oci_config, sha256

from pycompose.engine.images import ImageStore


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the store that attacks aim at; it must stay empty."""
    d = tmp_path / "outside"
    d.mkdir()
    return d


def _import(tmp_path: Path, data: bytes, name: str = "evil:1"):
    f = tmp_path / "in.tar"
    f.write_bytes(data)
    return run(["image", "import", str(f), name])


def _assert_nothing_registered(store: ImageStore) -> None:
    assert store.images() == []
    assert [n for n in os.listdir(store.tmp) if not n.endswith(".lock")] == []
    assert os.listdir(store.layers_dir) == []
    assert os.listdir(store.blobs) == []


def _layer_root(store: ImageStore, ref: str = "evil:1") -> Path:
    return Path(os.path.realpath(store.resolve(ref).lowerdirs()[0]))


def test_dotdot_names_are_refused_naming_the_entry(store, tmp_path, outside) -> None:
    rel = os.path.relpath(outside, "/")
    evil = "../" * 12 + rel + "/pwned"
    r = _import(tmp_path, make_tar([entry("ok", data=b"1"), entry(evil, data=b"x")]))
    assert r.returncode != 0
    assert evil in r.stderr and "outside the layer" in r.stderr
    assert "Traceback" not in r.stderr
    assert os.listdir(outside) == []
    _assert_nothing_registered(store)


def test_absolute_names_are_confined(store, tmp_path, outside) -> None:
    r = _import(tmp_path, make_tar([entry(str(outside / "pwned"), data=b"x")]))
    assert r.returncode == 0, r.stderr
    assert os.listdir(outside) == []
    root = _layer_root(store)
    assert (root / os.path.relpath(outside, "/") / "pwned").read_bytes() == b"x"


@pytest.mark.parametrize("target", ["ABS", "../../../../../../../../../../ABS"])
def test_writing_through_a_symlink_stays_in_the_layer(store, tmp_path, outside,
                                                      target: str) -> None:
    link = target.replace("ABS", str(outside).lstrip("/"))
    link = "/" + link if target == "ABS" else link
    r = _import(tmp_path, make_tar([entry("link", "symlink", link=link),
                                    entry("link/pwned", data=b"x")]))
    assert os.listdir(outside) == []
    if r.returncode == 0:  # confined: the file lands inside the layer
        root = _layer_root(store)
        assert (root / os.path.relpath(outside, "/") / "pwned").exists()
    else:
        assert "link/pwned" in r.stderr
        _assert_nothing_registered(store)


def test_a_symlinked_parent_directory_is_resolved_inside_the_layer(store, tmp_path) -> None:
    marker = f"pycompose-evil-{os.getpid()}"
    r = _import(tmp_path, make_tar([entry("up", "symlink", link="/"),
                                    entry(f"up/etc/{marker}", data=b"x")]))
    assert r.returncode == 0, r.stderr
    assert not Path("/etc", marker).exists()
    assert (_layer_root(store) / "etc" / marker).read_bytes() == b"x"


def test_a_later_file_replaces_a_symlink_never_writes_through_it(store, tmp_path,
                                                                 outside) -> None:
    victim = outside / "victim"
    victim.write_text("original")
    r = _import(tmp_path, make_tar([entry("f", "symlink", link=str(victim)),
                                    entry("f", data=b"overwritten")]))
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "original"
    assert (_layer_root(store) / "f").read_bytes() == b"overwritten"


@pytest.mark.parametrize("linkname", ["../../../../../../etc/passwd", "/etc/passwd",
                                      "s/passwd"])
def test_hard_links_out_of_the_layer_are_refused(store, tmp_path, linkname: str) -> None:
    before = os.stat("/etc/passwd").st_nlink
    r = _import(tmp_path, make_tar([entry("s", "symlink", link="/etc"),
                                    entry("h", "hardlink", link=linkname)]))
    assert r.returncode != 0
    assert "'h'" in r.stderr or linkname in r.stderr
    assert os.stat("/etc/passwd").st_nlink == before
    _assert_nothing_registered(store)


def test_overlay_xattrs_from_an_archive_are_dropped(store, tmp_path) -> None:
    r = _import(tmp_path, make_tar([
        entry("d", "dir", xattrs={"trusted.overlay.opaque": "y",
                                  "trusted.overlay.redirect": "/etc"}),
        entry("d/f", data=b"1")]))
    assert r.returncode == 0, r.stderr
    assert os.listxattr(_layer_root(store) / "d") == []


def _tarball(tmp_path: Path) -> bytes:
    return make_tar([entry("a", data=os.urandom(3000)), entry("b", data=os.urandom(3000))])


@pytest.mark.parametrize("damage", ["truncated", "truncated-gzip", "corrupt-gzip",
                                    "garbage", "empty"])
def test_broken_archives_are_clear_errors(store, tmp_path, damage: str) -> None:
    data = _tarball(tmp_path)
    gz = gzip.compress(data)
    broken = {"truncated": data[:2000], "truncated-gzip": gz[:len(gz) // 2],
              "corrupt-gzip": gz[:200] + bytes(b ^ 0x55 for b in gz[200:400]) + gz[400:],
              "garbage": os.urandom(5000), "empty": b""}[damage]
    r = _import(tmp_path, broken)
    assert r.returncode != 0
    assert r.stderr.startswith("error: tarball ")
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    _assert_nothing_registered(store)


def test_a_wrong_diff_id_is_refused_and_nothing_is_kept(store, tmp_path) -> None:
    layer = make_tar([entry("a", data=b"1")])
    wrong = sha256(b"something else")
    archive = docker_save(tmp_path / "bad.tar", [layer], diff_ids=[wrong])
    r = run(["image", "load", "-i", str(archive)])
    assert r.returncode != 0
    assert "diff_id mismatch" in r.stderr and wrong in r.stderr
    _assert_nothing_registered(store)


def test_a_blob_that_does_not_match_its_digest_is_refused(store, tmp_path) -> None:
    layer = make_tar([entry("a", data=b"1")])
    tampered = make_tar([entry("a", data=b"2")])
    cfg = json.dumps(oci_config([sha256(layer)])).encode()
    manifest = json.dumps({"schemaVersion": 2, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(cfg),
        "size": len(cfg)}, "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": sha256(layer), "size": len(layer)}]}).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": sha256(manifest), "size": len(manifest),
        "annotations": {"io.containerd.image.name": "docker.io/library/t:1"}}]}
    archive = tmp_path / "oci.tar"
    archive.write_bytes(make_tar([
        entry("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'),
        entry("index.json", data=json.dumps(index).encode()),
        entry("blobs/sha256/" + sha256(cfg)[7:], data=cfg),
        entry("blobs/sha256/" + sha256(manifest)[7:], data=manifest),
        entry("blobs/sha256/" + sha256(layer)[7:], data=tampered)]))
    r = run(["image", "load", "-i", str(archive)])
    assert r.returncode != 0 and "digest mismatch" in r.stderr, r.stderr
    _assert_nothing_registered(store)
    archive.write_bytes(make_tar([
        entry("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'),
        entry("index.json", data=json.dumps(index).encode()),
        entry("blobs/sha256/" + sha256(cfg)[7:], data=cfg),
        entry("blobs/sha256/" + sha256(manifest)[7:], data=manifest),
        entry("blobs/sha256/" + sha256(layer)[7:], data=layer)]))
    r = run(["image", "load", "-i", str(archive)])
    assert r.returncode == 0, r.stderr  # the same archive, untampered, loads
    assert r.stdout.strip() == "Loaded image: t:1"


def test_a_disk_that_fills_up_is_a_clear_error_and_leaves_nothing(tmp_path,
                                                                   busybox_tar) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "pycompose-test-full",
                    str(small)], check=True)
    try:
        r = run(["image", "import", str(busybox_tar), "busybox:latest"],
                env={"PYCOMPOSE_ROOT": str(small)})
        assert r.returncode != 0
        assert "no space left on device" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
        store = ImageStore(small)
        _assert_nothing_registered(store)
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.parametrize("how", ["file", "stdin-gzip"])
@pytest.mark.parametrize("cut", [0.3, 0.7, 0.97])
def test_a_truncated_image_archive_registers_nothing(store, tmp_path, how: str,
                                                    cut: float) -> None:
    from pctest.layers import two_layer_image

    whole = docker_save(tmp_path / "whole.tar", two_layer_image()).read_bytes()
    data = whole if how == "file" else gzip.compress(whole)
    part = tmp_path / "part"
    part.write_bytes(data[:int(len(data.rstrip(b"\0")) * cut)])  # cut into the content
    if how == "file":
        r = run(["image", "load", "-i", str(part)])
    else:
        with open(part, "rb") as f:
            p = subprocess.run([PYCOMPOSE, "image", "load"], stdin=f, capture_output=True,
                               text=True)
        r = p
    assert r.returncode != 0
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    assert "internal error" not in r.stderr
    _assert_nothing_registered(store)


def test_a_bad_second_layer_leaves_no_trace_of_the_first(store, tmp_path) -> None:
    good = make_tar([entry("a", data=b"1")])
    bad = make_tar([entry("b", data=b"2")])
    archive = docker_save(tmp_path / "half.tar", [good, bad],
                          diff_ids=[sha256(good), sha256(b"not it")])
    r = run(["image", "load", "-i", str(archive)])
    assert r.returncode != 0 and "layer 2/2" in r.stderr and "diff_id mismatch" in r.stderr
    _assert_nothing_registered(store)


def test_later_entries_replace_earlier_ones(store, tmp_path) -> None:
    """Odd but valid: a directory replaced by a symlink, a whiteout over a directory
    with content, many directories (past the unpacker's fd cache), a file replaced."""
    many = [entry(f"d{i}", "dir") for i in range(300)] + \
        [entry(f"d{i}/f", data=b"%d" % i) for i in range(300)]
    r = _import(tmp_path, make_tar([
        entry("a", "dir"), entry("a/b", "dir"), entry("a/b/c", data=b"c"),
        entry("target", "dir"), entry("a", "symlink", link="target"),
        entry("a/x", data=b"through the new symlink"),
        entry("w", "dir"), entry("w/inner", data=b"1"), entry(".wh.w"),
        entry("f", data=b"old"), entry("f", data=b"new"),
        *many]))
    assert r.returncode == 0, r.stderr
    root = _layer_root(store)
    assert os.readlink(root / "a") == "target"
    assert (root / "target/x").read_bytes() == b"through the new symlink"
    assert os.stat(root / "w", follow_symlinks=False).st_rdev == 0  # whiteout only
    assert (root / "f").read_bytes() == b"new"
    assert all((root / f"d{i}/f").read_bytes() == b"%d" % i for i in range(300))


def test_setuid_binaries_of_images_are_out_of_reach_of_host_users(store, tmp_path) -> None:
    r = _import(tmp_path, make_tar([entry("bin", "dir"),
                                    entry("bin/rootshell", data=b"x", mode=0o4755)]))
    assert r.returncode == 0, r.stderr
    assert os.stat(_layer_root(store) / "bin/rootshell").st_mode & 0o4000  # kept for
    # containers ...
    assert os.stat(store.images_dir).st_mode & 0o777 == 0o700  # ... unreachable on the host
    nobody = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             "ls", str(_layer_root(store) / "bin")], capture_output=True)
    assert nobody.returncode != 0


@pytest.mark.parametrize("name", [".wh...", "sub/.wh...", ".wh..", ".wh."])
def test_a_whiteout_naming_dot_or_dotdot_is_refused_before_anything_is_deleted(
        store, tmp_path, name: str) -> None:
    """``.wh.`` + ``..`` would name the layer's parent: clearing it deleted the staging
    folder's contents before the importer failed."""
    r = _import(tmp_path, make_tar([entry("keep", data=b"1"), entry("sub", "dir"),
                                    entry("sub/keep", data=b"2"), entry(name, data=b"")]))
    assert r.returncode != 0
    assert f"whiteout {name!r}" in r.stderr and "not a file name" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    _assert_nothing_registered(store)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("loop", ["self", "pair"])
def test_a_symlink_loop_in_an_image_archive_is_a_malformed_archive(
        store, tmp_path, loop: str, compress: bool) -> None:
    import tarfile

    layer = make_tar([entry("a", data=b"1")])
    saved = docker_save(tmp_path / "ok.tar", [layer])

    members = []
    with tarfile.open(saved) as t:
        for m in t.getmembers():
            if m.name != "manifest.json":
                f = t.extractfile(m)
                members.append((m, f.read() if f else None))
    if loop == "self":
        members.append(entry("manifest.json", "symlink", link="manifest.json"))
    else:
        members += [entry("manifest.json", "symlink", link="m2"),
                    entry("m2", "symlink", link="./manifest.json")]
    data = make_tar(members)
    if compress:
        data = gzip.compress(data)
    f = tmp_path / "loop.tar"
    f.write_bytes(data)
    r = run(["image", "load", "-i", str(f)])
    assert r.returncode != 0
    assert "malformed archive" in r.stderr and "manifest.json" in r.stderr, r.stderr
    assert "RecursionError" not in r.stderr and "internal error" not in r.stderr
    assert "Traceback" not in r.stderr

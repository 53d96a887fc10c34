"""A build writes no layer tar: each layer is its unpacked directory, and its blob is
packed from that directory when a save or a push needs it, byte for byte the tar
whose digest the image names; a directory changed since is refused, never sent."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest
from conftest import Builder, teardown_root
from pctest.cli import run

from pycompose.engine.images import ImageStore

DOCKERFILE = """\
FROM busybox
RUN rm /bin/true && mkdir -p /opt/d && echo one > /opt/d/a && ln /opt/d/a /opt/d/hard \\
    && ln -s a /opt/d/soft && chmod 0750 /opt/d
COPY data/ /opt/data/
RUN echo two > /opt/two
"""


def _built(builder: Builder) -> ImageStore:
    builder.write("data/x.txt", "x\n")
    builder.write("data/sub/y.bin", os.urandom(70_000))
    builder.dockerfile(DOCKERFILE)
    builder.ok("-t", "blobs:1")
    return ImageStore(builder.root)


def test_built_layers_have_no_tar_until_a_save_packs_it(builder: Builder,
                                                         tmp_path: Path) -> None:
    store = _built(builder)
    im = store.resolve("blobs:1")
    base = store.resolve("busybox").layers
    made = im.layers[len(base):]
    assert len(made) == 3
    for ly in made:  # stored once: the directory, no blob beside it
        assert not store.has_blob(ly.digest)
        assert store.has_layer_blob(ly)
    out = tmp_path / "blobs.tar"
    r = run(["image", "save", "-o", str(out), "blobs:1"])
    assert r.returncode == 0, r.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
    for ly in made:
        assert f"blobs/sha256/{ly.digest.split(':')[1]}" in names
        assert store.has_blob(ly.digest)  # kept once packed
    # the RUN's whiteout, the hard and soft links are in the tar the image names
    with tarfile.open(store.blob_path(made[0].digest)) as tar:
        members = {m.name: m for m in tar}
    assert "bin/.wh.true" in members
    assert members["opt/d/hard"].islnk() or members["opt/d/a"].islnk()
    assert members["opt/d/soft"].issym()
    # loaded into another store: the same image, that runs
    other = tmp_path / "other-root"
    env = {"PYCOMPOSE_ROOT": str(other)}
    try:
        r = run(["image", "load", "-i", str(out)], env=env)
        assert r.returncode == 0, r.stderr
        got = json.loads(run(["image", "inspect", "blobs:1"], env=env).stdout)[0]
        assert got["Id"] == im.id
        r = run(["container", "run", "--rm", "blobs:1", "cat", "/opt/d/soft", "/opt/two",
                 "/opt/data/x.txt"], env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "one\ntwo\nx\n"
    finally:
        with pytest.MonkeyPatch.context() as mp:  # its supervisor and bridge too
            mp.setenv("PYCOMPOSE_ROOT", str(other))
            teardown_root(other)


def test_a_layer_directory_changed_since_the_build_is_refused(builder: Builder,
                                                               tmp_path: Path) -> None:
    store = _built(builder)
    im = store.resolve("blobs:1")
    top = im.layers[-1]
    (store.layer_dir(top.chain_id) / "diff" / "opt" / "two").write_text("tampered\n")
    out = tmp_path / "blobs.tar"
    r = run(["image", "save", "-o", str(out), "blobs:1"])
    assert r.returncode != 0
    assert "no longer make its tar" in r.stderr and "--no-cache" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert not store.has_blob(top.digest)  # nothing stored under the layer's digest

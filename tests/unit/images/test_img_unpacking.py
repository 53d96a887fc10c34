"""Layers unpacked on first use (images/unpacking.py): an image whose blobs are stored
but whose layers are not unpacked yet (what a pull leaves) gets them when its lowerdirs
are asked for; each layer once, whoever asks at the same time; every check of the
unpacker still holds, and a failure leaves nothing half-made."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
from pathlib import Path

import pytest

from pycompose.engine.errors import EngineError
from pycompose.engine.images import Image, ImageStore, LayerRef
from pycompose.engine.images.layers import LayerError
from pycompose.engine.images.layout import chain_id
from pycompose.engine.images.unpacking import chain_lock, ensure_image_unpacked, pending


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _pulled(store: ImageStore, tars: list[bytes], name: str = "reg.test/app:1",
            diff_ids: list[str] | None = None) -> Image:
    """What a pull leaves: the layers' gzip blobs stored, the image registered, nothing
    unpacked."""
    diffs = diff_ids or [_sha(t) for t in tars]
    refs: list[LayerRef] = []
    parent: str | None = None
    with store.writing():
        for raw, diff in zip(tars, diffs, strict=True):
            gz = gzip.compress(raw, 1, mtime=0)
            digest = store.put_blob(gz)
            chain = chain_id(parent, diff)
            refs.append(LayerRef(digest, len(gz), "application/vnd.oci.image.layer.v1.tar+gzip",
                                 diff, chain))
            parent = chain
        cfg = {"architecture": "amd64", "os": "linux", "config": {},
               "rootfs": {"type": "layers", "diff_ids": diffs}}
        return store.add_image(cfg, refs, [name], unpacked_later=True)


def test_lowerdirs_unpack_a_pulled_images_layers_once(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    im = _pulled(store, [_tar({"a": b"one"}), _tar({"b": b"two", "a": b"three"})])
    assert len(pending(store, im.layers)) == 2
    assert not list(store.layers_dir.iterdir())
    assert im.size == sum(ly.size for ly in im.layers)  # the blobs', until unpacked
    lowers = im.lowerdirs()
    assert [Path(d).resolve().parent.name for d in lowers] == \
        [c.partition(":")[2] for c in reversed(im.chain_ids)]
    assert (Path(lowers[0]) / "a").read_bytes() == b"three"
    assert (Path(lowers[1]) / "a").read_bytes() == b"one"
    assert pending(store, im.layers) == []
    assert ensure_image_unpacked(store.resolve("reg.test/app:1")) == 0
    assert im.size == len(b"one") + len(b"two") + len(b"three")
    assert [p.name for p in store.tmp.iterdir()] == []


def test_a_layer_that_is_not_its_diff_id_is_refused_at_first_use(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    good = _tar({"ok": b"fine"})
    im = _pulled(store, [good, _tar({"x": b"evil"})],
                 diff_ids=[_sha(good), _sha(b"what the config says")])
    with pytest.raises(LayerError) as e:
        im.lowerdirs()
    short = im.layers[1].digest[7:19]
    assert f"layer {short} of reg.test/app:1: diff_id mismatch" in str(e.value)
    # the good layer is unpacked, the bad one is not, and no work is left over
    assert pending(store, im.layers) == [(1, im.layers[1])]
    assert [p.name for p in store.tmp.iterdir()] == []
    with pytest.raises(LayerError):  # and it says so again next time
        im.lowerdirs()


def test_a_hostile_layer_is_refused_at_first_use(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    im = _pulled(store, [_tar({"../escape": b"x"})])
    with pytest.raises(LayerError, match="points outside the layer"):
        im.lowerdirs()
    assert not (tmp_path / "images" / "escape").exists()
    assert pending(store, im.layers) == [(0, im.layers[0])]


def test_two_at_once_unpack_each_layer_once(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    _pulled(store, [_tar({f"f{i}": bytes([i]) * 100_000}) for i in range(4)])
    done: list[int] = []
    errors: list[BaseException] = []

    def user() -> None:
        try:
            done.append(ensure_image_unpacked(ImageStore(tmp_path).resolve("reg.test/app:1")))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=user) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(done) == 4
    assert len(list(store.layers_dir.iterdir())) == 4


def test_the_chain_lock_is_one_holder_at_a_time_and_leaves_no_file(tmp_path: Path) -> None:
    events: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait()
        with chain_lock(tmp_path, "sha256:" + "b" * 64):
            events.append("second")

    t = threading.Thread(target=second)
    t.start()
    with chain_lock(tmp_path, "sha256:" + "b" * 64):
        inside.set()
        t.join(0.1)
        events.append("first")
    t.join()
    assert events == ["first", "second"]
    assert list(tmp_path.iterdir()) == []


def test_an_image_whose_blob_is_gone_says_so(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    im = _pulled(store, [_tar({"a": b"1"})])
    store.blob_path(im.layers[0].digest).unlink()
    with pytest.raises(EngineError, match="is missing from the store"):
        im.lowerdirs()

"""A store left by a killed process is usable; concurrent processes don't corrupt it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pctest.cli import PYCOMPOSE, run
from pctest.engine import engine  # noqa: F401  (a fixture)

from pycompose.engine.images import ImageStore

#: A process that starts adding a layer whose data never finishes arriving.
STUCK = """
import sys
from pycompose.engine.images import ImageStore
store = ImageStore(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    head = f.read(300_000)
class Slow:
    pos = 0
    def read(self, n=-1):
        if self.pos < len(head):
            out = head[self.pos:self.pos + min(n, 65536)]
            self.pos += len(out)
            return out
        import time; time.sleep(3600)
store.add_layer(Slow(), None)
"""


def test_a_killed_import_leaves_nothing_that_breaks_the_next(store: ImageStore,
                                                            busybox_tar: Path) -> None:
    p = subprocess.Popen([sys.executable, "-c", STUCK, str(store.root), str(busybox_tar)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            work = [n for n in os.listdir(store.tmp)] if store.tmp.exists() else []
            if any((store.tmp / n / "layer" / "diff" / "bin").exists() for n in work):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the import never started unpacking")
        # while it lives, another writer leaves its work alone
        assert run(["image", "import", str(busybox_tar), "other"]).returncode == 0
        assert any(not n.endswith(".lock") for n in os.listdir(store.tmp))
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    # an interrupted atomic write, too
    (store.images_dir / ".index.json.abc123.tmp").write_text("{half")
    r = run(["image", "import", str(busybox_tar), "busybox"])
    assert r.returncode == 0, r.stderr
    assert os.listdir(store.tmp) == []
    assert not (store.images_dir / ".index.json.abc123.tmp").exists()
    assert sorted(t for im in store.images() for t in im.repo_tags) == [
        "docker.io/library/busybox:latest", "docker.io/library/other:latest"]
    assert len(os.listdir(store.layers_dir)) == 1


def test_concurrent_imports_all_land(store: ImageStore, busybox_tar: Path) -> None:
    procs = [subprocess.Popen([PYCOMPOSE, "image", "import", str(busybox_tar), f"c{i}",
                               "-c", f"ENV N={i % 2}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(6)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    tags = sorted(t for im in store.images() for t in im.repo_tags)
    assert tags == [f"docker.io/library/c{i}:latest" for i in range(6)]
    assert len(os.listdir(store.layers_dir)) == 1
    assert os.listdir(store.tmp) == []


@pytest.mark.usefixtures("engine")
def test_a_lost_link_is_repaired_and_a_lost_layer_is_named(store: ImageStore, busybox) -> None:
    link = Path(busybox.lowerdirs()[0])
    target = os.readlink(link)
    link.unlink()
    assert busybox.lowerdirs()[0] == str(link) and os.readlink(link) == target
    chain = busybox.chain_ids[0]
    layer = store.layer_dir(chain)
    away = store.root.parent / "moved-away"  # not in tmp/: recover() would take it
    layer.rename(away)
    # a lost unpacked layer whose blob is kept is unpacked again on first use
    r = run(["container", "run", "--rm", "busybox", "true"])
    assert r.returncode == 0, r.stderr
    assert store.has_layer(chain)
    # with its blob gone too, the layer is named
    import shutil
    shutil.rmtree(layer)
    blob = store.blob_path(busybox.layers[0].digest)
    blob_away = store.root.parent / "blob-away"
    blob.rename(blob_away)
    try:
        r = run(["container", "run", "--rm", "busybox", "true"])
        assert r.returncode != 0 and "is missing from the" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    finally:
        blob_away.rename(blob)
        away.rename(layer)

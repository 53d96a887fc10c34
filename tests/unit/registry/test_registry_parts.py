"""The small parts: the trio-to-thread pipe a layer streams through, the crash-safe
version log, and the progress view (live bars on a terminal, plain lines otherwise)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import trio

from pycompose.cli.progress import ProgressView
from pycompose.engine.images import versions
from pycompose.engine.images.store import ImageStore
from pycompose.engine.registry.pipe import Pipe, ReaderGone, WriterFailed
from pycompose.engine.registry.types import ImageMessage, LayerProgress


async def test_pipe_carries_bytes_to_a_thread_with_backpressure() -> None:
    pipe = Pipe(limit=1000)
    data = os.urandom(50_000)

    def reader() -> bytes:
        out = bytearray()
        while chunk := pipe.read(777):
            out += chunk
        return bytes(out)

    async with trio.open_nursery() as n:
        got: list[bytes] = []

        async def consume() -> None:
            got.append(await trio.to_thread.run_sync(reader))

        n.start_soon(consume)
        for i in range(0, len(data), 300):
            await pipe.write(data[i:i + 300])
        pipe.close()
    assert got == [data] and pipe.consumed == len(data)


async def test_pipe_failures_reach_the_other_side() -> None:
    pipe = Pipe(limit=10)
    await pipe.write(b"abc")
    pipe.fail()
    assert pipe.read(2) == b"ab"  # what was written before still arrives
    assert pipe.read(5) == b"c"
    with pytest.raises(WriterFailed):
        pipe.read(1)
    pipe2 = Pipe(limit=10)
    pipe2.reader_done()
    with pytest.raises(ReaderGone):
        await pipe2.write(b"x")


async def test_pipe_read_all() -> None:
    pipe = Pipe()

    async def feed() -> None:
        for part in (b"a", b"bc", b"def"):
            await pipe.write(part)
            await trio.sleep(0.001)
        pipe.close()

    async with trio.open_nursery() as n:
        n.start_soon(feed)
        assert await trio.to_thread.run_sync(pipe.read) == b"abcdef"


def test_the_version_log_survives_a_torn_line(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    name = "docker.io/library/app:1"
    with versions.recording(action="pull", source="reg/app@sha256:x", command="pc pull"):
        versions.record_moves(store, [(name, "", "sha256:" + "1" * 64, "sha256:m1")])
    path = Path(versions._path(store, name))
    with open(path, "ab") as f:
        f.write(b'{"name": "docker.io/library/app:1", "numb')  # a crash mid-write
    versions.record_moves(store, [(name, "sha256:" + "1" * 64, "sha256:" + "2" * 64, "m2")])
    past = versions.history(store, "app:1")
    assert [(v.number, v.action, v.image_id[7:8]) for v in past] == [
        (1, "pull", "1"), (2, "tag", "2")]
    assert past[0].source == "reg/app@sha256:x" and past[0].command == "pc pull"
    assert past[1].previous == "sha256:" + "1" * 64
    lines = path.read_bytes().split(b"\n")
    assert json.loads(lines[-2])["number"] == 2  # the new record is whole, on its own line
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_tag_older_than_the_log_gets_an_existing_version(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    versions.record_moves(store, [("docker.io/library/x:1", "sha256:old", "sha256:new", "")])
    past = versions.history(store, "x:1")
    assert [(v.number, v.action, v.image_id) for v in past] == [
        (1, "existing", "sha256:old"), (2, "tag", "sha256:new")]
    assert versions.find_version(past, "sha256:new", None).number == 1


def test_progress_plain_lines_say_each_change_once() -> None:
    out = io.StringIO()
    view = ProgressView(out, live=False)
    view(ImageMessage("x", "1: Pulling from team/app"))
    for status, n in [("Waiting", 0), ("Downloading", 10), ("Downloading", 20),
                      ("Pull complete", 20)]:
        view(LayerProgress("x", "abc", status, n, 20))
    assert out.getvalue().splitlines() == [
        "1: Pulling from team/app", "abc: Waiting", "abc: Downloading", "abc: Pull complete"]


def test_progress_on_a_terminal_redraws_each_layer_in_place() -> None:
    out = io.StringIO()
    view = ProgressView(out, live=True)
    view(LayerProgress("x", "aaa", "Waiting"))
    view(LayerProgress("x", "bbb", "Waiting"))
    view(LayerProgress("x", "aaa", "Downloading", 5_000_000, 10_000_000))
    view.flush()
    text = out.getvalue()
    assert text.startswith("aaa: Waiting\nbbb: Waiting\n")
    assert "\x1b[2A\r\x1b[2Kaaa: Downloading [" in text  # two lines up: aaa's line
    assert "5MB/10MB" in text and "=" * 20 in text
    quiet = io.StringIO()
    ProgressView(quiet, quiet=True)(LayerProgress("x", "aaa", "Waiting"))
    assert quiet.getvalue() == ""


def test_runs_image_check_imports_no_http_client_nor_store(tmp_path: Path) -> None:
    """``container run`` asks maybe_present() before create: it must stay light."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "import pycompose.cli.container, pycompose.engine.api, pycompose.engine.client\n"
             "from pycompose.engine.api.registry import maybe_present\n"
             "maybe_present('busybox')\n"
             "heavy = ('httpx', 'trio', 'pycompose.engine.registry.types',\n"
             "         'pycompose.engine.images.store', 'pycompose.cli.registry')\n"
             "print(','.join(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYCOMPOSE_ROOT": str(tmp_path)})
    assert out.stdout.strip() == ""


def test_rollback_targets_by_number_or_id_even_an_id_of_digits() -> None:
    def v(n: int, image: str, action: str = "tag", back: int = 0) -> versions.Version:
        return versions.Version("docker.io/library/a:1", n, "t", "u", "h", "c", action,
                                image, rolled_back_to=back)

    ids = ["sha256:" + c * 64 for c in "abc"] + ["sha256:70017378" + "f" * 56]
    past = [v(1, ids[0]), v(2, ids[1]), v(3, ids[2]), v(4, ids[3]), v(5, ids[1], "rollback", 2)]
    assert versions.find_version(past, ids[1], None).number == 1  # before 2: one more step
    assert versions.find_version(past, ids[1], "3").number == 3
    assert versions.find_version(past, ids[1], "70017378").number == 4  # digits: an id
    assert versions.find_version(past, ids[1], "bbbb").number == 2  # not the rollback (5)
    with pytest.raises(versions.NotFound, match="has no version 99"):
        versions.find_version(past, ids[1], "99")
    with pytest.raises(versions.NotFound, match="no version of a:1 is image dddd"):
        versions.find_version(past, ids[1], "dddd")

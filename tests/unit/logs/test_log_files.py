"""Log files on disk: rotation bounded by max-size x max-file, compression of rotated
files, and reading back across them (tail, since, until, follow across a rotation)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from pycompose.engine.logs import config, files, reader
from pycompose.engine.logs.codec import Entry

T0 = 1_764_579_600 * 10**9


def write_lines(w: files.LogWriter, n: int, start: int = 0, stream: str = "stdout",
                width: int = 40) -> None:
    for i in range(start, start + n):
        w.write([f"line {i:06d} ".ljust(width, "x").encode() + b"\n"], stream,
                T0 + i * 10**6)


def numbers(entries: list[Entry]) -> list[int]:
    return [int(e.line.split()[1]) for e in entries]


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_rotation_keeps_max_file_files_of_about_max_size(tmp_path: Path, driver: str) -> None:
    cfg = config.parse(driver, {"max-size": "10k", "max-file": "3", "compress": "false"})
    path = config.log_file(tmp_path, "c" * 64, cfg)
    assert path is not None
    w = files.LogWriter(path, cfg)
    write_lines(w, 2000)
    w.close()
    kept = [Path(p) for p in files.rotated_files(path)]
    assert [p.name for p in kept] == [f"{path.name}.2", f"{path.name}.1", path.name]
    entry_max = 150  # one entry here
    assert all(p.stat().st_size <= 10_000 + entry_max for p in kept)
    assert all(p.stat().st_size >= 10_000 for p in kept[:-1])
    got = numbers(list(reader.LogReader(path, cfg).history()))
    assert got == list(range(got[0], 2000))  # oldest kept first, nothing in between lost
    assert len(got) >= 3 * 10_000 // 120


def test_compressed_rotation_has_dockers_gzip_header(tmp_path: Path) -> None:
    cfg = config.parse("json-file", {"max-size": "10k", "max-file": "4", "compress": "true"})
    path = tmp_path / "c-json.log"
    w = files.LogWriter(path, cfg)
    write_lines(w, 1500)
    w.close()
    kept = [Path(p) for p in files.rotated_files(path)]
    assert [p.name for p in kept] == ["c-json.log.3.gz", "c-json.log.2.gz", "c-json.log.1.gz",
                                      "c-json.log"]
    assert not list(tmp_path.glob("*.tmp"))
    with gzip.open(kept[0]) as f:
        first = json.loads(f.readline())
    assert first["stream"] == "stdout" and first["log"].startswith("line ")
    last_time = files.gzip_last_time(kept[-2])
    with gzip.open(kept[-2]) as f:
        final = json.loads(f.read().splitlines()[-1])
    assert last_time is not None and reader.codec.format_time(last_time) == final["time"]
    got = numbers(list(reader.LogReader(path, cfg).history()))
    assert got == list(range(got[0], 1500))


def test_one_file_is_started_again_when_full(tmp_path: Path) -> None:
    cfg = config.parse("json-file", {"max-size": "1k", "max-file": "1"})
    path = tmp_path / "c-json.log"
    w = files.LogWriter(path, cfg)
    write_lines(w, 100)
    w.close()
    assert files.rotated_files(path) == [str(path)]
    assert path.stat().st_size <= 1000 + 150


def test_tail_since_and_until_across_rotated_files(tmp_path: Path) -> None:
    cfg = config.parse("local", {"max-size": "4k", "max-file": "5"})
    path = tmp_path / "local-logs" / "container.log"
    w = files.LogWriter(path, cfg)
    write_lines(w, 300)
    w.close()
    assert len(files.rotated_files(path)) == 5
    r = reader.LogReader(path, cfg)
    allkept = numbers(list(r.history()))
    assert numbers(list(r.history(reader.Window(tail=7)))) == allkept[-7:]
    # --tail larger than the current file reaches into rotated (compressed) ones
    n_current = sum(1 for _ in reader.codec.iter_local(path.read_bytes()))
    want = n_current + 20
    assert numbers(list(r.history(reader.Window(tail=want)))) == allkept[-want:]
    assert numbers(list(r.history(reader.Window(tail=0)))) == []
    since = T0 + 250 * 10**6
    until = T0 + 260 * 10**6
    assert numbers(list(r.history(reader.Window(since=since, until=until)))) == \
        list(range(250, 261))
    assert numbers(list(r.history(reader.Window(since=since)))) == list(range(250, 300))


def test_follow_continues_across_a_rotation_without_loss_or_repeat(tmp_path: Path) -> None:
    cfg = config.parse("json-file", {"max-size": "2k", "max-file": "3", "compress": "true"})
    path = tmp_path / "c-json.log"
    w = files.LogWriter(path, cfg)
    write_lines(w, 10)
    r = reader.LogReader(path, cfg)
    seen = numbers(list(r.history()))
    assert seen == list(range(10))
    for start in range(10, 205, 15):  # each round rotates at most once
        write_lines(w, 15, start)
        seen += numbers(r.poll())
    w.close()
    seen += numbers(r.poll())
    r.close()
    assert seen == list(range(205))


def test_follow_reads_a_whole_file_rotated_between_two_looks(tmp_path: Path) -> None:
    cfg = config.parse("json-file", {"max-size": "1k", "max-file": "5"})
    path = tmp_path / "c-json.log"
    w = files.LogWriter(path, cfg)
    write_lines(w, 5)
    r = reader.LogReader(path, cfg)
    seen = numbers(list(r.history()))
    write_lines(w, 40, 5)  # four rotations before the follower looks again
    seen += numbers(r.poll())
    write_lines(w, 3, 45)
    seen += numbers(r.poll())
    w.close()
    r.close()
    assert seen == list(range(48))


def test_follow_ends_when_the_container_does(tmp_path: Path) -> None:
    cfg = config.parse(None)
    path = tmp_path / "c-json.log"
    w = files.LogWriter(path, cfg)
    write_lines(w, 3)
    r = reader.LogReader(path, cfg)
    assert numbers(list(r.history())) == [0, 1, 2]
    state = {"polls": 0}

    def alive() -> bool:  # the container writes its last line and exits
        state["polls"] += 1
        if state["polls"] == 2:
            write_lines(w, 1, 3)
        return state["polls"] < 3
    assert numbers(list(r.follow(alive, interval=0))) == [3]


def test_a_torn_last_entry_is_not_glued_to_the_next(tmp_path: Path) -> None:
    for driver in ("json-file", "local"):
        cfg = config.parse(driver)
        path = tmp_path / driver / "log"
        w = files.LogWriter(path, cfg)
        write_lines(w, 2)
        w.close()
        with open(path, "ab") as f:  # a writer killed mid-entry
            f.write(w.encode([b"torn line\n"], "stdout", T0)[:-7])
        w = files.LogWriter(path, cfg)
        write_lines(w, 1, 2)
        w.close()
        assert numbers(list(reader.LogReader(path, cfg).history())) == [0, 1, 2], driver


def test_a_full_disk_drops_output_and_says_so_once(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    w = files.LogWriter(tmp_path / "c-json.log", config.parse(None))
    os.close(w.fd)
    w.fd = os.open("/dev/full", os.O_WRONLY)
    write_lines(w, 3)
    w.close()
    assert w.dropped > 0
    assert capsys.readouterr().err.count("No space left on device") == 1


def test_the_none_driver_keeps_nothing_and_says_dockers_words(tmp_path: Path) -> None:
    rec = {"Id": "c" * 64, "HostConfig": {"LogConfig": {"Type": "none", "Config": {}}}}
    with pytest.raises(reader.NotReadable, match="does not support reading"):
        reader.LogReader.of(tmp_path, rec)
    assert config.log_file(tmp_path, "c" * 64, config.parse("none")) is None

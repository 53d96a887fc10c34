"""The log formats on disk (json-file and local, byte for byte as docker writes them),
the drivers' options as docker checks them, and --since/--until as the docker CLI
reads them."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.errors import InvalidArgument
from pycompose.engine.logs import codec, config, reader
from pycompose.engine.logs.codec import Entry, LineSplitter

T0 = 1_764_579_600_123_456_789  # 2025-12-01T09:00:00.123456789Z


def test_lines_split_at_newlines_and_16k() -> None:
    s = LineSplitter()
    out = s.feed(b"one\ntw") + s.feed(b"o\n") + s.feed(b"x" * (16 * 1024 + 3)) + s.flush()
    assert out == [b"one\n", b"two\n", b"x" * 16 * 1024, b"xxx"]
    assert s.feed(b"a\n" + b"y" * 40000 + b"\nb") == \
        [b"a\n", b"y" * 16384, b"y" * 16384, b"y" * 7232 + b"\n"]
    assert s.flush() == [b"b"]


def test_json_file_lines_are_dockers() -> None:
    data = codec.encode_json([b"hello\n", b"piece"], "stdout", T0)
    when = b'"time":"2025-12-01T09:00:00.123456789Z"}\n'
    assert data == (b'{"log":"hello\\n","stream":"stdout",' + when +
                    b'{"log":"piece","stream":"stdout",' + when)
    tricky = codec.encode_json(['tab\t"q" \\ é\n'.encode()], "stderr", T0)
    assert json.loads(tricky) == {"log": 'tab\t"q" \\ é\n', "stream": "stderr",
                                  "time": "2025-12-01T09:00:00.123456789Z"}
    e = codec.decode_json(tricky.rstrip(b"\n"))
    assert e == Entry(T0, "stderr", 'tab\t"q" \\ é\n'.encode(), False)
    assert codec.decode_json(b'{"torn') is None
    assert codec.decode_json(b'{"log":"x","stream":"stdout","time":"yesterday"}') is None


def test_local_records_are_framed_protobuf() -> None:
    data = codec.encode_local([b"hi\n"], "stdout", T0)
    size = struct.unpack(">I", data[:4])[0]
    assert len(data) == 8 + size and data[-4:] == data[:4]
    msg = data[4:-4]
    # field 1 "stdout", field 2 the time as a varint, field 3 the line without newline
    assert msg.startswith(b"\x0a\x06stdout\x10")
    assert msg.endswith(b"\x1a\x02hi")
    assert list(codec.iter_local(data)) == [(Entry(T0, "stdout", b"hi\n"), len(data))]
    piece = codec.encode_local([b"x" * 20], "stderr", T0)
    assert next(codec.iter_local(piece))[0] == Entry(T0, "stderr", b"x" * 20, True)
    # an incomplete record at the end (the writer is mid-way) is not read yet
    assert [e for e, _ in codec.iter_local(data + piece[:-3])] == [Entry(T0, "stdout", b"hi\n")]


def test_local_reads_dockers_partial_metadata() -> None:
    """docker marks the last piece of a long line with partial_log_metadata.last."""
    def record(line: bytes, last: bool) -> bytes:
        meta = b"\x08" + (b"\x01" if last else b"\x00") + b"\x12\x02id" + b"\x18\x01"
        msg = b"\x0a\x06stdout\x10\x01\x1a" + bytes([len(line)]) + line + b"\x20\x01" + \
            b"\x2a" + bytes([len(meta)]) + meta
        n = struct.pack(">I", len(msg))
        return n + msg + n
    entries = [e for e, _ in codec.iter_local(record(b"abc", False) + record(b"def", True))]
    assert [e.line for e in entries] == [b"abc", b"def\n"]


@given(st.lists(st.binary(max_size=200), max_size=8), st.sampled_from(["stdout", "stderr"]),
       st.integers(min_value=0, max_value=2**62))
def test_both_formats_round_trip(chunks: list[bytes], stream: str, t: int) -> None:
    s = LineSplitter()
    lines = [x for c in chunks for x in s.feed(c)] + s.flush()
    local = [e for e, _ in codec.iter_local(codec.encode_local(lines, stream, t))]
    assert [e.line for e in local] == lines
    assert all(e.time_ns == t and e.stream == stream for e in local)
    js = [codec.decode_json(x) for x in codec.encode_json(lines, stream, t).splitlines()]
    assert [e.line if e else None for e in js] == \
        [x.decode("utf-8", "replace").encode() for x in lines]


def test_times_are_rfc3339_with_nanoseconds() -> None:
    assert codec.format_time(T0) == "2025-12-01T09:00:00.123456789Z"
    assert codec.parse_time("2025-12-01T09:00:00.123456789Z") == T0
    assert codec.parse_time("2025-12-01T10:00:00.123456789+01:00") == T0
    assert codec.parse_time("2025-12-01T09:00:00Z") == T0 // 10**9 * 10**9


# -- drivers and options -----------------------------------------------------------------
def test_the_default_is_json_file_rotated_as_dockers_local() -> None:
    d = config.parse(None)
    assert (d.driver, d.max_size, d.max_file, d.compress) == ("json-file", 20_000_000, 5, False)
    assert d.host_config() == {"Type": "json-file",
                               "Config": {"max-size": "20m", "max-file": "5"}}
    own = config.parse("json-file", {"max-size": "1m"})  # daemon defaults merge in
    assert (own.max_size, own.max_file) == (1_000_000, 5)
    assert own.host_config()["Config"] == {"max-size": "1m", "max-file": "5"}
    local = config.parse("local", {})
    assert (local.max_size, local.max_file, local.compress) == (20 * 1024 * 1024, 5, True)
    assert local.host_config() == {"Type": "local", "Config": {}}
    assert not config.parse("none").readable


@pytest.mark.parametrize(("text", "size"), [
    ("100", 100), ("10k", 10_000), ("10kb", 10_000), ("20m", 20_000_000),
    ("20MB", 20_000_000), ("1.5g", 1_500_000_000), ("2 MiB", 2_000_000)])
def test_sizes_read_as_go_units(text: str, size: int) -> None:
    assert config.parse_size(text) == size


@pytest.mark.parametrize(("driver", "opts", "words"), [
    ("syslog", {}, "not supported"),
    ("json-file", {"max-buffer-size": "1m"}, "unknown log opt 'max-buffer-size' for json-file"),
    ("none", {"max-size": "1m"}, "unknown log opt 'max-size' for none"),
    ("json-file", {"max-size": "lots"}, "invalid size 'lots'"),
    ("json-file", {"max-size": "0"}, "positive"),
    ("json-file", {"max-file": "0"}, "less than 1"),
    ("json-file", {"max-file": "x"}, "max-file=x"),
    ("json-file", {"compress": "yes"}, "invalid boolean"),
    ("json-file", {"compress": "true", "max-file": "1"}, "compress"),
    ("local", {"compress": "true", "max-file": "1"}, "max file count is 1"),
])
def test_bad_options_are_refused_as_docker_refuses_them(
        driver: str, opts: dict[str, str], words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        config.parse(driver, opts)


def test_records_without_a_config_get_the_default() -> None:
    assert config.of_record({"HostConfig": {}}) == config.parse(None)
    rec = {"HostConfig": {"LogConfig": {"Type": "local", "Config": {"max-file": "3"}}}}
    assert config.of_record(rec).max_file == 3


# -- docker's --since / --until ----------------------------------------------------------
NOW = 1_764_579_600 * 10**9


@pytest.mark.parametrize(("text", "ns"), [
    ("10m", NOW - 600 * 10**9), ("1h30m", NOW - 5400 * 10**9), ("1.5h", NOW - 5400 * 10**9),
    ("90s", NOW - 90 * 10**9), ("2025-12-01T09:00:00Z", NOW),
    ("2025-12-01T10:00:00+01:00", NOW), ("2025-12-01T09:00:00.5Z", NOW + 5 * 10**8),
    ("1764579600", NOW), ("1764579600.25", NOW + 25 * 10**7)])
def test_since_and_until_values(text: str, ns: int) -> None:
    assert reader.parse_timestamp(text, NOW) == ns


def test_a_time_without_a_zone_is_local_and_nonsense_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert reader.parse_timestamp("2025-12-01T09:00:00", NOW) == NOW
        assert reader.parse_timestamp("2025-12-01", NOW) == NOW - 9 * 3600 * 10**9
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    for bad in ("yesterday", "2025-13-45T99", "10 minutes"):
        with pytest.raises(ValueError, match="time or duration"):
            reader.parse_timestamp(bad, NOW)

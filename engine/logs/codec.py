"""The two on-disk formats of container logs, byte for byte as docker writes them.

json-file: one JSON object per line, the text with its newline::

    {"log":"text\\n","stream":"stdout","time":"2026-11-29T14:00:00.123456789Z"}

local: docker's ``logdriver.LogEntry`` protobuf, framed by its length as a 4-byte
big-endian number before and after (so a file can be read backwards for ``--tail``);
the line without its newline, ``partial`` set on a piece of a longer line::

    message LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3;
                       bool partial = 4; PartialLogEntryMetadata partial_log_metadata = 5; }

A line longer than 16 KiB is cut into pieces, as docker does; a json-file piece simply
lacks its newline. Both encoders take every line of one read at once: the keeper stamps
them with the time of that read, and a plain line (printable ASCII without quotes or
backslashes, nearly every log line) is formatted without ``json.dumps``.

Standard library only (the keeper and the CLI both import it).
"""

from __future__ import annotations

import json
import re
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

MAX_LINE = 16 * 1024


class Entry:
    """One log message: ``line`` has its newline unless it is a ``partial`` piece.
    (A plain class: the keeper imports this module and dataclasses weighs 3 MiB.)"""

    __slots__ = ("line", "partial", "stream", "time_ns")

    def __init__(self, time_ns: int, stream: str, line: bytes, partial: bool = False) -> None:
        self.time_ns = time_ns
        self.stream = stream
        self.line = line
        self.partial = partial

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and (self.time_ns, self.stream, self.line,
                                             self.partial) == (other.time_ns, other.stream,
                                                               other.line, other.partial)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Entry({self.time_ns}, {self.stream!r}, {self.line!r}, {self.partial})"


# -- time ------------------------------------------------------------------------------
def format_time(ns: int) -> str:
    """RFC 3339 in UTC with nine fraction digits (docker's fixed-width form)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + \
        f".{ns % 10**9:09d}Z"


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                      r"(Z|[+-]\d\d:\d\d)$")


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (as docker writes it);
    ValueError if it is not one."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "")[:9].ljust(9, "0")
    import calendar

    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return secs * 10**9 + int(frac)


# -- splitting ---------------------------------------------------------------------------
class LineSplitter:
    """Bytes of one stream in, complete lines (and 16 KiB pieces) out."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines (each ending in a newline) or MAX_LINE pieces (without
        one) that ``data`` completes; the rest waits for more."""
        buf = self.buf + data if self.buf else data
        end = buf.rfind(b"\n") + 1
        if end:
            lines = buf[:end].splitlines(keepends=True)
            rest = buf[end:]
        else:
            lines, rest = [], buf
        if any(len(x) > MAX_LINE for x in lines):
            lines = [p for x in lines for p in _pieces(x)]
        while len(rest) >= MAX_LINE:
            lines.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self.buf = rest
        return lines

    def flush(self) -> list[bytes]:
        """What is left at the end of the stream (a last line without newline)."""
        rest, self.buf = self.buf, b""
        return [rest] if rest else []


def _pieces(line: bytes) -> list[bytes]:
    if len(line) <= MAX_LINE:
        return [line]
    return [line[i:i + MAX_LINE] for i in range(0, len(line), MAX_LINE)]


# -- json-file ---------------------------------------------------------------------------
# bytes that need escaping in a JSON string (or decoding as UTF-8): anything else is
# copied as it is
_NEEDS_JSON = re.compile(rb'[\x00-\x09\x0b-\x1f"\\\x7f-\xff]')


def encode_json(lines: list[bytes], stream: str, time_ns: int) -> bytes:
    """json-file lines for ``lines`` of ``stream``, all read at ``time_ns``."""
    tail = f'","stream":"{stream}","time":"{format_time(time_ns)}"}}\n'.encode()
    if not _NEEDS_JSON.search(b"".join(lines)):
        out = []
        for x in lines:
            if x.endswith(b"\n"):
                out.append(b'{"log":"' + x[:-1] + b"\\n" + tail)
            else:
                out.append(b'{"log":"' + x + tail)
        return b"".join(out)
    ts = format_time(time_ns)
    return b"".join(
        json.dumps({"log": x.decode("utf-8", "replace"), "stream": stream, "time": ts},
                   separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for x in lines)


def decode_json(line: bytes) -> Entry | None:
    """The entry of one json-file line; None if it is torn or not one of ours."""
    try:
        d = json.loads(line)
        text, stream, ts = d["log"], d["stream"], d["time"]
        data = text.encode("utf-8", "replace") if isinstance(text, str) else b""
        return Entry(parse_time(ts), str(stream), data, not data.endswith(b"\n"))
    except (ValueError, KeyError, TypeError):
        return None


# -- local (protobuf) --------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # int64 as protobuf writes it
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_local(lines: list[bytes], stream: str, time_ns: int) -> bytes:
    """local-driver records for ``lines`` of ``stream``, all read at ``time_ns``."""
    src = stream.encode()
    head = b"\x0a" + _varint(len(src)) + src + b"\x10" + _varint(time_ns)
    out = []
    pack = struct.Struct(">I").pack
    for x in lines:
        partial = not x.endswith(b"\n")
        body = x if partial else x[:-1]
        msg = head + b"\x1a" + _varint(len(body)) + body
        if partial:
            msg += b"\x20\x01"
        n = pack(len(msg))
        out.append(n + msg + n)
    return b"".join(out)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def decode_local_message(msg: bytes) -> Entry:
    """One LogEntry (without its frame); unknown fields are skipped."""
    source, t, line, partial, last = "", 0, b"", False, False
    i = 0
    while i < len(msg):
        key, i = _read_varint(msg, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _read_varint(msg, i)
            if num == 2:
                t = v - (1 << 64) if v >= 1 << 63 else v
            elif num == 4:
                partial = bool(v)
        elif wire == 2:
            n, i = _read_varint(msg, i)
            data, i = msg[i:i + n], i + n
            if num == 1:
                source = data.decode("utf-8", "replace")
            elif num == 3:
                line = data
            elif num == 5:
                last = _partial_last(data)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"bad wire type {wire}")
    if not partial or last:
        line += b"\n"
        partial = False
    return Entry(t, source, line, partial)


def _partial_last(meta: bytes) -> bool:
    i = 0
    while i < len(meta):
        key, i = _read_varint(meta, i)
        if key & 7 == 0:
            v, i = _read_varint(meta, i)
            if key >> 3 == 1:
                return bool(v)
        elif key & 7 == 2:
            n, i = _read_varint(meta, i)
            i += n
        else:
            return False
    return False


def iter_local(data: bytes) -> Iterator[tuple[Entry, int]]:
    """The entries of a local-driver file's bytes, with the offset after each; stops
    at a record that is not complete yet (the writer is mid-way)."""
    i = 0
    n = len(data)
    while i + 8 <= n:
        size = int.from_bytes(data[i:i + 4], "big")
        end = i + 4 + size + 4
        if end > n:
            return
        if data[end - 4:end] != data[i:i + 4]:
            raise ValueError(f"local log record at offset {i}: its header and footer "
                             "disagree (the file is damaged)")
        yield decode_local_message(data[i + 4:end - 4]), end
        i = end

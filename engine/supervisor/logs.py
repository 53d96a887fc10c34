"""Container logs in docker's json-file format: one JSON object per line,
``{"log": "text\\n", "stream": "stdout", "time": "2026-11-29T14:00:00.123456789Z"}``.

The writer splits at newlines (and at 16 KiB, as docker does, leaving the piece without
its newline); the reader serves ``logs --tail N -t -f``. Standard library only: the
CLI reads logs itself, without the supervisor.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..containers import now_iso

MAX_LINE = 16 * 1024


class LineSplitter:
    """Bytes of one stream in, complete log entries out."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out = []
        while True:
            nl = self.buf.find(b"\n", 0, MAX_LINE)
            if nl >= 0:
                piece, self.buf = self.buf[: nl + 1], self.buf[nl + 1:]
            elif len(self.buf) >= MAX_LINE:
                piece, self.buf = self.buf[:MAX_LINE], self.buf[MAX_LINE:]
            else:
                break
            out.append(self.entry(piece))
        return out

    def flush(self) -> list[bytes]:
        if not self.buf:
            return []
        piece, self.buf = self.buf, b""
        return [self.entry(piece)]

    def entry(self, piece: bytes) -> bytes:
        return json.dumps({"log": piece.decode("utf-8", "replace"), "stream": self.stream,
                           "time": now_iso()}).encode() + b"\n"


def parse_line(line: bytes) -> tuple[str, str, str] | None:
    """(time, stream, text) of one json-file line, None if it is torn or foreign."""
    try:
        d = json.loads(line)
        return str(d["time"]), str(d["stream"]), str(d["log"])
    except (ValueError, KeyError, TypeError):
        return None


def tail_lines(path: Path, n: int | None) -> tuple[list[bytes], int]:
    """The last ``n`` complete lines of ``path`` (all when None) and the offset after
    them, where ``follow`` continues."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], 0
    end = data.rfind(b"\n") + 1
    lines = data[:end].splitlines()
    if n is not None:
        lines = lines[-n:] if n > 0 else []
    return lines, end


def follow(path: Path, offset: int, alive: Callable[[], bool],
           interval: float = 0.1) -> Iterator[bytes]:
    """Lines appended to ``path`` after ``offset`` until ``alive()`` turns False and the
    file has no more (the container stopped and its last words were written)."""
    buf = b""
    fd = None
    try:
        while True:
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    os.lseek(fd, offset, os.SEEK_SET)
                except FileNotFoundError:
                    fd = None
            chunk = os.read(fd, 65536) if fd is not None else b""
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                yield from lines
                continue
            if not alive():
                # one last read: the writer may have flushed between our read and now
                if fd is not None:
                    buf += os.read(fd, 1 << 20)
                    *lines, buf = buf.split(b"\n")
                    yield from lines
                return
            time.sleep(interval)
    finally:
        if fd is not None:
            os.close(fd)


def render(line: bytes, timestamps: bool) -> tuple[str, bytes] | None:
    """(stream, bytes to print) of one line."""
    p = parse_line(line)
    if p is None:
        return None
    ts, stream, text = p
    data = text.encode()
    if timestamps:
        data = ts.encode() + b" " + data
    return stream, data

"""A container's log files on disk: the current one, its rotated predecessors, and the
writer that rotates them as docker's loggerutils does.

::

    <id>-json.log        the current file, appended to
    <id>-json.log.1      the one before (``.1.gz`` with compress=true)
    ...
    <id>-json.log.N-1    the oldest kept; max-file = N counts them all

The writer rotates *before* an entry once the current file has reached max-size, so a
file ends at most one entry past it, and the disk used is at most max-file x
(max-size + one entry), plus one uncompressed file while it is being compressed.
Compression runs in a thread (zlib releases the GIL) into ``.1.gz.tmp``, renamed when
complete; only then is ``.1`` unlinked, so a reader always finds one complete copy (it
prefers the plain file). The gzip header carries docker's ``{"LastTime": ...}`` extra
field, so that ``--since`` skips an old file without inflating it.

Standard library only: the CLI reads through :func:`rotated_files` too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import sys
import zlib

from . import codec
from .config import JSON_FILE, LOCAL, NONE, LogSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from pathlib import Path

#: paths are text here (or any os.PathLike in): the keeper does without pathlib (2 MiB)

GZIP_LEVEL = 1  # log text compresses well even at the fastest level


def rotated_files(path: str | Path) -> list[str]:
    """The files of a log, oldest first, ending with the current one (if it exists).
    A rotated file being compressed is listed once, as its complete plain copy."""
    folder, name = os.path.split(os.fspath(path))
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    pat = re.compile(re.escape(name) + r"\.(\d+)(\.gz)?$")
    found: dict[int, str] = {}
    for n in names:
        m = pat.match(n)
        if m:
            i = int(m.group(1))
            if i not in found or not m.group(2):  # the plain copy wins
                found[i] = n
    out = [os.path.join(folder, found[i]) for i in sorted(found, reverse=True)]
    if name in names:
        out.append(os.path.join(folder, name))
    return out


def gzip_last_time(path: str | Path) -> int | None:
    """The ``LastTime`` (ns) a compressed file's header carries, if any."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:2] != b"\x1f\x8b" or not head[3] & 4:
                return None
            xlen = struct.unpack("<H", head[10:12])[0]
            extra = json.loads(f.read(xlen))
        return codec.parse_time(str(extra["LastTime"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def compress_file(src: str, last_ns: int) -> None:
    """``src`` -> ``src.gz`` (docker's header extra), then unlink ``src``."""
    tmp = src + ".gz.tmp"
    extra = json.dumps({"LastTime": codec.format_time(last_ns)}).encode()
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        os.fchmod(fout.fileno(), 0o640)
        fout.write(b"\x1f\x8b\x08\x04" + struct.pack("<I", last_ns // 10**9) + b"\x00\x03"
                   + struct.pack("<H", len(extra)) + extra)
        co = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
        crc = size = 0
        while chunk := fin.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            fout.write(co.compress(chunk))
        fout.write(co.flush() + struct.pack("<II", crc, size & 0xFFFFFFFF))
    os.rename(tmp, src + ".gz")
    os.unlink(src)


class LogWriter:
    """Appends encoded entries to one container's log and rotates it. One per log
    file in the keeper; every start of the container appends to the same one."""

    def __init__(self, path: str | Path, cfg: LogSettings) -> None:
        self.path = os.fspath(path)
        self.cfg = cfg
        self.encode = codec.encode_local if cfg.driver == LOCAL else codec.encode_json
        self.last_ns = 0
        self.dropped = 0  # bytes lost to write errors (a full disk)
        self._compressing: threading.Thread | None = None
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = self._open()
        self.size = os.fstat(self.fd).st_size
        if self.size:
            self._repair_tail()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                       0o640)

    def _repair_tail(self) -> None:
        """A writer killed mid-write (or a full disk) can leave a torn last entry;
        the next entries must not be glued to it."""
        with open(self.path, "rb") as f:
            if self.cfg.driver != LOCAL:
                f.seek(self.size - 1)
                if f.read(1) != b"\n":
                    self._write(b"\n")
                return
            data = f.read()
        good = 0
        with contextlib.suppress(ValueError, IndexError):
            for _entry, end in codec.iter_local(data):
                good = end
        if good != len(data):
            os.ftruncate(self.fd, good)
            self.size = good

    def write(self, lines: list[bytes], stream: str, time_ns: int) -> None:
        """Entries for ``lines`` read from ``stream`` at ``time_ns``."""
        if not lines:
            return
        data = self.encode(lines, stream, time_ns)
        limit = self.cfg.max_size
        if limit is None:
            self._write(data)
        while limit is not None and data:
            if self.size >= limit:
                self.rotate()  # the file's last entry is from an earlier write
            cut = self._cut(data, limit - self.size)
            self._write(data[:cut])
            data = data[cut:]
            self.last_ns = time_ns
        self.last_ns = time_ns

    def _cut(self, data: bytes, room: int) -> int:
        """The end of the entry of ``data`` that reaches ``room`` bytes (all of it
        when it fits): rotation happens between entries."""
        if len(data) <= room:
            return len(data)
        if self.cfg.driver == LOCAL:
            i = 0
            while i < room:
                i += 8 + int.from_bytes(data[i:i + 4], "big")
            return i
        return data.index(b"\n", max(room - 1, 0)) + 1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                self.size += n
                view = view[n:]
        except OSError as e:
            if not self.dropped:
                print(f"log {self.path}: {e.strerror}; dropping output until it can be "
                      "written", file=sys.stderr)
            self.dropped += len(view)

    def rotate(self) -> None:
        os.close(self.fd)
        self._finish_compression()
        n, p = self.cfg.max_file, self.path
        try:
            if n < 2:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)
            else:
                ext = ".gz" if self.cfg.compress else ""
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{p}.{n - 1}{ext}")
                for i in range(n - 1, 1, -1):
                    with contextlib.suppress(FileNotFoundError):
                        os.rename(f"{p}.{i - 1}{ext}", f"{p}.{i}{ext}")
                os.rename(p, f"{p}.1")
        except OSError as e:
            print(f"log {p}: rotation failed ({e.strerror}); starting the file again",
                  file=sys.stderr)
        self.fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC |
                          os.O_CLOEXEC, 0o640)
        self.size = 0
        if self.cfg.compress and n >= 2:
            import threading

            first = f"{p}.1"
            self._compressing = threading.Thread(
                target=self._compress, args=(first, self.last_ns), daemon=True)
            self._compressing.start()

    @staticmethod
    def _compress(path: str, last_ns: int) -> None:
        try:
            compress_file(path, last_ns)
        except OSError as e:  # the plain file stays: readers still find it
            print(f"log {path}: compression failed: {e.strerror}", file=sys.stderr)

    def _finish_compression(self) -> None:
        """Before the next rotation: the last compression is done, and a plain
        ``.1`` that a killed keeper left uncompressed is compressed now (else the
        rename of the current file would overwrite it)."""
        if self._compressing is not None:
            self._compressing.join()
            self._compressing = None
        first = f"{self.path}.1"
        if self.cfg.compress and os.path.exists(first):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{first}.gz.tmp")
            self._compress(first, self.last_ns)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        if self._compressing is not None:
            self._compressing.join()
            self._compressing = None


class NullWriter:
    """The ``none`` driver: output is read (so the container never blocks) and
    dropped."""

    path: str | None = None

    def write(self, lines: list[bytes], stream: str, time_ns: int) -> None:
        pass

    def close(self) -> None:
        pass


def writer_for(path: str | Path | None, cfg: LogSettings) -> LogWriter | NullWriter:
    if cfg.driver == NONE or path is None:
        return NullWriter()
    assert cfg.driver in (JSON_FILE, LOCAL)
    return LogWriter(path, cfg)

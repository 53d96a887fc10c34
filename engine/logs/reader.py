"""Reading a container's log back: ``logs``, ``--tail``, ``--since``, ``--until``, ``-t``,
``-f``, across rotated and compressed files, as docker's ``logs`` does.

The CLI reads the files itself, without the supervisor: a ``logs`` never waits for one.
History is read oldest file first (``--tail N`` looks only at as many of the newest
files as hold N entries); then ``follow`` continues on the very file descriptor the
history ended in, so nothing written in between is lost or repeated. When the writer
rotates, the followed file is drained to its end and the new current file is opened
from its start. A follower slower than two rotations (it missed a whole file) loses
that file, as it would be gone from the disk anyway.

Standard library only.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import codec
from .codec import Entry
from .config import LOCAL, NOT_READABLE, LogSettings, log_file, of_record
from .files import gzip_last_time, rotated_files

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any


@dataclass(frozen=True)
class Window:
    """What to show: the last ``tail`` entries (None: all), those at or after
    ``since`` and not after ``until`` (ns since the epoch, None: no bound)."""

    tail: int | None = None
    since: int | None = None
    until: int | None = None

    def shows(self, e: Entry) -> bool:
        return (self.since is None or e.time_ns >= self.since) and \
            (self.until is None or e.time_ns <= self.until)


class NotReadable(Exception):
    """The container's driver keeps nothing (``none``); str() is docker's message."""

    def __init__(self) -> None:
        super().__init__(NOT_READABLE)


def _decode_all(data: bytes, local: bool) -> tuple[list[Entry], int]:
    """The complete entries of ``data`` and the offset after the last of them."""
    if local:
        out, end = [], 0
        try:
            for e, after in codec.iter_local(data):
                out.append(e)
                end = after
        except (ValueError, IndexError):
            pass  # a damaged record: what came before it still shows
        return out, end
    end = data.rfind(b"\n") + 1
    entries = [x for line in data[:end].splitlines() if (x := codec.decode_json(line))]
    return entries, end


def _count(data: bytes, local: bool) -> int:
    """How many entries ``data`` holds, cheaply (for ``--tail``)."""
    if not local:
        return data.count(b"\n")
    n = i = 0
    while i + 8 <= len(data):
        i += 8 + int.from_bytes(data[i:i + 4], "big")
        n += i <= len(data)
    return n


def _last_entries(data: bytes, n: int, local: bool) -> list[Entry]:
    """The last ``n`` entries of ``data`` (complete entries only), decoding no more."""
    if n <= 0:
        return []
    if local:
        return _decode_all(data, True)[0][-n:]
    end = data.rfind(b"\n") + 1
    start = end
    for _ in range(n):
        start = data.rfind(b"\n", 0, start - 1) + 1 if start > 0 else 0
        if start == 0:
            break
    return [e for line in data[start:end].splitlines() if (e := codec.decode_json(line))]


class LogReader:
    """One container's log, as the files on disk hold it now."""

    def __init__(self, path: Path, cfg: LogSettings) -> None:
        self.path = path
        self.local = cfg.driver == LOCAL
        self._fd: int | None = None  # the current file, where history stopped
        self._offset = 0
        self._buf = b""  # a part of an entry read by poll()

    @classmethod
    def of(cls, container_dir: Path, rec: Mapping[str, Any]) -> LogReader:
        """The reader of a record's log; NotReadable for the ``none`` driver."""
        cfg = of_record(rec)
        path = log_file(container_dir, str(rec["Id"]), cfg)
        if path is None:
            raise NotReadable()
        return cls(path, cfg)

    def _read(self, path: str) -> bytes:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()

    def history(self, window: Window = Window()) -> Iterator[Entry]:
        """The entries the files hold now, oldest first, within ``window``. Leaves
        the current file open at its end, for :meth:`poll` and :meth:`follow`."""
        self.close()
        self._buf = b""
        files = rotated_files(self.path)
        current = b""
        if files and files[-1] == str(self.path):
            with contextlib.suppress(FileNotFoundError):
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                chunks = []
                while chunk := os.read(self._fd, 1 << 20):
                    chunks.append(chunk)
                current = b"".join(chunks)
            files = files[:-1]
        current = current[:self._complete(current)]
        self._offset = len(current)
        if self._fd is not None:
            os.lseek(self._fd, self._offset, os.SEEK_SET)
        if window.since is not None:  # files that end before --since are skipped whole
            while files and (last := self._last_time(files[0])) is not None \
                    and last < window.since:
                files = files[1:]
        if window.tail is None:
            for f in files:  # one file in memory at a time
                data = self._read_quietly(f)
                yield from (e for e in _decode_all(data, self.local)[0] if window.shows(e))
            yield from (e for e in _decode_all(current, self.local)[0] if window.shows(e))
            return
        # --tail N: only as many of the newest files as hold N entries, and only the
        # last N entries of them are decoded
        blobs = [current]
        counts = [_count(current, self.local)]
        for f in reversed(files):
            if sum(counts) >= window.tail:
                break
            data = self._read_quietly(f)
            blobs.insert(0, data)
            counts.insert(0, _count(data, self.local))
        skip = max(sum(counts) - window.tail, 0)
        for data, n in zip(blobs, counts, strict=True):
            if skip >= n:
                skip -= n
                continue
            yield from (e for e in _last_entries(data, n - skip, self.local)
                        if window.shows(e))
            skip = 0

    def _complete(self, data: bytes) -> int:
        """The length of the complete entries at the start of ``data``."""
        return _decode_all(data, True)[1] if self.local else data.rfind(b"\n") + 1

    def _read_quietly(self, path: str) -> bytes:
        try:
            return self._read(path)
        except (OSError, EOFError) as e:  # rotated away meanwhile, or damaged
            if not isinstance(e, FileNotFoundError):
                import sys

                print(f"warning: cannot read log file {path}: {e}", file=sys.stderr)
            return b""

    def _last_time(self, path: str) -> int | None:
        """When the last entry of a rotated file was written, if that is cheap to
        know: a compressed file's header says so, a plain json-file's last line too."""
        if path.endswith(".gz"):
            return gzip_last_time(path)
        if self.local:
            return None
        try:
            with open(path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(size - 65536, 0))
                tail = f.read()
        except OSError:
            return None
        lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
        e = codec.decode_json(lines[-1]) if lines else None
        return e.time_ns if e else None

    def poll(self) -> list[Entry]:
        """The entries written since the last call (or since :meth:`history`), across
        a rotation; [] when there is nothing new yet. Never blocks."""
        out: list[Entry] = []
        while True:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    return out
                self._buf = b""
            chunk = os.read(self._fd, 1 << 20)
            if chunk:
                self._buf += chunk
                entries, end = _decode_all(self._buf, self.local)
                self._buf = self._buf[end:]
                out += entries
                if len(out) >= 10000:
                    return out
                continue
            if not self._rotated():
                return out
            # the writer moved on to a new file: what it wrote here before moving is
            # all there now
            while chunk := os.read(self._fd, 1 << 20):
                self._buf += chunk
            out += _decode_all(self._buf, self.local)[0]
            self._buf = b""
            out += self._skipped()

    def follow(self, alive: Callable[[], bool], window: Window = Window(),
               interval: float = 0.1) -> Iterator[Entry]:
        """Entries written after :meth:`history` until ``alive()`` turns False and
        everything has been read (or an entry passes ``--until``)."""
        last_data = 0.0
        try:
            while True:
                entries = self.poll()
                if entries:
                    last_data = time.monotonic()
                for e in entries:
                    if window.until is not None and e.time_ns > window.until:
                        return
                    if window.shows(e):
                        yield e
                if entries:
                    continue
                if not alive():
                    yield from (e for e in self.poll() if window.shows(e))
                    return
                if window.until is not None and time.time_ns() > window.until:
                    return
                # a writer that was busy a moment ago may rotate soon: look more often
                busy = time.monotonic() - last_data < 1
                time.sleep(min(interval, 0.02) if busy else interval)
        finally:
            self.close()

    def _skipped(self) -> list[Entry]:
        """After a rotation: the entries of files rotated in between (the writer
        filled more than one file since we last looked), then switch to the current
        file. The current file is opened first, so a rotation meanwhile is caught on
        the next poll instead of being missed."""
        assert self._fd is not None
        mine = os.fstat(self._fd)
        os.close(self._fd)
        self._fd = None
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            new = os.fstat(self._fd)
        except FileNotFoundError:
            new = None
        out: list[Entry] = []
        between = False
        for f in rotated_files(self.path):
            if f == str(self.path):
                continue
            try:
                st = os.stat(f)
            except FileNotFoundError:
                continue
            key = (st.st_dev, st.st_ino)
            if new is not None and key == (new.st_dev, new.st_ino):
                break
            if between:
                out += _decode_all(self._read_quietly(f), self.local)[0]
            elif key == (mine.st_dev, mine.st_ino):
                between = True  # the files after ours are the ones we have not seen
        return out

    def _rotated(self) -> bool:
        """Whether the current file is no longer the one we read."""
        assert self._fd is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        mine = os.fstat(self._fd)
        return (st.st_ino, st.st_dev) != (mine.st_ino, mine.st_dev)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- docker's --since / --until --------------------------------------------------------
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}


def _duration_ns(text: str) -> int | None:
    """Go's time.ParseDuration (``1h30m``, ``90s``, ``1.5h``); None if it is not one."""
    s = text
    sign = 1
    if s[:1] in "+-":
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if not s:
        return None
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        return None
    return int(sign * total)


def parse_timestamp(text: str, now_ns: int | None = None) -> int:
    """ns since the epoch of a ``--since``/``--until`` value, read as the docker CLI
    reads it: a duration before now (``10m``, ``1h30m``), an RFC 3339 date or time
    (local time when it has no zone), or Unix seconds (``1700000000.5``).
    ValueError naming the value otherwise."""
    now = time.time_ns() if now_ns is None else now_ns
    d = _duration_ns(text) if text != "0" else None
    if d is not None:
        return (now - d) // 10**9 * 10**9  # docker keeps whole seconds here
    local = not any(c in text for c in "zZ+") and text.count("-") != 3
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?)?"
                     r"(Z|z|[+-]\d\d:\d\d)?", text)
    if m:
        y, mo, dd = int(m.group(1)), int(m.group(2)), int(m.group(3))
        h, mi, s = (int(m.group(i) or 0) for i in (4, 5, 6))
        frac = int((m.group(7) or "")[:9].ljust(9, "0"))
        import datetime

        try:
            datetime.datetime(y, mo, dd, h, mi, s)
        except ValueError:
            raise ValueError(f"failed to parse value as time or duration: {text!r}") from None
        if local:
            secs = int(time.mktime((y, mo, dd, h, mi, s, 0, 0, -1)))
        else:
            import calendar

            secs = calendar.timegm((y, mo, dd, h, mi, s, 0, 0, 0))
            zone = m.group(8) or "Z"
            if zone not in ("Z", "z"):
                sign = 1 if zone[0] == "+" else -1
                secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        return secs * 10**9 + frac
    if "-" not in text:
        sec, dot, frac_s = text.partition(".")
        if sec.isdigit() and (not dot or frac_s.isdigit()):
            return int(sec) * 10**9 + int(frac_s[:9].ljust(9, "0") if dot else 0)
    raise ValueError(f"failed to parse value as time or duration: {text!r}")


def render(e: Entry, timestamps: bool) -> bytes:
    """The bytes ``logs`` prints for one entry (docker: the time, a space, the text)."""
    if timestamps:
        return codec.format_time(e.time_ns).encode() + b" " + e.line
    return e.line

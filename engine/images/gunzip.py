"""A gzip reader for layers: big reads, C-level checks, ISA-L's inflate when it is there.

``gzip.GzipFile`` reads its source 8 KiB at a time and checks the CRC in a Python loop:
for a 20 MB layer that is thousands of small reads through the blob-storing tee, and it
cost more than the inflate itself. This reader takes 1 MiB at a time from the source
and inflates with ``zlib.decompressobj(wbits=31)``, which checks each member's CRC32
and length in C; with the ``isal`` package installed (ISA-L's inflate, 2-3x faster than
zlib's) it uses that instead. What it accepts is what GzipFile accepts: concatenated
members, zero padding between or after them; anything else after a member, or a stream
that ends inside one, is an error.

Output is bounded per call (``decompress(data, max_length)``), so a small, hostile blob
that inflates to gigabytes is read in pieces like any other: never all in memory.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

CHUNK = 1 << 20
_MAGIC = b"\x1f\x8b"


def _inflater() -> Any:
    try:
        from isal import isal_zlib

        return isal_zlib
    except ImportError:
        return zlib


def errors() -> tuple[type[BaseException], ...]:
    """The exception types a corrupt stream raises here."""
    out: list[type[BaseException]] = [zlib.error, gzip.BadGzipFile, EOFError]
    mod = _inflater()
    if mod is not zlib:
        out.append(mod.error)
    return tuple(out)


class GzipReader:
    """``read(n)`` the uncompressed bytes of the gzip stream ``raw`` (read-only, forward)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._mod = _inflater()
        self._d: Any = None  # the member being inflated; None between members
        self._in = b""  # compressed bytes not yet given to the inflater
        self._out = b""  # inflated bytes not yet handed out
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(4 * CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        while not self._out and not self._done:
            self._step(max(n, CHUNK))
        out, self._out = self._out[:n], self._out[n:]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def _step(self, want: int) -> None:
        """Inflate some more (at most ``want`` bytes), reading the source as needed."""
        if self._d is not None and self._in:
            self._out = self._d.decompress(self._in, want)
            self._in = self._d.unconsumed_tail
            if self._d.eof:  # the member's end: its CRC and size were checked
                self._in = self._d.unused_data + self._in
                self._d = None
            return
        if self._d is None and self._in:
            rest = self._in.lstrip(b"\0")  # GzipFile allows zero padding
            if len(rest) < 2:
                more = self._raw.read(CHUNK)
                if not more:
                    if rest:
                        raise gzip.BadGzipFile("Not a gzipped file (trailing garbage)")
                    self._in = b""
                    self._done = True
                    return
                self._in = rest + more
                return
            if not rest.startswith(_MAGIC):
                raise gzip.BadGzipFile("Not a gzipped file (trailing garbage)")
            self._in = rest
            self._d = self._mod.decompressobj(31)
            return
        more = self._raw.read(CHUNK)
        if not more:
            if self._d is not None:
                raise EOFError("Compressed file ended before the end-of-stream marker "
                               "was reached")
            self._done = True
            return
        self._in = more

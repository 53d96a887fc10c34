"""Bytes from a trio task to a worker thread, and a lock per blob across processes.

A layer is unpacked while it downloads: the trio task that reads the HTTP body writes
each chunk into a :class:`Pipe`; the store's ``add_layer`` reads the pipe in a worker
thread as it would read a file (hashing, storing the blob, unpacking through the safe
unpacker). The pipe holds a bounded amount, so a slow disk slows the download rather
than filling memory. Either side can give up: a failed download makes the reader's
next ``read`` raise (the store then removes its half-made layer); a failed unpack makes
the writer's next ``write`` raise (the download stops).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import trio


class WriterFailed(Exception):
    """The download behind a pipe failed; its own error is the one to report."""


class ReaderGone(Exception):
    """The thread reading a pipe stopped (its unpack failed); stop downloading."""


class Pipe:
    """A bounded byte pipe: ``write`` from trio, ``read`` from one thread."""

    def __init__(self, limit: int = 16 << 20) -> None:
        self._cv = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._limit = limit
        self._eof = False
        self._failed = False
        self._reader_gone = False
        self._space: trio.Event | None = None
        self._token = trio.lowlevel.current_trio_token()
        self.consumed = 0

    # ------------------------------------------------------------ trio side

    async def write(self, data: bytes) -> None:
        while True:
            with self._cv:
                if self._reader_gone:
                    raise ReaderGone()
                if self._buffered < self._limit:
                    self._chunks.append(data)
                    self._buffered += len(data)
                    self._cv.notify()
                    return
                ev = self._space = trio.Event()
            await ev.wait()

    def close(self) -> None:
        """The whole body was written."""
        with self._cv:
            self._eof = True
            self._cv.notify()

    def fail(self) -> None:
        """The download gave up: the reader's next read raises WriterFailed."""
        with self._cv:
            self._failed = True
            self._cv.notify()

    # ------------------------------------------------------------ thread side

    def _wake_writer(self) -> None:
        ev = self._space
        if ev is not None and (self._buffered < self._limit or self._reader_gone):
            self._space = None
            self._token.run_sync_soon(ev.set)

    def read(self, n: int = -1) -> bytes:
        with self._cv:
            if n is None or n < 0:  # everything, to the end
                parts: list[bytes] = []
                while True:
                    parts += self._chunks
                    self._chunks.clear()
                    self._buffered = 0
                    self._wake_writer()
                    if self._failed:
                        raise WriterFailed()
                    if self._eof:
                        break
                    self._cv.wait()
                chunk = b"".join(parts)
                self.consumed += len(chunk)
                return chunk
            while not self._chunks:
                if self._failed:
                    raise WriterFailed()
                if self._eof:
                    return b""
                self._cv.wait()
            chunk = self._chunks.popleft()
            if len(chunk) < n and self._chunks:  # coalesce: fewer, bigger reads downstream
                parts = [chunk]
                got = len(chunk)
                while self._chunks and got + len(self._chunks[0]) <= n:
                    nxt = self._chunks.popleft()
                    parts.append(nxt)
                    got += len(nxt)
                chunk = b"".join(parts)
            if len(chunk) > n:
                self._chunks.appendleft(chunk[n:])
                chunk = chunk[:n]
            self._buffered -= len(chunk)
            self.consumed += len(chunk)
            self._wake_writer()
            return chunk

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def reader_done(self) -> None:
        """The reader stopped (finished or failed): writes from now on raise."""
        with self._cv:
            self._reader_gone = True
            self._chunks.clear()
            self._buffered = 0
            self._wake_writer()


@contextlib.asynccontextmanager
async def blob_lock(tmp: Path, digest: str) -> AsyncIterator[None]:
    """Hold ``tmp/fetch-<hex>.lock`` (an flock, so it dies with its process): two pulls,
    in this process or others, that need one blob fetch it once; the second finds it
    in the store when it gets the lock. The store's recover() removes lock files whose
    holder is gone, so a lock is re-taken if its file was unlinked under us."""
    hexd = digest.partition(":")[2]
    path = tmp / f"fetch-{hexd}.lock"
    tmp.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # another pull fetches this blob: wait for it in a thread (if we are
            # cancelled, the thread is left to finish; closing its fd releases the lock)
            try:
                await trio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX,
                                              abandon_on_cancel=True)
            except BaseException:
                os.close(fd)
                raise
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                os.unlink(path)
        os.close(fd)


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)

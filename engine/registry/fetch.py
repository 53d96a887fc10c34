"""A blob from a registry into a file, and a lock per blob across processes.

A pull writes each blob to a file of its work folder under the store's ``tmp/`` as the
HTTP body arrives, hashing it on the way; once the registry has sent all of it and its
sha256 is the digest asked for, the file is synced and renamed into ``blobs/``
(pull.py). Nothing is unpacked here: images/unpacking.py does that when a layer is
first needed.

The hashing and the write run on the trio thread, a chunk at a time (the client reads
up to 1 MiB a time, client.py): both release the GIL and cost less per chunk than
handing each to a worker thread would (measured with bench/registry_pull.py); only the
fsync, which waits on the disk, goes to a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import trio

from pycompose.util.fs import drop_lock_file, take_lock_file


class BlobFile:
    """One blob being written: ``write`` each chunk, then ``finish`` for its digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self._sha = hashlib.sha256()
        self.size = 0
        self.head = b""  # the first bytes (the compression's magic)

    def write(self, chunk: bytes) -> None:
        assert self._fd is not None
        self._sha.update(chunk)
        if len(self.head) < 8:
            self.head += chunk[:8 - len(self.head)]
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view):]
        self.size += len(chunk)

    async def finish(self) -> str:
        """Sync the file to disk and close it; the sha256 digest of what was written."""
        assert self._fd is not None
        await trio.to_thread.run_sync(os.fsync, self._fd)
        self.close()
        return "sha256:" + self._sha.hexdigest()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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
        if take_lock_file(path, fd):
            break
    try:
        yield
    finally:
        drop_lock_file(path, fd)

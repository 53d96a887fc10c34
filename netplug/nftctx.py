"""nftables rulesets applied in-process through libnftables (the library ``nft``
itself is made of), with the ``nft -f -`` program as the fallback.

Why: an ``nft`` process costs ~15-20 ms here, and most of that is not its work (the
commit itself takes well under a millisecond) but the close of its netlink socket
at exit, which waits for the kernel to finish the committed transaction (an RCU
grace period). A context kept open for the life of the process pays that once, at
its exit, instead of once per ruleset. The host's context is kept that way (one per
process: a child forked from a process that had one makes its own); a namespace's
context is opened inside the namespace (a netlink socket stays in the namespace it
was opened in) for one ruleset, and closed by a thread of its own, off the caller's
path (that close is the ~10-20 ms wait).
"""

from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import threading

from .errors import NetplugError
from .nsutil import in_netns, netns_path

log = logging.getLogger("pycompose.netplug")


class _Lib:
    """libnftables, or None when it is not installed (then ``nft`` is run)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lib: ctypes.CDLL | None = None
        self.loaded = False
        self.host: tuple[int, int] | None = None  # (pid, ctx) of this process's context

    def get(self) -> ctypes.CDLL | None:
        if self.loaded:
            return self.lib
        with self.lock:
            if not self.loaded:
                self.lib = _load()
                self.loaded = True
        return self.lib


def _load() -> ctypes.CDLL | None:
    if os.environ.get("PYCOMPOSE_NFT_LIB") == "0":
        return None
    try:  # by its soname first: find_library runs ``ldconfig -p`` (~5-150 ms)
        lib = ctypes.CDLL("libnftables.so.1", use_errno=True)
    except OSError:
        from ctypes.util import find_library  # (~15 ms of imports: only when needed)

        name = find_library("nftables")
        if name is None:
            return None
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            return None
    p, s, u = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32
    lib.nft_ctx_new.restype, lib.nft_ctx_new.argtypes = p, [u]
    lib.nft_ctx_free.restype, lib.nft_ctx_free.argtypes = None, [p]
    lib.nft_ctx_buffer_output.argtypes = [p]
    lib.nft_ctx_buffer_error.argtypes = [p]
    lib.nft_ctx_get_output_buffer.restype = s
    lib.nft_ctx_get_output_buffer.argtypes = [p]
    lib.nft_ctx_get_error_buffer.restype = s
    lib.nft_ctx_get_error_buffer.argtypes = [p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    lib.nft_run_cmd_from_buffer.argtypes = [p, s]
    return lib


_lib = _Lib()


def _new_ctx(lib: ctypes.CDLL) -> int:
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise NetplugError("libnftables could not make a context (out of memory?)")
    lib.nft_ctx_buffer_output(ctx)
    lib.nft_ctx_buffer_error(ctx)
    return int(ctx)


def _run(lib: ctypes.CDLL, ctx: int, text: str) -> str:
    rc = lib.nft_run_cmd_from_buffer(ctx, text.encode())
    if rc != 0:
        err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
        raise NetplugError(f"nftables refused the ruleset: {err.strip()}")
    return (lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")


def run(text: str, netns: str | None = None) -> str:
    """Apply ``text`` (``nft -f`` syntax) in one transaction, in ``netns`` (None: the
    host's); what nft printed (a ``list`` command's answer)."""
    lib = _lib.get()
    if lib is None:
        return _program(text, netns)
    if netns is not None:
        with in_netns(netns):
            ctx = _new_ctx(lib)
        try:
            return _run(lib, ctx, text)
        finally:
            threading.Thread(target=lib.nft_ctx_free, args=(ctx,), daemon=True,
                             name="nft-close").start()
    with _lib.lock:
        if _lib.host is None or _lib.host[0] != os.getpid():
            _lib.host = (os.getpid(), _new_ctx(lib))  # a parent's context is not ours
        return _run(lib, _lib.host[1], text)


def _program(text: str, netns: str | None) -> str:
    cmd = ["nft", "-f", "-"]
    if netns is not None:
        cmd = ["nsenter", f"--net={netns_path(netns)}", *cmd]
    try:
        r = subprocess.run(cmd, input=text, capture_output=True, text=True)
    except FileNotFoundError:
        raise NetplugError("nft is not installed (Debian package nftables; scripts/setup)")
    if r.returncode != 0:
        raise NetplugError(f"nftables refused the ruleset: {r.stderr.strip()}")
    return r.stdout

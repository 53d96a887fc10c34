"""The image of a pod's infra container: a program that holds the pod's namespaces and
waits for SIGTERM (podman builds a local pause image from catatonit; we make ours from
a few bytes, so that ``kube play`` needs no registry and no host binary).

The program, for x86-64 Linux, written out (it is position independent)::

    rt_sigprocmask(SIG_BLOCK, {SIGINT, SIGTERM}, NULL, 8)   # blocked signals queue up,
    loop: r = rt_sigtimedwait({SIGINT, SIGTERM}, NULL, NULL, 8)  # even for PID 1
          if r < 0: goto loop                              # EINTR
    exit_group(0)

As PID 1 of its PID namespace, a signal it has no handler for would be dropped; a
blocked one is queued, and sigtimedwait takes it: ``stop`` ends it at once.
"""

from __future__ import annotations

import io
import platform
import struct
import tarfile

from .errors import KubeError

IMAGE = "localhost/pycompose-pause:1"
ENTRYPOINT = ["/pause"]

_X86_64 = bytes.fromhex(
    "b80e00000031ff488d352f00000031d241ba080000000f05"   # rt_sigprocmask
    "b880000000488d3d1900000031f631d241ba080000000f05"   # rt_sigtimedwait
    "85c078e4"                                           # test eax; js loop
    "b8e700000031ff0f05"                                 # exit_group(0)
    "0240000000000000")                                  # the set: SIGINT | SIGTERM

_BASE = 0x400000
_HEADERS = 64 + 56


def elf(machine: str | None = None) -> bytes:
    """A static ELF executable of the pause program for ``machine`` (default: this one)."""
    machine = machine or platform.machine()
    if machine not in ("x86_64", "amd64"):
        raise KubeError(f"kube play has no pause program for {machine} yet (its pods need "
                        "one to hold their namespaces)")
    code = _X86_64
    size = _HEADERS + len(code)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, _BASE + _HEADERS, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)
    return header + program + code


def rootfs_tar(machine: str | None = None) -> bytes:
    """A rootfs tarball holding only ``/pause`` (for ``image import``), byte for byte
    the same every time."""
    data = elf(machine)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("pause")
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()

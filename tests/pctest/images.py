"""Test images made on this machine: no registry is reachable here.

``busybox_rootfs_tar`` is the everyday image: Debian's static busybox, one symlink per
applet, and a small /etc. It is a plain rootfs tarball, for ``pycompose image import``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
app:x:1000:1000:app user:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
app:x:1000:
nogroup:x:65534:
"""


def busybox_available() -> bool:
    return BUSYBOX.is_file() and shutil.which("busybox") is not None


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755, uid: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.uid = info.gid = uid
    info.mtime = 1700000000
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1700000000
    tar.addfile(info, io.BytesIO(data))


def _add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    info.mtime = 1700000000
    tar.addfile(info)


def make_busybox_rootfs_tar(dest: Path) -> Path:
    """Write a busybox rootfs tarball to ``dest`` (uncompressed) and return it."""
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home",
                  "var", "var/www", "proc", "sys", "dev", "run"]:
            _add_dir(tar, d, 0o700 if d == "root" else 0o755)
        _add_dir(tar, "tmp", 0o1777)
        _add_dir(tar, "home/app", 0o755, uid=1000)
        _add_file(tar, "bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for applet in applets:
            if applet != "busybox":
                _add_symlink(tar, f"bin/{applet}", "busybox")
        _add_file(tar, "etc/passwd", PASSWD.encode())
        _add_file(tar, "etc/group", GROUP.encode())
        _add_file(tar, "etc/os-release", b'NAME="pycompose test busybox"\nID=busybox\n')
        _add_file(tar, "var/www/index.html", b"hello from busybox\n")
    return dest


if __name__ == "__main__":  # scripts/demo: python3 tests/pctest/images.py OUT.tar
    import sys

    print(make_busybox_rootfs_tar(Path(sys.argv[1])))

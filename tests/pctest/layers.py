"""Hand-made layer tars and image archives for the image store's tests: ordinary ones,
multi-layer ones with whiteouts, and hostile ones."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MTIME = 1700000000


def entry(name: str, kind: str = "file", data: bytes = b"", *, mode: int | None = None,
          link: str = "", uid: int = 0, gid: int = 0,
          xattrs: dict[str, str] | None = None) -> tuple[tarfile.TarInfo, bytes | None]:
    """One tar member: kind is file, dir, symlink, hardlink, chr, fifo."""
    ti = tarfile.TarInfo(name)
    ti.mtime = MTIME
    ti.uid, ti.gid = uid, gid
    body: bytes | None = None
    if kind == "file":
        ti.size, body = len(data), data
        ti.mode = 0o644 if mode is None else mode
    elif kind == "dir":
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755 if mode is None else mode
    elif kind == "symlink":
        ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, link, 0o777
    elif kind == "hardlink":
        ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, link, 0o644
    elif kind == "chr":
        ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
        ti.mode = 0o666 if mode is None else mode
    elif kind == "fifo":
        ti.type, ti.mode = tarfile.FIFOTYPE, 0o600
    else:
        raise ValueError(kind)
    if xattrs:
        ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
    return ti, body


def make_tar(entries: Iterable[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for ti, body in entries:
            tar.addfile(ti, io.BytesIO(body) if body is not None else None)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_config(diff_ids: list[str], cmd: list[str] | None = None) -> dict[str, Any]:
    return {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": cmd or ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"}
                        for i in range(len(diff_ids))]}


def docker_save(dest: Path, layers: list[bytes], *, tag: str = "test/multi:latest",
                diff_ids: list[str] | None = None, config: dict[str, Any] | None = None
                ) -> Path:
    """A docker-save archive (the pre-25 layout: <id>/layer.tar, <id>.json) holding one
    image made of ``layers`` (tar bytes, maybe compressed)."""
    diffs = diff_ids or [sha256(_decompress(ly)) for ly in layers]
    cfg = json.dumps(config or oci_config(diffs)).encode()
    cfg_name = sha256(cfg)[7:] + ".json"
    members = []
    names = []
    for i, ly in enumerate(layers):
        name = f"{i:064x}/layer.tar"
        names.append(name)
        members.append(entry(name, data=ly))
    members.append(entry(cfg_name, data=cfg))
    manifest = [{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]
    members.append(entry("manifest.json", data=json.dumps(manifest).encode()))
    dest.write_bytes(make_tar(members))
    return dest


def _decompress(data: bytes) -> bytes:
    import gzip

    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def two_layer_image() -> list[bytes]:
    """Layer 1 has files and directories; layer 2 deletes a file (``.wh.``), makes a
    directory opaque (``.wh..wh..opq``) and adds a file."""
    base = make_tar([
        entry("etc", "dir"), entry("etc/keep", data=b"keep\n"), entry("etc/gone", data=b"x\n"),
        entry("data", "dir"), entry("data/old1", data=b"1"), entry("data/old2", data=b"2"),
        entry("bin", "dir"), entry("bin/hello", data=b"#!/bin/sh\necho hi\n", mode=0o755),
        entry("bin/hi", "hardlink", link="bin/hello"),
        entry("bin/sh-link", "symlink", link="/bin/hello"),
        entry("dev", "dir"), entry("dev/null", "chr"), entry("run", "dir"),
        entry("run/fifo", "fifo"),
        entry("home", "dir", uid=1000, gid=1000, mode=0o750),
        entry("bin/cap", data=b"x", xattrs={"user.note": "hello"}),
    ])
    upper = make_tar([
        entry("etc", "dir"), entry("etc/.wh.gone"),
        entry("data", "dir"), entry("data/.wh..wh..opq"), entry("data/new", data=b"new\n"),
    ])
    return [base, upper]

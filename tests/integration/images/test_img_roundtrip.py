"""pack (an upper dir -> a layer tar) and unpack (a tar -> a lowerdir) are inverses:
for any tree of files, directories, symlinks, hard links, fifos, whiteouts and opaque
directories, with owners, modes, mtimes and xattrs."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycompose.engine.images import fsops
from pycompose.engine.images.layers import unpack
from pycompose.engine.images.pack import pack

_name = st.text(alphabet="abcé z-_.0", min_size=1, max_size=6).filter(
    lambda n: n not in (".", "..") and not n.startswith(".wh."))
_kind = st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "whiteout", "opaque"])
_entry = st.tuples(st.lists(_name, min_size=1, max_size=3), _kind, st.binary(max_size=300),
                   st.sampled_from([0o644, 0o600, 0o755, 0o4755, 0o1777]),
                   st.sampled_from([0, 1000]), st.integers(1_000_000_000, 1_900_000_000))


def _build(root: Path, entries: list[tuple]) -> None:
    files: list[Path] = []
    for parts, kind, data, mode, uid, mtime in entries:
        path = root.joinpath(*parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(path):
                continue
            if kind in ("dir", "opaque"):
                path.mkdir()
                if kind == "opaque":
                    os.setxattr(path, fsops.OVERLAY_OPAQUE, b"y")
            elif kind == "file":
                path.write_bytes(data)
                os.setxattr(path, "user.k", data[:20] or b"v")
                files.append(path)
            elif kind == "symlink":
                os.symlink("../" + "/".join(parts), path)
            elif kind == "hardlink" and files:
                os.link(files[0], path)
                continue
            elif kind == "fifo":
                os.mkfifo(path)
            elif kind == "whiteout":
                os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
            else:
                continue
        except (NotADirectoryError, FileExistsError):
            continue
        os.chown(path, uid, uid, follow_symlinks=False)
        if not path.is_symlink():
            os.chmod(path, mode if kind not in ("whiteout",) else 0)
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def _snapshot(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath, name)
            st_ = p.lstat()
            rel = str(p.relative_to(root))
            kind = stat.S_IFMT(st_.st_mode)
            extra: object = None
            if stat.S_ISREG(st_.st_mode):
                extra = (p.read_bytes(), os.getxattr(p, "user.k"),
                         inodes.setdefault(st_.st_ino, rel) if st_.st_nlink > 1 else None)
            elif stat.S_ISLNK(st_.st_mode):
                extra = os.readlink(p)
            elif stat.S_ISDIR(st_.st_mode):
                extra = fsops.is_opaque(str(p))
            elif stat.S_ISCHR(st_.st_mode):
                extra = st_.st_rdev
            mtime = None if stat.S_ISDIR(st_.st_mode) and rel == "." else int(st_.st_mtime)
            out[rel] = (kind, stat.S_IMODE(st_.st_mode) if not stat.S_ISLNK(st_.st_mode)
                        else None, st_.st_uid, st_.st_gid, mtime, extra)
    return out


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(_entry, max_size=12))
def test_pack_then_unpack_gives_the_same_tree(entries: list[tuple]) -> None:
    base = Path(tempfile.mkdtemp(prefix="pc-img-rt-", dir="/tmp"))
    try:
        src, dst = base / "src", base / "dst"
        src.mkdir()
        dst.mkdir()
        _build(src, entries)
        buf = io.BytesIO()
        packed = pack(str(src), buf)
        buf.seek(0)
        result = unpack(buf, str(dst))
        assert result.diff_id == packed.diff_id
        assert _snapshot(dst) == _snapshot(src)
    finally:
        shutil.rmtree(base)

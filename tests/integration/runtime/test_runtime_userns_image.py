"""A container in a user namespace (root inside = host uid 100000) on a normal image
of the image store: layers owned by host root under a 0700 state root, used as they
are through idmapped mounts (engine/runtime/userns.py)."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from pycompose.engine.runtime import (
    ContainerSpec,
    IdMap,
    Mount,
    Process,
    Rootfs,
    destroy,
    exec_process,
    kill_all,
    run,
)

MAP = [IdMap(0, 100000, 65536)]
NAMESPACES: dict[str, str | None] = {"user": None, "pid": None, "mnt": None, "uts": None,
                                     "ipc": None, "net": None, "cgroup": None}
ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]


@pytest.fixture
def store(no_leaks: Path, busybox_tar: Path) -> object:
    from pycompose.engine.images import ImageStore
    from pycompose.engine.images.commit import import_tarball

    s = ImageStore(no_leaks)
    with open(busybox_tar, "rb") as f:
        import_tarball(s, f, source=str(busybox_tar), tag="busybox:latest")
    return s


def _spec(root: Path, lowers: list[str], *args: str, **kw: object) -> ContainerSpec:
    """A userns spec whose runtime dir and upper/work dirs all sit under the test's
    state root, which (in pytest's 0700 tmp dir) uid 100000 cannot reach."""
    cid = uuid.uuid4().hex[:12]
    cdir = root / "containers" / cid
    for d in ("upper", "work"):
        (cdir / d).mkdir(parents=True)
    return ContainerSpec(
        id=cid, root=str(cdir / "rt"),
        rootfs=Rootfs(lowers, str(cdir / "upper"), str(cdir / "work")),
        process=Process(args=list(args), env=ENV), hostname=cid,
        uid_map=MAP, gid_map=MAP, namespaces=dict(NAMESPACES), **kw)  # type: ignore[arg-type]


def _run(spec: ContainerSpec) -> tuple[int, str]:
    r, w = os.pipe()
    try:
        c = run(spec, stdout=w, stderr=w)
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    code = c.wait()
    c.close()
    destroy(spec)
    return code, out


def test_image_files_are_root_inside_and_writes_are_the_mapped_root(
        no_leaks: Path, store: object) -> None:
    img = store.resolve("busybox")  # type: ignore[attr-defined]
    lowers = [str(p) for p in img.lowerdirs()]
    layer = Path(os.path.realpath(lowers[0]))
    assert (no_leaks / "images").stat().st_mode & 0o777 == 0o700
    assert (layer / "etc/passwd").stat().st_uid == 0
    spec = _spec(no_leaks, lowers, "/bin/sh", "-c",
                 "id; stat -c '%u:%g %n' /bin/busybox /etc/passwd; cat /proc/self/uid_map;"
                 " mkdir /data && echo hi > /data/new; echo root:x:0:0::/root:/bin/sh >>"
                 " /etc/passwd; echo w=$?")
    code, out = _run(spec)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "uid=0(root) gid=0(root)"
    assert lines[1:3] == ["0:0 /bin/busybox", "0:0 /etc/passwd"]
    assert lines[3].split() == ["0", "100000", "65536"]
    assert "w=0" in out
    upper = Path(spec.rootfs.upperdir)  # type: ignore[union-attr]
    for p in (upper / "data", upper / "data/new", upper / "etc/passwd"):  # copy-up too
        st = p.stat()
        assert (st.st_uid, st.st_gid) == (100000, 100000), p
    # the image layer itself is untouched: still host root's, not copied or chowned
    assert (layer / "etc/passwd").stat().st_uid == 0
    assert "root:x:0:0::/root:/bin/sh" not in (layer / "etc/passwd").read_text()


def test_host_files_beyond_the_map_stay_closed(no_leaks: Path, store: object,
                                               tmp_path: Path) -> None:
    """A bind-mounted host dir of host root: nobody's inside, and DAC holds."""
    host = tmp_path / "hostdir"
    host.mkdir()
    host.chmod(0o755)  # as a host's dirs are, whatever the umask the suite runs with
    (host / "secret").write_text("s3cret\n")
    (host / "secret").chmod(0o600)
    img = store.resolve("busybox")  # type: ignore[attr-defined]
    spec = _spec(no_leaks, [str(p) for p in img.lowerdirs()], "/bin/sh", "-c",
                 "stat -c '%u %n' /h /h/secret; cat /h/secret; echo cat=$?;"
                 " touch /h/new; echo touch=$?",
                 mounts=[Mount("/h", "bind", str(host), ["rbind", "rw"])])
    code, out = _run(spec)
    assert code == 0, out
    assert "65534 /h\n65534 /h/secret\n" in out
    assert "s3cret" not in out
    assert "cat=1" in out and "touch=1" in out
    assert not (host / "new").exists()


def test_exec_joins_and_writes_as_the_mapped_root(no_leaks: Path, store: object) -> None:
    img = store.resolve("busybox")  # type: ignore[attr-defined]
    spec = _spec(no_leaks, [str(p) for p in img.lowerdirs()], "sleep", "30")
    c = run(spec)
    try:
        r, w = os.pipe()
        p = exec_process(spec, c.pid, Process(args=["/bin/sh", "-c",
                                                    "id -u; stat -c %u /bin/sh; touch /g"],
                                              env=ENV), stdout=w, stderr=w)
        os.close(w)
        with os.fdopen(r) as f:
            assert f.read() == "0\n0\n"
        assert p.wait() == 0
        assert (Path(spec.rootfs.upperdir) / "g").stat().st_uid == 100000  # type: ignore[union-attr]
    finally:
        kill_all(spec)
        c.wait()
        c.close()
        destroy(spec)


def test_opaque_dirs_and_whiteouts_of_upper_layers_hold(no_leaks: Path, store: object,
                                                        tmp_path: Path) -> None:
    """The overlay is mounted by host root, so it reads the store's
    ``trusted.overlay.opaque`` (a user-namespace mount could not)."""
    base = store.resolve("busybox")  # type: ignore[attr-defined]
    diff = tmp_path / "diff"
    (diff / "etc").mkdir(parents=True)
    (diff / "etc/only").write_text("x\n")
    os.setxattr(diff / "etc", "trusted.overlay.opaque", b"y")
    (diff / "bin").mkdir()
    os.mknod(diff / "bin/true", stat.S_IFCHR, os.makedev(0, 0))
    from pycompose.engine.images.commit import commit_dir

    img = commit_dir(store, diff, base, repo_tag="layered:1", author="", comment="",  # type: ignore[arg-type]
                     changes=[], created_by="")
    lowers = [str(p) for p in img.lowerdirs()]
    assert len(lowers) == 2
    spec = _spec(no_leaks, lowers, "/bin/sh", "-c", "ls /etc; ls /bin/true; echo ls=$?")
    code, out = _run(spec)
    assert code == 0, out
    assert out.splitlines()[0] == "only"
    assert "ls=1" in out


def test_plain_directory_rootfs_is_idmapped_too(no_leaks: Path, busybox_dir: Path) -> None:
    """``--rootfs DIR`` of host-root files: root's inside, no chown of the dir, and
    read-only (a write would reach the host as host root)."""
    spec = _spec(no_leaks, [], "/bin/sh", "-c",
                 "id -u; stat -c %u /bin/busybox; touch /x 2>/dev/null; echo w=$?")
    spec.rootfs = str(busybox_dir)
    code, out = _run(spec)
    assert code == 0, out
    assert out == "0\n0\nw=1\n"
    assert (busybox_dir / "bin/busybox").stat().st_uid == 0
    assert not (busybox_dir / "x").exists()


def test_set_up_errors_are_one_clear_line_and_leave_nothing(no_leaks: Path,
                                                            store: object) -> None:
    from pycompose.engine.errors import SetupFailed

    img = store.resolve("busybox")  # type: ignore[attr-defined]
    lowers = [str(p) for p in img.lowerdirs()]
    spec = _spec(no_leaks, lowers, "true",
                 mounts=[Mount("/x", "bind", str(no_leaks / "missing"), ["rbind"])])
    with pytest.raises(SetupFailed) as e:
        run(spec)
    assert "bind source" in str(e.value) and "no such file" in str(e.value)
    spec = _spec(no_leaks, lowers, "true")
    spec.uid_map = [IdMap(0, 100000, 10), IdMap(5, 200000, 10)]
    with pytest.raises(SetupFailed) as e:
        run(spec)
    assert "refused the map 0:100000:10, 5:200000:10" in str(e.value)
    assert not Path(spec.root).exists()

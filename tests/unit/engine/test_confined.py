"""The confined resolver (engine/confined) against a tree of hostile symlinks: whatever
path is asked for, nothing it resolves, reads, creates or replaces lies outside the
root (for a Root) or outside the layers (for a LayerStack)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycompose.engine.confined import LayerStack, Policy, Root, children, copy, copy_children
from pycompose.engine.confined.kernel import make_whiteout, set_opaque

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="whiteouts and trusted xattrs need root")


def hostile(root: Path, outside: Path) -> None:
    """Symlinks that point out in every way a container can make them."""
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "f").write_text("inside\n")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("inside passwd\n")
    links = {
        "abs": "/", "up": "../../../../..", "hostdir": str(outside),
        "hostfile": str(outside / "secret"), "loop": "loop", "d/e/back": "../../..",
        "d/e/abs": "/d", "d/rel": "../../etc", "proc": "/proc/self/root",
        "dangling": str(outside / "made-here"), "d/chain": "../hostdir/x",
    }
    for name, target in links.items():
        os.symlink(target, root / name)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("HOST-SECRET\n")
    (outside / "x").mkdir()
    hostile(root, outside)
    yield root, outside


def snapshot(d: Path) -> list[tuple[str, int, int]]:
    out = []
    for p in sorted(d.rglob("*")):
        s = p.lstat()
        out.append((str(p), s.st_mode, s.st_size))
    return out


def inside(fd: int, name: str, tops: list[Path]) -> bool:
    """Whether the place (fd, name) lies under one of ``tops`` (the kernel's name of
    the fd, never a re-resolution of the name)."""
    base = os.readlink(f"/proc/self/fd/{fd}")
    full = os.path.join(base, name) if name else base
    return any(full == str(t) or full.startswith(str(t) + "/") for t in tops)


COMPONENTS = ["abs", "up", "hostdir", "hostfile", "loop", "d", "e", "back", "f", "rel",
              "etc", "passwd", "..", ".", "proc", "dangling", "chain", "new", "x", "secret"]
paths = st.lists(st.sampled_from(COMPONENTS), min_size=0, max_size=7).map("/".join).flatmap(
    lambda p: st.sampled_from([p, "/" + p, p + "/", "/" + p + "/."]))
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(path=paths, follow=st.booleans())
def test_a_root_resolves_nothing_outside_itself(tree: tuple[Path, Path], path: str,
                                               follow: bool) -> None:
    root, _ = tree
    with Root.at(root) as r:
        try:
            entry = r.locate(path, follow=follow)
        except OSError:
            return
        assert all(inside(fd, name, [root]) for fd, name in entry.places), path
        if entry.is_file:
            fd = entry.open()
            try:
                assert os.read(fd, 100) != b"HOST-SECRET\n"
            finally:
                os.close(fd)


@SETTINGS
@given(path=paths)
def test_a_root_creates_nothing_outside_itself(tree: tuple[Path, Path], path: str) -> None:
    root, outside = tree
    before = snapshot(outside)
    with Root.at(root) as r:
        try:
            os.close(r.makedirs(path + "/made"))
        except OSError:
            pass
        try:
            r.write_file(path, os.open("/dev/null", os.O_RDONLY), 0o644)
        except OSError:
            pass
        try:
            r.symlink(path + "-link", "/")
        except OSError:
            pass
    assert snapshot(outside) == before, path


def test_a_dangling_link_is_made_inside_the_root(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    with Root.at(root) as r:
        os.close(r.makedirs("/dangling/sub"))
        r.write_file("/hostfile", os.open("/dev/null", os.O_RDONLY))  # replaces the link
    assert (root / outside.relative_to("/") / "made-here" / "sub").is_dir()
    assert not (outside / "made-here").exists()
    assert (root / "hostfile").is_file() and not (root / "hostfile").is_symlink()
    assert (outside / "secret").read_text() == "HOST-SECRET\n"


def test_a_walk_lists_links_and_never_enters_them(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    seen = []
    with Root.at(root) as r:
        for rel, _fd, entries in r.walk():
            seen += [f"{rel}/{n}" for n, s in entries if stat.S_ISREG(s.st_mode)]
    assert sorted(seen) == ["d/f", "etc/passwd"]


def test_symlinks_resolve_as_the_container_sees_them(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    with Root.at(root) as r:
        fd = r.open("/up/abs/d/rel/passwd", follow=True)
        try:
            assert os.read(fd, 100) == b"inside passwd\n"
        finally:
            os.close(fd)
        with pytest.raises(OSError):
            r.open("/etc/passwd/..", follow=True)
        with pytest.raises(OSError):
            os.close(r.open("/abs"))  # the last component is a link: not followed
        assert r.locate("/abs").is_link and r.locate("/abs", follow=True).is_dir


# -- layer stacks ---------------------------------------------------------------------------
@pytest.fixture
def layers(tmp_path: Path) -> Iterator[tuple[list[Path], Path]]:
    upper, lower, outside = tmp_path / "upper", tmp_path / "lower", tmp_path / "outside"
    for d in (upper, lower, outside):
        d.mkdir()
    (outside / "secret").write_text("HOST-SECRET\n")
    (outside / "x").mkdir()
    hostile(lower, outside)
    (upper / "d").mkdir()
    (upper / "d" / "g").write_text("upper g\n")
    os.symlink("/d/e/back/..", upper / "u")
    yield [upper, lower], outside


@SETTINGS
@given(path=paths, follow=st.booleans())
def test_a_stack_resolves_nothing_outside_its_layers(layers: tuple[list[Path], Path],
                                                     path: str, follow: bool) -> None:
    tops, _ = layers
    with LayerStack(tops) as s:
        try:
            names, entry = s.resolve(path, follow=follow)
        except OSError:
            return
        assert ".." not in names and "." not in names
        assert all(inside(fd, name, tops) for fd, name in entry.places), path
        if entry.is_dir:
            fds = entry.dir_fds()
            try:
                for n, e in children(fds, True):
                    assert all(inside(fd, nm, tops) for fd, nm in e.places), f"{path}/{n}"
            finally:
                for fd in fds:
                    os.close(fd)


def test_a_stack_merges_as_overlayfs_does(layers: tuple[list[Path], Path]) -> None:
    tops, _ = layers
    with LayerStack(tops) as s:
        names, _ = s.resolve("/u/d/rel/./passwd", follow=True)
        assert names == ["etc", "passwd"]
        d = s.locate("/d")
        fds = d.dir_fds()
        try:
            assert [n for n, _ in children(fds, True)] == ["chain", "e", "f", "g", "rel"]
        finally:
            for fd in fds:
                os.close(fd)
        assert s.resolve("/d/e/back/d/f", follow=True)[0] == ["d", "f"]
        assert s.resolve("/d/e/abs/g")[0] == ["d", "g"]
        with pytest.raises(FileNotFoundError):  # the host's path is not in the stack
            s.resolve("/hostdir/..")


@needs_root
def test_whiteouts_and_opaque_directories_hide_lower_layers(tmp_path: Path) -> None:
    upper, lower = tmp_path / "u", tmp_path / "l"
    (lower / "srv" / "old").mkdir(parents=True)
    (lower / "srv" / "old" / "x").write_text("x")
    (lower / "srv" / "gone").write_text("g")
    (lower / "srv" / "keep").write_text("k")
    (lower / "opq").mkdir()
    (lower / "opq" / "hidden").write_text("h")
    (upper / "srv").mkdir(parents=True)
    (upper / "opq").mkdir()
    (upper / "opq" / "new").write_text("n")
    fd = os.open(upper / "srv", os.O_RDONLY)
    make_whiteout(fd, "gone")
    os.close(fd)
    fd = os.open(upper / "opq", os.O_RDONLY)
    set_opaque(fd)
    os.close(fd)
    with LayerStack([upper, lower]) as s:
        with pytest.raises(FileNotFoundError):
            s.locate("/srv/gone")
        with pytest.raises(FileNotFoundError):
            s.locate("/opq/hidden")
        assert s.locate("/srv/old/x").is_file
        out = tmp_path / "out"
        out.mkdir()
        with Root.at(out) as o:
            copy_children(s.locate("/"), o.fd, Policy())
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == \
        ["opq", "opq/new", "srv", "srv/keep", "srv/old", "srv/old/x"]


# -- copies ---------------------------------------------------------------------------------
def test_a_copy_replaces_the_destinations_links_and_never_writes_through_them(
        tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, outside = tree
    src = tmp_path / "src"
    (src / "hostdir").mkdir(parents=True)
    (src / "hostdir" / "secret").write_text("EVIL\n")
    (src / "hostfile").write_text("EVIL\n")
    (src / "etc").mkdir()
    before = snapshot(outside)
    with Root.at(src) as s, Root.at(root) as r:
        copy_children(s.locate("."), r.fd, Policy())
        copy(s.locate("hostfile"), r.fd, "dangling", Policy())
    assert snapshot(outside) == before
    assert (root / "hostdir" / "secret").read_text() == "EVIL\n"
    assert not (root / "hostdir").is_symlink() and not (root / "dangling").is_symlink()
    assert (root / "etc" / "passwd").exists()  # a directory is merged into


def test_a_copy_out_drops_set_id_bits(tmp_path: Path) -> None:
    src, dst = tmp_path / "s", tmp_path / "t"
    src.mkdir()
    dst.mkdir()
    (src / "suid").write_text("x")
    os.chmod(src / "suid", 0o6755)
    with Root.at(src) as s, Root.at(dst) as d:
        copy(s.locate("suid"), d.fd, "suid", Policy(keep_setid=False))
        copy(s.locate("suid"), d.fd, "kept", Policy())
    assert stat.S_IMODE((dst / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((dst / "kept").stat().st_mode) == 0o6755

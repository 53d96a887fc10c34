"""The build context: read only, never outside its folder, .dockerignore honoured, and
content digests that change exactly when what a COPY reads changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycompose.engine.builder.context import Context, escapes_context, glob_match
from pycompose.engine.errors import InvalidArgument, NotFound


@pytest.fixture
def ctx_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ctx"
    (d / "src" / "pkg").mkdir(parents=True)
    (d / "src" / "main.py").write_text("print('hi')\n")
    (d / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (d / "README.md").write_text("readme\n")
    (d / "notes.txt").write_text("n\n")
    (d / "build").mkdir()
    (d / "build" / "out.o").write_text("obj")
    (tmp_path / "secret.txt").write_text("outside\n")
    os.symlink("/etc", d / "etc-link")  # absolute: must mean <ctx>/etc
    os.symlink("../secret.txt", d / "escape")  # climbs out: must stay inside
    return d


def test_copy_from_outside_is_refused_naming_it(ctx_dir: Path) -> None:
    with Context.open(ctx_dir) as ctx:
        for bad in ("../secret.txt", "src/../../secret.txt", ".."):
            with pytest.raises(InvalidArgument, match="outside the build context"):
                ctx.resolve(bad, "Dockerfile:3: COPY")
        assert escapes_context("../x") and not escapes_context("a/../b")


def test_symlinks_resolve_inside_the_context(ctx_dir: Path) -> None:
    with Context.open(ctx_dir) as ctx:
        with pytest.raises(NotFound):
            ctx.resolve("etc-link/passwd", "COPY")  # <ctx>/etc/passwd: there is none
        with pytest.raises(NotFound):
            ctx.resolve("escape", "COPY")  # ../secret.txt from the root is the root's
        entries = {e.rel: e for e in ctx.walk("")}
        assert entries["escape"].kind == "symlink"  # inside a tree: copied as a link
        assert entries["escape"].link == "../secret.txt"


def test_globs_and_ignore(ctx_dir: Path) -> None:
    (ctx_dir / ".dockerignore").write_text("build\n*.md\n!README.md\nnotes.txt\n")
    with Context.open(ctx_dir) as ctx:
        assert ctx.resolve("src/*.py", "COPY") == ["src/main.py"]
        assert ctx.resolve("*.md", "COPY") == ["README.md"]
        with pytest.raises(NotFound, match="excluded by .dockerignore"):
            ctx.resolve("notes.txt", "COPY")
        with pytest.raises(NotFound, match="matches nothing"):
            ctx.resolve("*.rs", "Dockerfile:2: COPY")
        names = {e.rel for e in ctx.walk("")}
        assert "build" not in names and "build/out.o" not in names and "notes.txt" not in names
        assert {"src/main.py", "src/pkg/mod.py", "README.md"} <= names


def test_dockerfile_dockerignore_wins(ctx_dir: Path) -> None:
    (ctx_dir / ".dockerignore").write_text("src\n")
    df = ctx_dir / "app.Dockerfile"
    df.write_text("FROM scratch\n")
    (ctx_dir / "app.Dockerfile.dockerignore").write_text("README.md\n")
    with Context.open(ctx_dir, dockerfile=df) as ctx:
        assert ctx.resolve("src/main.py", "COPY") == ["src/main.py"]
        with pytest.raises(NotFound):
            ctx.resolve("README.md", "COPY")


def test_digest_changes_with_content_not_with_time(ctx_dir: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Context.open(ctx_dir, state_root=state) as ctx:
        d1 = ctx.digest(["src"], "COPY")
        d_other = ctx.digest(["README.md"], "COPY")
    assert d1 != d_other
    os.utime(ctx_dir / "src" / "main.py", (1, 1))
    with Context.open(ctx_dir, state_root=state) as ctx:
        assert ctx.digest(["src"], "COPY") == d1
    (ctx_dir / "src" / "main.py").write_text("print('changed')\n")
    with Context.open(ctx_dir, state_root=state) as ctx:
        d2 = ctx.digest(["src"], "COPY")
    assert d2 != d1
    os.chmod(ctx_dir / "src" / "main.py", 0o755)
    with Context.open(ctx_dir, state_root=state) as ctx:
        assert ctx.digest(["src"], "COPY") != d2


def test_no_context(tmp_path: Path) -> None:
    with Context.open(None) as ctx, pytest.raises(InvalidArgument, match="no build context"):
        ctx.resolve("x", "Dockerfile:2: COPY")


def test_glob_match_is_go_filepath_match() -> None:
    assert glob_match("*.py", "a.py") and not glob_match("*.py", "a.pyc")
    assert glob_match("a?c", "abc") and glob_match("[a-c]x", "bx")
    assert not glob_match("[^a-c]x", "bx") and glob_match("\\*", "*")

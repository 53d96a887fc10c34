"""A COPY after a RUN is staged while the RUN runs and renamed into its layer when the
destination can take it as it is; where it cannot (a name already there, a symlink on
the way to the destination), the ordinary copy through the overlay does the step. The
image is the same either way: what the user sees in a container."""

from __future__ import annotations

from conftest import Builder

from pycompose.engine.images import ImageStore


def _context(builder: Builder) -> None:
    builder.write("data/a.txt", "new a\n")
    builder.write("data/sub/b.txt", "new b\n", mode=0o640)
    builder.write("data/run.sh", "#!/bin/sh\necho hi\n", mode=0o755)


def test_a_copy_staged_during_the_run_lands_with_owners_and_modes(builder: Builder) -> None:
    _context(builder)
    builder.dockerfile("FROM busybox\nRUN mkdir -p /app && echo run > /app/from-run\n"
                       "COPY --chown=1000:1001 --chmod=0750 data/ /app/data/\n"
                       "COPY data/ /srv/\n")
    builder.ok("-t", "pf:1")
    out = builder.run("pf:1", "sh", "-c",
                      "cat /app/from-run /app/data/a.txt /app/data/sub/b.txt; "
                      "stat -c '%n %u:%g %a' /app/data/a.txt /app/data/sub /srv/sub/b.txt "
                      "/srv/run.sh; ls -a /app/data")
    assert out.splitlines() == [
        "run", "new a", "new b",
        "/app/data/a.txt 1000:1001 750", "/app/data/sub 1000:1001 750",
        "/srv/sub/b.txt 0:0 640", "/srv/run.sh 0:0 755",
        ".", "..", "a.txt", "run.sh", "sub"]
    # the layer holds the copied files and the copied-up parents only
    store = ImageStore(builder.root)
    im = store.resolve("pf:1")
    diff = store.layer_dir(im.layers[-2].chain_id) / "diff"
    assert sorted(p.relative_to(diff).as_posix() for p in diff.rglob("*")) == [
        "app", "app/data", "app/data/a.txt", "app/data/run.sh", "app/data/sub",
        "app/data/sub/b.txt"]


def test_a_copy_onto_what_the_run_made_merges_as_an_ordinary_copy(builder: Builder) -> None:
    _context(builder)
    builder.dockerfile("FROM busybox\n"
                       "RUN mkdir -p /app/data/sub && echo old > /app/data/a.txt "
                       "&& echo keep > /app/data/sub/keep && mkdir /real "
                       "&& ln -s /real /app/link\n"
                       "COPY data/ /app/data/\n"
                       "RUN true\n"
                       "COPY data/ /app/link/\n")
    builder.ok("-t", "pf:2")
    out = builder.run("pf:2", "sh", "-c",
                      "cat /app/data/a.txt /app/data/sub/keep /app/data/sub/b.txt "
                      "/real/a.txt; readlink /app/link; ls /real")
    assert out.splitlines() == ["new a", "keep", "new b", "new a", "/real",
                                "a.txt", "run.sh", "sub"]


def test_a_file_copied_over_a_directory_the_run_made_is_refused(builder: Builder) -> None:
    builder.write("data/a.txt", "x\n")
    builder.dockerfile("FROM busybox\nRUN mkdir -p /app/a.txt/inside\nCOPY data/ /app/\n")
    r = builder.build("-t", "pf:3", ".")
    assert r.returncode != 0
    assert "cannot copy the file" in r.stderr and "Traceback" not in r.stderr

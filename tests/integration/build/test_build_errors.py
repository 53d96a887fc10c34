"""Bad input and interrupted builds: errors name the file and line; a failing RUN shows
its output and exit code and leaves no image and no container; a killed build leaves
nothing the next one trips on."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from conftest import Builder
from pctest.cli import PYCOMPOSE, run

from pycompose.engine.images import ImageStore


def containers() -> list[str]:
    return run(["container", "ls", "-aq", "--no-trunc"]).stdout.split()


def test_syntax_errors_name_the_file_and_line(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nRUN true\nCOPY onlyone\n", "app.Dockerfile")
    r = builder.build("-f", "app.Dockerfile", ".")
    assert r.returncode == 1
    assert "app.Dockerfile:3: COPY: COPY requires at least two arguments" in r.stderr
    assert "Traceback" not in r.stderr
    builder.dockerfile("FROM busybox\nRUNN true\n")
    r = builder.build(".")
    assert r.returncode == 1 and "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)" \
        in r.stderr


def test_a_failing_run_shows_output_and_code_and_leaves_nothing(builder: Builder) -> None:
    store = ImageStore(builder.root)
    before = {im.id for im in store.images()}
    builder.dockerfile("FROM busybox\nRUN echo before-failing\nRUN echo about to fail; "
                       "echo oops >&2; exit 3\nRUN echo never\n")
    r = builder.build("-t", "fails", ".")
    assert r.returncode == 1, r.stderr
    assert "about to fail" in r.stderr and "oops" in r.stderr
    assert "Dockerfile:3: process \"/bin/sh -c echo about to fail; echo oops >&2; exit 3\" " \
           "did not complete successfully: exit code: 3" in r.stderr
    assert "never" not in r.stderr.split("exit code: 3")[0].split("RUN echo never")[-1]
    assert {im.id for im in store.images()} == before  # no half image, no tag
    assert containers() == []
    assert not any((builder.root / "build" / "work").iterdir())


def test_missing_copy_sources_and_paths_outside_the_context(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nCOPY nothere.txt /x\n")
    r = builder.build(".")
    assert r.returncode == 1
    assert "Dockerfile:2: COPY: 'nothere.txt' not found in the build context" in r.stderr
    (builder.folder.parent / "outside.txt").write_text("secret\n")
    builder.dockerfile("FROM busybox\nRUN true\nCOPY ../outside.txt /x\n")
    r = builder.build(".")
    assert r.returncode == 1
    assert "Dockerfile:3: COPY: '../outside.txt' is outside the build context" in r.stderr
    builder.dockerfile("FROM busybox\nCOPY *.nope /x/\n")
    r = builder.build(".")
    assert r.returncode == 1 and "Dockerfile:2: COPY: no source files" in r.stderr


def test_a_missing_base_image_is_named(builder: Builder) -> None:
    builder.dockerfile("FROM no-such-image:1\nRUN true\n")
    r = builder.build(".")
    assert r.returncode == 1
    assert "Dockerfile:1: no-such-image:1: not in the image store, and it could not be " \
        "pulled" in r.stderr
    builder.dockerfile("FROM busybox\nCOPY --from=nowhere:9 /x /x\n")
    r = builder.build(".")
    assert r.returncode == 1 and "Dockerfile:2: nowhere:9: not in the image store" in r.stderr


def _kill_during(builder: Builder, sig: int, marker: str) -> None:
    """Start a build, wait until its RUN runs (``marker`` in the cache mount), kill it."""
    env = dict(os.environ)
    p = subprocess.Popen([PYCOMPOSE, "image", "build", "--progress", "plain", "-t",
                          "killed", "."], cwd=builder.folder, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        cache = builder.root / "build" / "cache"
        while time.monotonic() < deadline:
            if cache.is_dir() and any((d / marker).exists() for d in cache.iterdir()
                                      if d.is_dir()):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the RUN step never started")
        os.kill(p.pid, sig)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_killed_build_leaves_nothing_the_next_build_trips_on(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nRUN --mount=type=cache,target=/c,id=k "
                       "touch /c/started && sleep 30\n")
    for sig in (signal.SIGINT, signal.SIGKILL):
        _kill_during(builder, sig, "started")
        if sig == signal.SIGINT:  # Ctrl-C: the build cleans up after itself
            assert containers() == []
    builder.dockerfile("FROM busybox\nRUN echo fine > /fine\n")
    r = builder.build("-t", "after", ".")
    assert r.returncode == 0, r.stderr
    assert containers() == []  # the dead build's RUN container was swept
    assert not any(p for p in (builder.root / "build" / "work").iterdir())
    assert builder.run("after", "cat", "/fine") == "fine\n"


def test_bad_flags(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\n")
    r = builder.build("--network", "weird", ".")
    assert r.returncode == 1 and "--network weird" in r.stderr
    r = builder.build("--platform", "linux/s390x", ".")
    assert r.returncode == 1 and "own platform only" in r.stderr
    r = builder.build("-t", "Bad:Tag!", ".")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    r = builder.build("--target", "nope", ".")
    assert r.returncode == 1 and "target stage 'nope' could not be found" in r.stderr

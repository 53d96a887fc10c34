"""The layer cache: a no-change rebuild runs nothing; one changed file invalidates
exactly the steps from its COPY on; cache mounts are kept between builds."""

from __future__ import annotations

import re

from conftest import Builder

from pycompose.engine.images import ImageStore

DOCKERFILE = """\
FROM busybox
RUN echo step-2 > /two
COPY a.txt /a.txt
RUN echo step-4 && cat /a.txt > /four
COPY b.txt /b.txt
RUN echo step-6 && cat /b.txt > /six
ENV DONE=1
CMD ["cat", "/six"]
"""


def statuses(stderr: str) -> dict[str, str]:
    """``[i/N] instruction`` -> CACHED / DONE, from plain progress."""
    names: dict[str, str] = {}
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        m = re.match(r"#(\d+) (\[.*)$", line)
        if m:
            names[m.group(1)] = m.group(2)
            continue
        m = re.match(r"#(\d+) (CACHED|DONE)", line)
        if m and m.group(1) in names:
            out[names[m.group(1)]] = m.group(2)
    return out


def printed(stderr: str, text: str) -> bool:
    """Whether a RUN step printed ``text`` (``#N 0.123 text``)."""
    return re.search(rf"(?m)^#\d+ \d+\.\d+ {re.escape(text)}$", stderr) is not None


def run_steps(stderr: str) -> dict[str, str]:
    return {k.split("] ", 1)[1]: v for k, v in statuses(stderr).items()
            if "] RUN" in k or "] COPY" in k}


def test_no_change_rebuild_runs_nothing_and_gives_the_same_image(builder: Builder) -> None:
    builder.write("a.txt", "a1\n")
    builder.write("b.txt", "b1\n")
    builder.dockerfile(DOCKERFILE)
    first = builder.ok("-t", "c:1")
    assert set(run_steps(first.stderr).values()) == {"DONE"}
    store = ImageStore(builder.root)
    image = store.resolve("c:1").id
    again = builder.ok("-t", "c:1")
    assert set(statuses(again.stderr).values()) == {"CACHED"}, again.stderr
    assert not printed(again.stderr, "step-2") and not printed(again.stderr, "step-4")
    assert printed(first.stderr, "step-4")
    assert store.resolve("c:1").id == image  # the same id: the history kept its times


def test_one_changed_file_invalidates_exactly_the_steps_after_it(builder: Builder) -> None:
    builder.write("a.txt", "a1\n")
    builder.write("b.txt", "b1\n")
    builder.dockerfile(DOCKERFILE)
    builder.ok("-t", "c:1")
    builder.write("b.txt", "b2\n")
    r = builder.ok("-t", "c:2")
    assert run_steps(r.stderr) == {
        "RUN echo step-2 > /two": "CACHED", "COPY a.txt /a.txt": "CACHED",
        "RUN echo step-4 && cat /a.txt > /four": "CACHED",
        "COPY b.txt /b.txt": "DONE", "RUN echo step-6 && cat /b.txt > /six": "DONE"}
    assert printed(r.stderr, "step-6") and not printed(r.stderr, "step-4")
    assert builder.run("c:2") == "b2\n"
    builder.write("a.txt", "a2\n")
    r = builder.ok("-t", "c:3")
    assert run_steps(r.stderr) == {
        "RUN echo step-2 > /two": "CACHED", "COPY a.txt /a.txt": "DONE",
        "RUN echo step-4 && cat /a.txt > /four": "DONE",
        "COPY b.txt /b.txt": "DONE", "RUN echo step-6 && cat /b.txt > /six": "DONE"}
    # a file's time alone is not a change; the Dockerfile's text is
    import os

    os.utime(builder.folder / "a.txt", (1, 1))
    r = builder.ok("-t", "c:3")
    assert set(run_steps(r.stderr).values()) == {"CACHED"}
    builder.dockerfile(DOCKERFILE.replace("step-4", "step-four"))
    r = builder.ok("-t", "c:4")
    assert run_steps(r.stderr)["COPY a.txt /a.txt"] == "CACHED"
    assert run_steps(r.stderr)["RUN echo step-four && cat /a.txt > /four"] == "DONE"
    assert run_steps(r.stderr)["COPY b.txt /b.txt"] == "DONE"


def test_build_args_in_use_are_part_of_the_key(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nARG V=1\nRUN echo v=$V > /v\nRUN echo after\n")
    builder.ok("-t", "a")
    r = builder.ok("-t", "a", "--build-arg", "V=2")
    assert run_steps(r.stderr)["RUN echo v=2 > /v"] == "DONE"
    assert builder.run("a", "cat", "/v") == "v=2\n"
    r = builder.ok("-t", "a", "--build-arg", "V=1")
    assert set(run_steps(r.stderr).values()) == {"CACHED"}


def test_no_cache_runs_everything_again(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nRUN echo once > /x\n")
    builder.ok()
    r = builder.ok("--no-cache")
    assert run_steps(r.stderr) == {"RUN echo once > /x": "DONE"}


def test_dockerignored_files_never_change_the_key(builder: Builder) -> None:
    builder.write(".dockerignore", "*.log\nsecret/\n")
    builder.write("app.py", "print(1)\n")
    builder.write("debug.log", "one\n")
    builder.write("secret/key", "k\n")
    builder.dockerfile("FROM busybox\nCOPY . /app\nRUN ls -A /app > /listing\n")
    builder.ok("-t", "ign")
    assert builder.run("ign", "cat", "/listing").split() == [".dockerignore", "Dockerfile",
                                                            "app.py"]
    builder.write("debug.log", "two\n")
    r = builder.ok("-t", "ign")
    assert set(run_steps(r.stderr).values()) == {"CACHED"}


def test_a_cache_mount_is_reused_by_a_second_build(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox
ARG N
RUN --mount=type=cache,target=/cache,id=counter \\
    n=$(cat /cache/n 2>/dev/null || echo 0); echo $((n+1)) > /cache/n; \\
    cp /cache/n /seen-$N; ls /cache > /listing-$N
""")
    builder.ok("-t", "cm:1", "--build-arg", "N=1")
    builder.ok("-t", "cm:2", "--build-arg", "N=2")
    assert builder.run("cm:1", "cat", "/seen-1") == "1\n"
    assert builder.run("cm:2", "cat", "/seen-2") == "2\n"  # the second build saw the first's
    # the cache mount's content is not in the image; its mount point is not either
    assert builder.run("cm:2", "sh", "-c", "ls -d /cache 2>&1 || true").strip().endswith(
        "No such file or directory")


def test_cache_from_an_image_and_builder_prune(builder: Builder) -> None:
    builder.write("app.txt", "app\n")
    builder.dockerfile("FROM busybox\nRUN echo one > /one\nCOPY app.txt /\n"
                       "RUN echo two > /two\n")
    builder.ok("-t", "src:1")
    df = {ln.split("  ")[0]: ln.split() for ln in builder.cli("system", "df").stdout.splitlines()}
    assert int(df["Build Cache"][2]) >= 3  # three layer records (two RUNs, a COPY)
    r = builder.cli("builder", "prune", "-f")
    assert r.returncode == 0 and r.stdout.startswith("Deleted build cache objects:")
    df = {ln.split("  ")[0]: ln.split() for ln in builder.cli("system", "df").stdout.splitlines()}
    assert df["Build Cache"][2] == "0"
    assert set(run_steps(builder.ok().stderr).values()) == {"DONE"}  # the cache is gone
    builder.cli("builder", "prune", "-f")
    r = builder.ok("--cache-from", "src:1")
    assert set(run_steps(r.stderr).values()) == {"CACHED"}, r.stderr
    r = builder.ok("--cache-from", "nothere:1", "--no-cache")
    assert "--cache-from nothere:1: no such image here" in r.stderr

"""Real builds in real containers: multi-stage, USER/WORKDIR, ARG/ENV scoping, heredocs,
history and inspect, the docker CLI's output flags, stdin contexts."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from conftest import Builder
from pctest.cli import run

from pycompose.engine.images import ImageStore


def test_multi_stage_copies_a_binary_between_stages(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox AS build
WORKDIR /src
RUN mkdir -p /out && cp /bin/busybox /out/tool && printf 'built\\n' > /out/VERSION
FROM scratch
COPY --from=build /out/tool /bin/busybox
COPY --from=build /out/VERSION /
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/VERSION"]
""")
    r = builder.ok("-t", "tool:1")
    assert "[build 3/3] RUN mkdir -p /out" in r.stderr
    assert "[stage-1 2/5] COPY --from=build /out/tool /bin/busybox" in r.stderr
    assert builder.run("tool:1") == "built\n"
    img = ImageStore(builder.root).resolve("tool:1")
    assert len(img.layers) == 2  # scratch + two COPYs: nothing of the build stage


def test_user_and_workdir_apply_to_run(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox
WORKDIR /srv/app
RUN pwd > where && id -u > uid-root
USER app
WORKDIR data
RUN pwd > /tmp/where-app && id -un > /tmp/who && touch mine
USER 0
RUN cp /tmp/where-app /tmp/who /srv/app/
""")
    builder.ok("-t", "uw")
    out = builder.run("uw", "sh", "-c", "cd /srv/app && cat where uid-root where-app who; "
                      "stat -c '%U %a' /srv/app/data /srv/app/data/mine; id -un")
    assert out.split("\n")[:4] == ["/srv/app", "0", "/srv/app/data", "app"]
    # WORKDIR made data as the USER of the moment (as BuildKit); the last USER is root
    assert "app 755" in out and out.strip().endswith("root")
    insp = json.loads(run(["image", "inspect", "uw"]).stdout)[0]
    assert insp["Config"]["WorkingDir"] == "/srv/app/data" and insp["Config"]["User"] == "0"


def test_arg_and_env_scoping(builder: Builder) -> None:
    builder.dockerfile("""\
ARG GLOBAL=g-default
ARG BASE=busybox
FROM $BASE AS one
RUN echo "one sees global=[${GLOBAL}]" > /one
ARG GLOBAL
ARG LOCAL=l-default
ENV FROM_ENV=e1
ARG FROM_ENV=ignored
RUN echo "global=$GLOBAL local=$LOCAL env=$FROM_ENV" >> /one
FROM one
ARG LOCAL
RUN echo "two local=[${LOCAL:-unset}] env=$FROM_ENV" > /two
""")
    builder.ok("-t", "args", "--build-arg", "LOCAL=from-cli", "--build-arg", "UNUSED=1")
    out = builder.run("args", "cat", "/one", "/two")
    assert out.splitlines() == [
        "one sees global=[]",  # a meta arg is not visible in a stage until declared
        "global=g-default local=from-cli env=e1",  # ENV wins over ARG of the same name
        "two local=[from-cli] env=e1",  # args do not cross stages; ENV does (FROM one)
    ]
    # build args are not in the image's environment; ENV is
    env = json.loads(run(["image", "inspect", "args"]).stdout)[0]["Config"]["Env"]
    assert "FROM_ENV=e1" in env and not any(e.startswith("LOCAL=") for e in env)
    hist = run(["image", "history", "--no-trunc", "args"]).stdout
    assert "RUN |3 GLOBAL=g-default LOCAL=from-cli FROM_ENV=ignored" in hist or \
        "|3 GLOBAL=g-default LOCAL=from-cli" in hist


def test_heredocs(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox
ARG WHO=world
COPY <<EOF /greeting
hello $WHO
EOF
COPY <<'EOF' /literal
hello $WHO
EOF
RUN <<EOF
echo "from a heredoc: $WHO" > /ran
EOF
RUN <<-SCRIPT sh
	echo tabs stripped > /tabs
	SCRIPT
RUN cat <<A > /a && cat <<B > /b
first
A
second
B
RUN <<EOF
#!/bin/sh
echo "shebang as $0" > /shebang
EOF
""")
    builder.ok("-t", "heredocs")
    out = builder.run("heredocs", "cat", "/greeting", "/literal", "/ran", "/tabs", "/a", "/b",
                      "/shebang")
    assert out.splitlines() == ["hello world", "hello $WHO", "from a heredoc: world",
                                "tabs stripped", "first", "second",
                                "shebang as /dev/pipes/EOF"]


def test_history_and_inspect_record_who_and_how(builder: Builder) -> None:
    builder.write("f.txt", "x\n")
    builder.dockerfile("FROM busybox\nLABEL org.example=yes\nCOPY f.txt /f.txt\n"
                       "RUN echo made > /made\nEXPOSE 8080\nCMD [\"cat\", \"/made\"]\n")
    r = builder.ok("-t", "hist:1", "--label", "built.by=test")
    hist = run(["image", "history", "--no-trunc", "--format", "json", "hist:1"]).stdout
    rows = [json.loads(line) for line in hist.splitlines() if line.strip()]
    made_by = [row["CreatedBy"] for row in rows]
    assert any(m.startswith("RUN /bin/sh -c echo made > /made") for m in made_by)
    assert "COPY f.txt /f.txt" in made_by and 'CMD ["cat" "/made"]' in made_by
    assert "EXPOSE 8080/tcp" in made_by and "LABEL org.example=yes" in made_by
    insp = json.loads(run(["image", "inspect", "hist:1"]).stdout)[0]
    assert "@" in insp["Author"] and insp["Created"]
    assert insp["Config"]["Labels"] == {"org.example": "yes", "built.by": "test"}
    assert "8080/tcp" in insp["Config"]["ExposedPorts"]
    assert "naming to docker.io/library/hist:1 done" in r.stderr


def test_quiet_iidfile_and_tags(builder: Builder, tmp_path: Path) -> None:
    builder.dockerfile("FROM busybox\nRUN echo hi > /hi\n")
    iid = tmp_path / "iid"
    r = builder.build("-q", "-t", "a:1", "-t", "b:2", "--iidfile", str(iid), ".")
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71 and r.stderr == ""
    assert iid.read_text() == image_id
    store = ImageStore(builder.root)
    assert store.resolve("a:1").id == store.resolve("b:2").id == image_id


def test_dockerfile_on_stdin_and_tar_context_on_stdin(builder: Builder) -> None:
    r = builder.cli("image", "build", "-q", "-t", "stdin:1", "-",
                    input="FROM busybox\nRUN echo from-stdin > /x\n")
    assert r.returncode == 0, r.stderr
    assert builder.run("stdin:1", "cat", "/x") == "from-stdin\n"
    # a tar of the context (with its Dockerfile) on stdin
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY data.txt /data.txt\n"),
                           ("data.txt", b"from the tar\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    import subprocess

    from pctest.cli import PYCOMPOSE

    p = subprocess.run([PYCOMPOSE, "image", "build", "-q", "-t", "tar:1", "-"],
                       input=buf.getvalue(), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert builder.run("tar:1", "cat", "/data.txt") == "from the tar\n"


def test_target_builds_only_what_it_needs(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox AS broken
RUN exit 42
FROM busybox AS base
RUN echo base > /base
FROM base AS test
RUN echo test > /test
FROM broken AS final
""")
    r = builder.ok("--target", "test", "-t", "t:1")
    assert "exit 42" not in r.stderr
    assert builder.run("t:1", "cat", "/base", "/test") == "base\ntest\n"


def test_copy_semantics(builder: Builder) -> None:
    builder.write("dir/a.txt", "a\n")
    builder.write("dir/sub/b.txt", "b\n")
    builder.write("one.txt", "1\n", mode=0o640)
    builder.write("x1.conf", "x1\n")
    builder.write("x2.conf", "x2\n")
    builder.dockerfile("""\
FROM busybox
COPY dir /into/
COPY dir/ /also
COPY one.txt /file-renamed
COPY one.txt /d/
COPY x*.conf /confs/
COPY --chown=app:app --chmod=0600 one.txt /owned
WORKDIR /rel
COPY one.txt .
""")
    builder.ok("-t", "copy")
    def ls(path: str) -> list[str]:
        return builder.run("copy", "ls", path).split()

    assert ls("/into") == ["a.txt", "sub"] and ls("/into/sub") == ["b.txt"]
    assert ls("/also") == ["a.txt", "sub"]  # a directory's contents, not itself
    assert ls("/d") == ["one.txt"] and ls("/confs") == ["x1.conf", "x2.conf"]
    assert ls("/rel") == ["one.txt"]  # relative to WORKDIR
    out = builder.run("copy", "sh", "-c", "cat /file-renamed; stat -c '%U:%G %a' /owned "
                      "/file-renamed")
    assert out.splitlines() == ["1", "app:app 600", "root:root 640"]


def test_add_extracts_local_archives(builder: Builder) -> None:
    import gzip

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("pkg/hello.txt", b"unpacked\n"), ("pkg/sub/deep.txt", b"d\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.uid = ti.gid = 1000
            tar.addfile(ti, io.BytesIO(data))
    builder.write("bundle.tar.gz", gzip.compress(buf.getvalue()))
    builder.write("plain.txt", "not an archive\n")
    builder.dockerfile("FROM busybox\nADD bundle.tar.gz /opt/\nADD plain.txt /opt/\n")
    builder.ok("-t", "add")
    out = builder.run("add", "sh", "-c", "cat /opt/pkg/hello.txt /opt/plain.txt; "
                      "stat -c %u /opt/pkg/hello.txt; cat /opt/pkg/sub/deep.txt")
    assert out.split("\n") == ["unpacked", "not an archive", "1000", "d", ""]

"""The rest of the reference: ONBUILD, config instructions, ADD of a URL, COPY --link,
RUN bind/tmpfs mounts from stages, --add-host and --shm-size, SHELL."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Builder
from pctest.cli import run

from pycompose.engine.images import ImageStore


def inspect(ref: str) -> dict:  # type: ignore[type-arg]
    return json.loads(run(["image", "inspect", ref]).stdout)[0]


def test_config_instructions_land_in_the_image(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo from-cmd"]
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD ["true"]
STOPSIGNAL SIGINT
VOLUME /data /logs
EXPOSE 53/udp 8000-8001
SHELL ["/bin/sh", "-e", "-c"]
RUN echo "$0 $-" > /shell-flags
MAINTAINER someone <s@example.org>
""")
    builder.ok("-t", "cfg")
    c = inspect("cfg")["Config"]
    assert c["Entrypoint"] == ["/bin/sh", "-c"] and c["Cmd"] == ["echo from-cmd"]
    assert c["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5_000_000_000,
                                "Timeout": 2_000_000_000, "Retries": 4}
    assert c["StopSignal"] == "SIGINT" and set(c["Volumes"]) == {"/data", "/logs"}
    assert set(c["ExposedPorts"]) == {"53/udp", "8000/tcp", "8001/tcp"}
    assert c["Shell"] == ["/bin/sh", "-e", "-c"]
    assert inspect("cfg")["Author"] == "someone <s@example.org>"
    assert builder.run("cfg") == "from-cmd\n"
    assert "e" in builder.run("cfg", "cat /shell-flags").split()[-1]


def test_onbuild_triggers_run_in_the_child_build(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nONBUILD RUN echo triggered > /onbuild\n"
                       "ONBUILD COPY note.txt /note.txt\n")
    builder.ok("-t", "parent:1")
    assert inspect("parent:1")["Config"]["OnBuild"] == ["RUN echo triggered > /onbuild",
                                                         "COPY note.txt /note.txt"]
    builder.write("note.txt", "from the child's context\n")
    builder.dockerfile("FROM parent:1\nRUN cat /onbuild /note.txt > /both\n")
    r = builder.ok("-t", "child:1")
    assert "RUN echo triggered > /onbuild" in r.stderr
    assert builder.run("child:1", "cat", "/both") == "triggered\nfrom the child's context\n"
    assert not inspect("child:1")["Config"].get("OnBuild")  # triggers fire once


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "file.txt").write_text("downloaded\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(root), **kw)  # type: ignore[arg-type]

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_add_a_url(builder: Builder, http_server: str) -> None:
    import hashlib

    want = hashlib.sha256(b"downloaded\n").hexdigest()
    builder.dockerfile(f"FROM busybox\nADD {http_server}/file.txt /srv/\n"
                       f"ADD --checksum=sha256:{want} {http_server}/file.txt /renamed.txt\n")
    builder.ok("-t", "url")
    assert builder.run("url", "cat", "/srv/file.txt", "/renamed.txt") == "downloaded\n" * 2
    builder.dockerfile(f"FROM busybox\nADD --checksum=sha256:{'0' * 64} "
                       f"{http_server}/file.txt /x\n")
    r = builder.build(".")
    assert r.returncode == 1 and "checksum mismatch" in r.stderr


def test_copy_link_layers_do_not_depend_on_the_parent(builder: Builder) -> None:
    builder.write("big.txt", "payload\n")
    builder.dockerfile("FROM busybox\nRUN echo a > /a\nCOPY --link big.txt /opt/big.txt\n")
    builder.ok("-t", "link:1")
    builder.dockerfile("FROM busybox\nRUN echo b > /b\nCOPY --link big.txt /opt/big.txt\n")
    r = builder.ok("-t", "link:2")
    store = ImageStore(builder.root)
    one, two = store.resolve("link:1"), store.resolve("link:2")
    assert one.layers[-1].diff_id == two.layers[-1].diff_id  # the same layer, reused
    assert builder.run("link:2", "cat", "/opt/big.txt", "/b") == "payload\nb\n"
    assert "COPY --link big.txt /opt/big.txt" in r.stderr


def test_run_mounts_from_stages_tmpfs_hosts_and_shm(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox AS tools
RUN mkdir /tools && echo tool-data > /tools/data
FROM busybox
RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/tools \\
    cat /mnt/tools/data > /from-stage
RUN --mount=type=tmpfs,target=/scratch,size=1m \\
    echo x > /scratch/x && df -k /scratch | tail -1 | awk '{print $2}' > /tmpfs-size
RUN grep myhost /etc/hosts > /hosts && df -k /dev/shm | tail -1 | awk '{print $2}' > /shm
""")
    builder.ok("-t", "mounts", "--add-host", "myhost:10.1.2.3", "--shm-size", "32m")
    out = builder.run("mounts", "sh", "-c", "cat /from-stage /tmpfs-size /hosts /shm; "
                      "ls /scratch /mnt 2>&1 | wc -l")
    lines = out.split("\n")
    assert lines[0] == "tool-data" and lines[1] == "1024"
    assert lines[2].split() == ["10.1.2.3", "myhost"] and lines[3] == "32768"
    store = ImageStore(builder.root)
    blobs = [ly.digest for ly in store.resolve("mounts").layers]
    assert len(blobs) == 4




def test_a_missing_base_is_pulled_from_its_registry(builder: Builder, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pctest import registry as R

    if not R.available():
        pytest.skip("docker-registry is not installed (scripts/setup installs it)")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("PYCOMPOSE_CONFIG", str(tmp_path / "pycompose-config.json"))
    reg = R.RegistryServer(tmp_path / "registry").start()
    try:
        ref = f"{reg.host}/library/base:1"
        assert builder.cli("image", "tag", "busybox", ref).returncode == 0
        assert builder.cli("image", "push", "-q", ref).returncode == 0
        assert builder.cli("image", "rm", ref).returncode == 0
        builder.dockerfile(f"FROM {ref}\nRUN echo on-pulled > /x\n")
        r = builder.ok("-t", "frompulled")
        assert "#1 DONE" in r.stderr  # pulled, not CACHED
        assert builder.run("frompulled", "cat", "/x") == "on-pulled\n"
        r = builder.ok("--pull", "-t", "frompulled")  # --pull looks again; nothing new
        assert "#1 DONE" in r.stderr and "could not pull" not in r.stderr
        assert builder.run("frompulled", "cat", "/x") == "on-pulled\n"
    finally:
        reg.stop()
    # the registry is gone: --pull builds on the store's copy, and says so
    r = builder.ok("--pull", "-t", "frompulled")
    assert f"{ref}: --pull could not pull it" in r.stderr, r.stderr
    assert builder.run("frompulled", "cat", "/x") == "on-pulled\n"

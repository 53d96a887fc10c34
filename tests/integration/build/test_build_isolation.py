"""What a build may touch: secrets never land in a layer or the history; COPY writes
inside the image even through the image's symlinks; the host is only read (the context)
and written in the store; RUN's network modes; independent stages run at once."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

from conftest import Builder
from pctest.cli import run

from pycompose.engine.images import ImageStore

SECRET = "s3cr3t-value-4f9a"


def _layer_bytes(store: ImageStore, ref: str) -> list[bytes]:
    """Every file's content of every layer blob of ``ref`` (the tar as saved or pushed)."""
    out = []
    for ly in store.resolve(ref).layers:
        with tarfile.open(store.layer_blob(ly)) as tar:
            for m in tar:
                out.append(m.name.encode())
                if m.isfile():
                    f = tar.extractfile(m)
                    assert f is not None
                    out.append(f.read())
    return out


def test_a_secret_is_readable_in_run_and_absent_from_every_layer(builder: Builder,
                                                                  tmp_path: Path) -> None:
    import hashlib

    secret_file = tmp_path / "token"
    secret_file.write_text(SECRET)
    digest = hashlib.sha256(SECRET.encode()).hexdigest()  # the Dockerfile names no secret
    builder.dockerfile(f"""\
FROM busybox
RUN --mount=type=secret,id=token \\
    sha256sum /run/secrets/token | grep -q {digest} && echo file-ok > /proof
RUN --mount=type=secret,id=token,target=/etc/app.key,mode=0440 \\
    stat -c %a /etc/app.key > /mode && wc -c < /etc/app.key > /length
RUN --mount=type=secret,id=envtok,env=API_TOKEN \\
    printf %s "$API_TOKEN" | sha256sum | grep -q {digest} && echo env-ok >> /proof
""")
    r = builder.build("-t", "sec", "--secret", f"id=token,src={secret_file}",
                      "--secret", "id=envtok,env=MY_TOKEN", ".",
                      env={"MY_TOKEN": SECRET})
    assert r.returncode == 0, r.stderr
    assert builder.run("sec", "cat", "/proof", "/mode", "/length").split() == \
        ["file-ok", "env-ok", "440", "17"]
    store = ImageStore(builder.root)
    blobs = _layer_bytes(store, "sec")
    assert not any(SECRET.encode() in b for b in blobs)
    names = [b.decode(errors="replace") for b in blobs]
    assert not any("secrets" in n or "app.key" in n for n in names)  # no mount stubs
    hist = run(["image", "history", "--no-trunc", "sec"]).stdout
    inspect = run(["image", "inspect", "sec"]).stdout
    assert SECRET not in hist and SECRET not in inspect and SECRET not in r.stderr
    # nothing of it stays in the builder's scratch space either
    assert not any((builder.root / "build" / "work").iterdir())


def test_a_required_secret_that_is_missing_is_an_error(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nRUN --mount=type=secret,id=need,required "
                       "cat /run/secrets/need\n")
    r = builder.build(".")
    assert r.returncode == 1 and "Dockerfile:2: RUN --mount=type=secret: secret 'need' is " \
        "required" in r.stderr


def test_copy_through_an_image_symlink_stays_inside_the_image(builder: Builder,
                                                               tmp_path: Path) -> None:
    host_dir = tmp_path / "host-target"
    host_dir.mkdir()
    builder.write("payload.txt", "payload\n")
    builder.dockerfile(f"""\
FROM busybox
RUN mkdir -p {host_dir} && ln -s {host_dir} /link && ln -s /etc /etc-link
COPY payload.txt /link/
COPY payload.txt /etc-link/payload.txt
""")
    builder.ok("-t", "links")
    assert list(host_dir.iterdir()) == []  # the host's directory of that name is untouched
    out = builder.run("links", "cat", f"{host_dir}/payload.txt", "/etc/payload.txt")
    assert out == "payload\npayload\n"  # written inside the image, where the links lead
    assert not Path("/etc/payload.txt").exists()


def test_run_network_modes(builder: Builder) -> None:
    builder.dockerfile("""\
FROM busybox
RUN --network=none ip -o link | cut -d: -f2 | tr -d ' ' | sort > /links-none
RUN ip -o -4 addr | grep -v ' lo ' | wc -l > /addrs-default
""")
    builder.ok("-t", "net")
    out = builder.run("net", "cat", "/links-none", "/addrs-default")
    assert out.split()[0] == "lo" and out.split()[-1] == "1"


def test_build_context_is_only_read(builder: Builder) -> None:
    builder.write("data/file.txt", "x\n")
    builder.dockerfile("FROM busybox\nCOPY . /src\nRUN --mount=type=bind,target=/ctx,rw "
                       "touch /ctx/written-in-run && ls /ctx > /seen\n")
    before = sorted(str(p.relative_to(builder.folder)) for p in builder.folder.rglob("*"))
    mtimes = {p: p.stat().st_mtime_ns for p in builder.folder.rglob("*")}
    builder.ok("-t", "ro")
    after = sorted(str(p.relative_to(builder.folder)) for p in builder.folder.rglob("*"))
    assert before == after
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())


def test_independent_stages_run_at_the_same_time(builder: Builder) -> None:
    """Each stage waits (up to 60 s) for the other to have started: it can only succeed
    when both run at once. No timing is asserted."""
    builder.dockerfile("""\
FROM busybox AS left
RUN --mount=type=cache,target=/meet,id=meet touch /meet/left && \\
    i=0; while [ ! -e /meet/right ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \\
    test -e /meet/right && echo left-met > /left
FROM busybox AS right
RUN --mount=type=cache,target=/meet,id=meet touch /meet/right && \\
    i=0; while [ ! -e /meet/left ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; \\
    test -e /meet/left && echo right-met > /right
FROM scratch
COPY --from=left /left /
COPY --from=right /right /
""")
    builder.ok("-t", "par", timeout=240)
    store = ImageStore(builder.root)
    contents = b"".join(_layer_bytes(store, "par"))
    assert b"left-met" in contents and b"right-met" in contents


def test_image_files_keep_owners_and_the_store_stays_root_only(builder: Builder) -> None:
    builder.dockerfile("FROM busybox\nRUN mkdir /home/app/data && chown 1000:1000 "
                       "/home/app/data && chmod 4755 /bin/busybox\n")
    builder.ok("-t", "own")
    out = builder.run("own", "stat", "-c", "%u:%g %a", "/home/app/data", "/bin/busybox")
    assert out.split("\n")[:2] == ["1000:1000 755", "0:0 4755"]
    for d in (builder.root / "images", builder.root / "build"):
        assert oct(os.stat(d).st_mode & 0o777) == "0o700"
    holds = builder.root / "images" / "holds"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in holds.iterdir())
    assert json.loads(run(["image", "inspect", "own"]).stdout)[0]["Os"] == "linux"

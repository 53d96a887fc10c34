"""docker-py (PyPI ``docker``) used the way its users use it, against the service."""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import time
import urllib.request
from typing import TYPE_CHECKING

import pytest

docker = pytest.importorskip("docker")

if TYPE_CHECKING:
    from conftest import Service


def test_run_a_container_and_read_its_output(api: Service) -> None:
    c = api.client()
    assert c.ping()
    assert c.version()["ApiVersion"] == "1.47"
    out = c.containers.run("busybox", ["sh", "-c", "echo hello; echo oops >&2"],
                           remove=True)
    assert out == b"hello\n"
    both = c.containers.run("busybox", ["sh", "-c", "echo a; echo b >&2"], remove=True,
                            stderr=True)
    assert sorted(both.split()) == [b"a", b"b"]
    with pytest.raises(docker.errors.ContainerError) as e:
        c.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    assert e.value.exit_status == 3 and b"bad" in e.value.stderr
    assert c.containers.list(all=True) == []


def test_detached_with_logs_wait_and_inspect(api: Service) -> None:
    c = api.client()
    ct = c.containers.run("busybox", ["sh", "-c", "echo one; sleep 0.3; echo two; exit 4"],
                          detach=True, name="dpy-detached", labels={"team": "a"})
    assert ct.name == "dpy-detached"
    assert c.containers.get("dpy-detached").id == ct.id
    assert [x.id for x in c.containers.list(filters={"label": "team=a"})] == [ct.id]
    followed = b"".join(ct.logs(stream=True, follow=True))
    assert followed == b"one\ntwo\n"
    assert ct.wait() == {"StatusCode": 4, "Error": None}
    ct.reload()
    assert ct.status == "exited" and ct.attrs["State"]["ExitCode"] == 4
    assert ct.logs(tail=1) == b"two\n"
    assert ct.logs(timestamps=True).split(b" ", 1)[0].endswith(b"Z")
    assert [x.id for x in c.containers.list(all=True, filters={"status": "exited"})] == [ct.id]
    assert c.containers.list() == []
    ct.remove()


def test_exec(api: Service) -> None:
    c = api.client()
    ct = c.containers.run("busybox", ["sleep", "30"], detach=True)
    try:
        assert ct.exec_run(["cat", "/etc/os-release"]).output.startswith(b"NAME=")
        r = ct.exec_run(["sh", "-c", "echo out; echo err >&2; exit 5"], demux=True)
        assert (r.exit_code, r.output) == (5, (b"out\n", b"err\n"))
        r = ct.exec_run("env", environment={"GREETING": "hi"}, workdir="/tmp", user="app")
        assert b"GREETING=hi" in r.output
        assert ct.exec_run("id -u", user="app").output == b"1000\n"
        assert ct.exec_run("pwd", workdir="/tmp").output == b"/tmp\n"
        missing = ct.exec_run(["/no/such"])
        assert missing.exit_code == 127 and b"no such file" in missing.output.lower()
        assert ct.exec_run("sh -c 'sleep 0.2; touch /tmp/done'", detach=True).exit_code is None
        time.sleep(0.6)
        assert ct.exec_run("ls /tmp/done").exit_code == 0
    finally:
        ct.remove(force=True)


def test_put_and_get_archive(api: Service) -> None:
    c = api.client()
    ct = c.containers.run("busybox", ["sleep", "30"], detach=True)
    try:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for name, data in (("hello.txt", b"hello\n"), ("sub/deep.txt", b"deep\n")):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode, ti.uid, ti.gid = len(data), 0o640, 1000, 1000
                t.addfile(ti, io.BytesIO(data))
        assert ct.put_archive("/tmp", buf.getvalue())
        assert ct.exec_run("cat /tmp/hello.txt /tmp/sub/deep.txt").output == b"hello\ndeep\n"
        assert ct.exec_run("stat -c '%a %u' /tmp/hello.txt").output == b"640 1000\n"
        bits, stat = ct.get_archive("/tmp/sub")
        assert stat["name"] == "sub" and stat["mode"] & (1 << 31)  # Go's ModeDir
        with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as tar:
            assert sorted(tar.getnames()) == ["sub", "sub/deep.txt"]
            assert tar.extractfile("sub/deep.txt").read() == b"deep\n"  # type: ignore[union-attr]
        with pytest.raises(docker.errors.NotFound):
            ct.get_archive("/no/such")
        ct.stop(timeout=0)
        bits, _ = ct.get_archive("/tmp/hello.txt")  # a stopped one: from its layers
        with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as tar:
            assert tar.extractfile("hello.txt").read() == b"hello\n"  # type: ignore[union-attr]
    finally:
        ct.remove(force=True)


def test_ports_volumes_and_networks_with_aliases(api: Service) -> None:
    c = api.client()
    web = c.containers.run("busybox", ["httpd", "-f", "-p", "80", "-h", "/var/www"],
                           detach=True, ports={"80/tcp": ("127.0.0.1", None)})
    try:
        web.reload()
        port = web.ports["80/tcp"][0]["HostPort"]
        deadline = time.monotonic() + 10
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html",
                                              timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert body == b"hello from busybox\n"
    finally:
        web.remove(force=True)

    vol = c.volumes.create("dpy-data", labels={"k": "v"})
    c.containers.run("busybox", ["sh", "-c", "echo kept > /data/f"], remove=True,
                     volumes={"dpy-data": {"bind": "/data", "mode": "rw"}})
    assert c.containers.run("busybox", ["cat", "/data/f"], remove=True,
                            volumes=["dpy-data:/data:ro"]) == b"kept\n"
    assert [v.name for v in c.volumes.list(filters={"label": "k=v"})] == ["dpy-data"]
    vol.remove()
    with pytest.raises(docker.errors.NotFound):
        c.volumes.get("dpy-data")

    net = c.networks.create("dpy-net", labels={"purpose": "test"})
    try:
        cfg = c.api.create_networking_config(
            {"dpy-net": c.api.create_endpoint_config(aliases=["web"])})
        srv_id = c.api.create_container("busybox", ["httpd", "-f", "-p", "80", "-h",
                                                    "/var/www"], name="dpy-srv",
                                        networking_config=cfg,
                                        host_config=c.api.create_host_config(
                                            network_mode="dpy-net"))["Id"]
        c.api.start(srv_id)
        other = c.containers.create("busybox", ["sleep", "30"], name="dpy-other")
        net.connect(other, aliases=["buddy"])
        other.start()
        time.sleep(0.3)
        out = c.containers.run("busybox", ["sh", "-c",
                                           "nslookup web; nslookup buddy; "
                                           "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n'"
                                           " | nc -w 3 web 80"],
                               network="dpy-net", remove=True)
        assert b"hello from busybox" in out
        assert out.count(b"Address:") >= 3
        other.reload()
        assert set(other.attrs["NetworkSettings"]["Networks"]) == {"bridge", "dpy-net"}
        assert "buddy" in other.attrs["NetworkSettings"]["Networks"]["dpy-net"]["Aliases"]
        net.reload()
        assert {ct["Name"] for ct in net.attrs["Containers"].values()} >= {"dpy-srv",
                                                                          "dpy-other"}
        net.disconnect(other)
        other.reload()
        assert set(other.attrs["NetworkSettings"]["Networks"]) == {"bridge"}
        assert [n.name for n in c.networks.list(filters={"label": "purpose=test"})] == \
            ["dpy-net"]
    finally:
        for name in ("dpy-srv", "dpy-other"):
            with contextlib.suppress(docker.errors.NotFound):
                c.containers.get(name).remove(force=True)
        net.remove()


def test_images_list_tag_history_save_load_remove(api: Service) -> None:
    c = api.client()
    im = c.images.get("busybox")
    assert im.tags == ["busybox:latest"]
    assert im.id.startswith("sha256:")
    assert im.history()[0]["Id"] == im.id
    im.tag("dpy/box", "v1")
    assert sorted(c.images.get("dpy/box:v1").tags) == ["busybox:latest", "dpy/box:v1"]
    assert [i.id for i in c.images.list(name="dpy/box")] == [im.id]
    data = b"".join(c.images.get("dpy/box:v1").save(named=True))
    c.images.remove("dpy/box:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        c.images.get("dpy/box:v1")
    loaded = c.images.load(data)
    assert "dpy/box:v1" in loaded[0].tags
    c.images.remove("dpy/box:v1")
    assert c.images.get("busybox").tags == ["busybox:latest"]


def test_build_from_a_dockerfile(api: Service) -> None:
    c = api.client()
    dockerfile = b'FROM busybox\nARG WHO=world\nRUN echo "hello $WHO" > /greeting\n' \
                 b'CMD ["cat", "/greeting"]\n'
    img, logs = c.images.build(fileobj=io.BytesIO(dockerfile), tag="dpy-built:1",
                               buildargs={"WHO": "docker-py"})
    try:
        assert "dpy-built:1" in img.tags
        assert any("Successfully built" in m.get("stream", "") for m in logs)
        assert c.containers.run("dpy-built:1", remove=True) == b"hello docker-py\n"
        with pytest.raises(docker.errors.BuildError):
            c.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 7\n"))
    finally:
        c.images.remove("dpy-built:1", force=True)


def test_events(api: Service) -> None:
    c = api.client()
    seen: list[str] = []
    since = time.time()

    def watch() -> None:
        for e in c.events(decode=True, filters={"type": "container", "label": "ev=1"}):
            seen.append(e["Action"])
            if e["Action"] == "destroy":
                return
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    time.sleep(0.3)
    c.containers.run("busybox", "true", remove=True, labels={"ev": "1"})
    t.join(10)
    assert seen[:2] == ["create", "start"] and "die" in seen and seen[-1] == "destroy"
    # since/until: what happened, then the stream ends
    past = list(c.events(decode=True, since=since, until=time.time(),
                         filters={"label": "ev=1"}))
    assert [e["Action"] for e in past][:2] == ["create", "start"]
    assert all(e["Actor"]["Attributes"]["ev"] == "1" for e in past)


def test_errors_have_dockers_kinds(api: Service) -> None:
    c = api.client()
    with pytest.raises(docker.errors.NotFound) as nf:
        c.containers.get("no-such-container")
    assert nf.value.status_code == 404
    assert "No such container: no-such-container" in str(nf.value.explanation)
    with pytest.raises(docker.errors.ImageNotFound):
        c.images.get("no-such-image:1")
    with pytest.raises(docker.errors.ImageNotFound):
        c.api.create_container("no-such-image:1", "true")
    ct = c.containers.run("busybox", ["sleep", "30"], detach=True, name="dpy-busy")
    try:
        with pytest.raises(docker.errors.APIError) as conflict:
            c.containers.run("busybox", "true", name="dpy-busy")
        assert conflict.value.status_code == 409
        with pytest.raises(docker.errors.APIError) as running:
            ct.remove()
        assert running.value.status_code == 409
        with pytest.raises(docker.errors.APIError) as bad:
            c.api.create_container("busybox", "true", host_config={"Memory": "lots"})
        assert bad.value.status_code == 400
        ct.kill()
        assert ct.wait()["StatusCode"] == 137
        with pytest.raises(docker.errors.APIError) as stopped:
            ct.kill()
        assert stopped.value.status_code == 409
    finally:
        ct.remove(force=True)

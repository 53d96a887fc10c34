"""docker-py against the service where its own integration suite found us apart from
docker's daemon: the answers of a node without swarm, kill's end, the asked endpoint
settings in inspect, exec's terminal and framing, the classic builder's stream, load's
errors, commit, a dropped swappiness, and the socket of a service that ends."""

from __future__ import annotations

import io
import ipaddress
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pctest.cli import PYCOMPOSE

docker = pytest.importorskip("docker")

if TYPE_CHECKING:
    from conftest import Engine, Service


def test_a_node_without_swarm_answers_as_docker(api: Service) -> None:
    c = api.client()
    assert c.api.leave_swarm(force=True) is True  # docker-py's cleanup: nothing to leave
    with pytest.raises(docker.errors.APIError) as e:
        c.swarm.init()
    assert e.value.response.status_code == 503 and "swarm" in str(e.value.explanation)
    for call in (c.api.inspect_swarm, c.api.services, c.api.nodes, c.api.secrets):
        with pytest.raises(docker.errors.APIError) as e:
            call()
        assert e.value.response.status_code == 503
        assert "not a swarm manager" in str(e.value.explanation)
    assert c.plugins.list() == []
    with pytest.raises(docker.errors.NotFound):
        c.plugins.get("no/such-plugin")


def test_kill_answers_once_the_container_has_ended(api: Service) -> None:
    c = api.client()
    ct = c.containers.run("busybox", ["sleep", "300"], detach=True)
    try:
        ct.kill()
        ct.reload()  # right away: no polling
        assert ct.status == "exited"
        assert ct.attrs["State"]["Running"] is False
        assert ct.attrs["State"]["ExitCode"] == 137
    finally:
        ct.remove(force=True)


def test_inspect_shows_the_asked_endpoint_settings(api: Service) -> None:
    c = api.client()
    net = c.networks.create("dpy-ep")
    try:
        subnet = ipaddress.ip_network(net.attrs["IPAM"]["Config"][0]["Subnet"])
        ip = str(subnet.network_address + 23)
        cid = c.api.create_container(
            "busybox", ["sleep", "300"],
            host_config=c.api.create_host_config(network_mode="dpy-ep"),
            networking_config=c.api.create_networking_config(
                {"dpy-ep": c.api.create_endpoint_config(ipv4_address=ip,
                                                        aliases=["db"])}))["Id"]
        c.api.start(cid)
        ep = c.api.inspect_container(cid)["NetworkSettings"]["Networks"]["dpy-ep"]
        assert ep["IPAddress"] == ip
        assert ep["IPAMConfig"] == {"IPv4Address": ip}
        assert ep["Aliases"] == ["db"]
        c.api.remove_container(cid, force=True)

        # a container that never ran shows the network it was connected to
        created = c.containers.create("busybox", ["true"])
        try:
            net.connect(created, aliases=["later"])
            created.reload()
            nets = created.attrs["NetworkSettings"]["Networks"]
            assert nets["dpy-ep"]["Aliases"] == ["later"]
            net.disconnect(created)
            with pytest.raises(docker.errors.NotFound):  # docker: even with force
                net.disconnect(created, force=True)
        finally:
            created.remove(force=True)
    finally:
        net.remove()


def test_a_network_name_pycompose_cannot_take_is_a_400(api: Service) -> None:
    c = api.client()
    with pytest.raises(docker.errors.APIError) as e:
        c.networks.create("two words")
    assert e.value.response.status_code == 400
    assert "two words" in str(e.value.explanation)


def test_exec_keeps_the_created_terminal_and_frames_as_the_start_asks(api: Service) -> None:
    c = api.client()
    ct = c.containers.run("busybox", ["sleep", "300"], detach=True)
    try:
        cmd = ["sh", "-c", "echo out; echo err >&2"]
        # created with a terminal, started as docker-py does (Tty false): one stream
        # of stdout frames, the terminal's \r\n in it
        eid = c.api.exec_create(ct.id, cmd, tty=True)["Id"]
        assert c.api.exec_start(eid, demux=True) == (b"out\r\nerr\r\n", None)
        eid = c.api.exec_create(ct.id, cmd, tty=True)["Id"]
        assert c.api.exec_start(eid, tty=True) == b"out\r\nerr\r\n"
        # no terminal: the two streams apart
        eid = c.api.exec_create(ct.id, cmd)["Id"]
        assert c.api.exec_start(eid, demux=True) == (b"out\n", b"err\n")
        # field names are matched as Go matches them: regardless of case
        status, _, body = api.request("POST", f"/containers/{ct.id}/exec",
                                      {"cmd": ["true"], "attachstdout": True})
        assert status == 201, body
    finally:
        ct.remove(force=True)


def test_the_classic_builders_stream(api: Service, tmp_path: Path) -> None:
    c = api.client()
    dockerfile = b"FROM busybox\nENV A=1\nRUN cat /etc/hosts\n"
    extra = {"one.test": "127.0.0.1", "two.test": "127.0.0.2"}
    try:
        lines = [m.get("stream", "") for m in c.api.build(
            fileobj=io.BytesIO(dockerfile), tag="dpy-classic", decode=True,
            extra_hosts=extra)]
        steps = [ln.strip() for ln in lines if ln.startswith("Step ")]
        assert steps == ["Step 1/3 : FROM busybox", "Step 2/3 : ENV A=1",
                         "Step 3/3 : RUN cat /etc/hosts"]
        out = "".join(lines)
        assert "127.0.0.1\tone.test" in out and "127.0.0.2\ttwo.test" in out
        again = [m.get("stream", "") for m in c.api.build(
            fileobj=io.BytesIO(dockerfile), tag="dpy-classic", decode=True,
            extra_hosts=extra)]
        assert sum("Using cache" in ln for ln in again) == 2  # ENV and RUN, not FROM
        assert "Successfully tagged dpy-classic" in again[-1]

        with pytest.raises(docker.errors.BuildError) as e:
            c.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 3\n"))
        assert "The command '/bin/sh -c exit 3' returned a non-zero code: 3" in str(e.value)

        # a Dockerfile outside the context: docker-py adds it to the tar under a name
        # of its own and sends dockerfile=NAME&dockerfile=CONTENT
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "f.txt").write_text("from the context\n")
        other = tmp_path / "elsewhere" / "Dockerfile"
        other.parent.mkdir()
        other.write_bytes(b"FROM busybox\nCOPY f.txt /f.txt\nCMD [\"cat\", \"/f.txt\"]\n")
        c.images.build(path=str(ctx), dockerfile=str(other), tag="dpy-outside")
        assert c.containers.run("dpy-outside", remove=True) == b"from the context\n"
    finally:
        for tag in ("dpy-classic", "dpy-outside"):
            try:
                c.images.remove(tag, force=True)
            except docker.errors.ImageNotFound:
                pass


def test_load_of_a_bad_archive_is_docker_pys_image_load_error(api: Service) -> None:
    c = api.client()
    with pytest.raises(docker.errors.ImageLoadError) as e:
        c.images.load(b"this is not an image archive")
    assert "could not be loaded" in str(e.value)
    assert c.ping()  # and the service goes on (the fixture checks its log)


def test_commit_of_an_ended_container(api: Service) -> None:
    c = api.client()
    ct = c.containers.run("busybox", ["sh", "-c", "echo made > /made"], detach=True)
    try:
        ct.wait()
        base = c.images.get("busybox").id
        for pause in (True, False):
            img = ct.commit(repository="dpy-committed", tag=str(pause).lower(),
                            pause=pause)
            assert img.id != base
            assert c.containers.run(img.id, ["cat", "/made"], remove=True) == b"made\n"
    finally:
        ct.remove(force=True)
        for tag in ("true", "false"):
            c.images.remove(f"dpy-committed:{tag}", force=True)


def test_swappiness_is_dropped_with_dockers_warning(api: Service) -> None:
    c = api.client()
    made = c.api.create_container("busybox", ["true"],
                                  host_config=c.api.create_host_config(mem_swappiness=40))
    try:
        assert any("swappiness" in w for w in made["Warnings"])
        host = c.api.inspect_container(made["Id"])["HostConfig"]
        assert "MemorySwappiness" in host
    finally:
        c.api.remove_container(made["Id"], force=True)
    with pytest.raises(docker.errors.APIError) as e:
        c.api.create_container("busybox", ["true"],
                               host_config=c.api.create_host_config(mem_swappiness=200))
    assert e.value.response.status_code == 400


def _serve(sock: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([PYCOMPOSE, "system", "service", "--time", "0",
                                 f"unix://{sock}"], stdout=out, stderr=subprocess.STDOUT)


def _answers(sock: Path) -> bool:
    try:
        return bool(docker.DockerClient(base_url=f"unix://{sock}", timeout=5).ping())
    except (docker.errors.DockerException, OSError):
        return False


def test_a_service_that_ends_leaves_a_newer_ones_socket(engine: Engine) -> None:
    base = Path(tempfile.mkdtemp(prefix="pcapi-", dir="/tmp"))
    sock, log = base / "run" / "docker.sock", base / "service.log"
    first = _serve(sock, log)
    second = None
    try:
        deadline = time.monotonic() + 20
        while not _answers(sock):
            assert time.monotonic() < deadline and first.poll() is None, log.read_text()
            time.sleep(0.05)
        ino = os.stat(sock).st_ino
        second = _serve(sock, log)  # replaces the socket with its own
        while os.stat(sock).st_ino == ino:
            assert time.monotonic() < deadline and second.poll() is None, log.read_text()
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        first.wait(15)
        assert sock.is_socket() and _answers(sock)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(15)
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_diff_shows_what_the_command_changed_only(api: Service) -> None:
    c = api.client()
    ct = c.containers.run("busybox", ["touch", "/made"], detach=True)
    try:
        ct.wait()
        # not the mount points of the engine's own /etc/hosts, hostname, resolv.conf
        assert ct.diff() == [{"Path": "/made", "Kind": 1}]
    finally:
        ct.remove(force=True)
    ct = c.containers.run("busybox", ["sh", "-c", "echo x > /etc/extra; rm /etc/group"],
                          detach=True)
    try:
        ct.wait()
        assert ct.diff() == [{"Path": "/etc", "Kind": 0}, {"Path": "/etc/extra", "Kind": 1},
                             {"Path": "/etc/group", "Kind": 2}]
    finally:
        ct.remove(force=True)


def test_an_unknown_log_driver_is_dockers_error(api: Service) -> None:
    c = api.client()
    with pytest.raises(docker.errors.APIError) as e:
        c.api.create_container("busybox", ["true"], host_config=c.api.create_host_config(
            log_config=docker.types.LogConfig(type="no-such-driver")))
    assert e.value.response.status_code == 400
    assert e.value.explanation == "logger: no log driver named 'no-such-driver' is registered"


def test_a_volume_subpath_is_refused_not_ignored(api: Service) -> None:
    c = api.client()
    mount = docker.types.Mount("/mnt", "dpy-sub", type="volume")
    mount["VolumeOptions"] = {"Subpath": "part"}
    with pytest.raises(docker.errors.APIError) as e:
        c.containers.create("busybox", ["true"], mounts=[mount])
    assert e.value.response.status_code == 400 and "Subpath" in str(e.value.explanation)
    assert c.containers.list(all=True) == []


def test_attach_with_logs_of_an_ended_container_under_load(api: Service) -> None:
    """docker-py reads a hijacked answer's head buffered and the rest from the socket:
    a slow client (here: other threads holding its GIL) lost the history that came
    right after the head."""
    import threading

    c = api.client()
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(10000))
    burners = [threading.Thread(target=burn) for _ in range(2)]
    for t in burners:
        t.start()
    try:
        for _ in range(8):
            cid = c.api.create_container("busybox", ["echo", "hello"])["Id"]
            c.api.start(cid)
            c.api.wait(cid, condition="not-running")
            assert c.api.attach(cid, stream=False, logs=True) == b"hello\n"
            c.api.remove_container(cid)
    finally:
        stop.set()
        for t in burners:
            t.join()


def test_mac_address_of_the_create_is_the_first_networks(api: Service) -> None:
    c = api.client()
    mac = "02:42:ac:11:00:3c"
    cid = c.api.create_container("busybox", ["sleep", "300"], mac_address=mac)["Id"]
    try:
        c.api.start(cid)
        ns = c.api.inspect_container(cid)["NetworkSettings"]
        assert ns["Networks"]["bridge"]["MacAddress"] == mac
        assert ns["MacAddress"] == mac  # the deprecated top-level field: the bridge's
        out = c.api.exec_start(c.api.exec_create(cid, ["cat", "/sys/class/net/eth0/address"]))
        assert out == mac.encode() + b"\n"
    finally:
        c.api.remove_container(cid, force=True)
    with pytest.raises(docker.errors.APIError) as e:
        c.api.create_container("busybox", ["true"], mac_address=mac,
                               host_config=c.api.create_host_config(network_mode="none"))
    assert e.value.response.status_code == 400


def test_login_to_a_registry_no_one_serves(api: Service) -> None:
    import socket

    with socket.socket() as s:  # a loopback port with no one behind it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = api.client()
    with pytest.raises(docker.errors.APIError) as e:
        c.login("someone", "secret", registry=f"127.0.0.1:{port}")
    assert e.value.response.status_code == 503
    assert f"127.0.0.1:{port}: cannot reach the registry" in str(e.value.explanation)


def test_build_and_tag_errors_name_what_the_user_wrote(api: Service) -> None:
    c = api.client()
    with pytest.raises(docker.errors.BuildError) as e:
        c.images.build(fileobj=io.BytesIO(b"FROM busybox\nFROMM busybox\n"))
    assert str(e.value).startswith("Dockerfile:2: unknown instruction: FROMM")
    assert "/build/work/" not in str(e.value)  # not the builder's unpacked context
    with pytest.raises(docker.errors.APIError) as e2:
        c.images.get("busybox").tag("NotLowerCase")
    assert e2.value.response.status_code == 400
    assert e2.value.explanation.count("invalid reference format") == 1

"""What ``ps --format json`` and ``run`` make of a record and a service: docker
compose's keys and shapes, pure (no engine)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pycompose.cli.compose_info import ps_row, publishers
from pycompose.engine.api import ContainerRecord

RAW = {
    "Id": "f" * 64, "Name": "/p-web-1", "Created": "2026-12-01T09:00:00.000000000Z",
    "Path": "httpd", "Args": ["-f", "-p", "8080", "-h", "/var/www/with/a/long/path"],
    "Config": {"Image": "busybox", "Labels": {
        "com.docker.compose.project": "p", "com.docker.compose.service": "web",
        "com.docker.compose.image": "busybox:latest"},
        "Healthcheck": {"Test": ["CMD", "true"]}},
    "State": {"Status": "running", "ExitCode": 0, "StartedAt": "2026-12-01T09:00:01Z",
              "Health": {"Status": "healthy"}},
    "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8081"}],
                                  "9000/udp": None},
                        "Networks": {"p_default": {}}},
    "Mounts": [{"Type": "volume", "Name": "p_data", "Source": "/x"}],
}


def test_ps_row_has_docker_compose_keys_and_shapes() -> None:
    row = ps_row(ContainerRecord(RAW))
    assert sorted(row) == sorted(
        ["Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels",
         "LocalVolumes", "Mounts", "Name", "Names", "Networks", "Ports", "Project",
         "Publishers", "RunningFor", "Service", "Size", "State", "Status"])
    assert row["ID"] == "f" * 12 and row["Project"] == "p" and row["Service"] == "web"
    assert row["Image"] == "busybox:latest" and row["Health"] == "healthy"
    assert row["CreatedAt"] == "2026-12-01 09:00:00 +0000 UTC"
    assert row["Command"].startswith('"httpd -f') and row["Command"].endswith('…"')
    assert ps_row(ContainerRecord(RAW), no_trunc=True)["ID"] == "f" * 64
    assert row["LocalVolumes"] == "1" and row["Networks"] == "p_default"
    assert "com.docker.compose.service=web" in row["Labels"].split(",")
    assert row["Ports"] == "127.0.0.1:8081->8080/tcp, 9000/udp"


def test_publishers_are_typed() -> None:
    assert publishers(ContainerRecord(RAW)) == [
        {"URL": "127.0.0.1", "TargetPort": 8080, "PublishedPort": 8081, "Protocol": "tcp"},
        {"URL": "", "TargetPort": 9000, "PublishedPort": 0, "Protocol": "udp"}]


def test_one_off_request(tmp_path: Path, monkeypatch: object) -> None:
    from pycompose.cli.compose_run import LABEL_SLUG, one_off_request
    from pycompose.compose.loader import LoadOptions, load
    from pycompose.compose.model import validate

    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n    ports: ['8080:80']\n"
        "    environment: {A: '1', B: '2'}\n    restart: always\n")
    project = validate(load(LoadOptions(files=(str(tmp_path / "compose.yaml"),),
                                        project_name="p", environ={}, cwd=str(tmp_path))))
    args = argparse.Namespace(
        service="web", name=None, label=["k=v"], command=["--", "echo", "hi"],
        entrypoint=None, env=["B=3"], env_from_file=[], user="nobody", workdir="/tmp",
        service_ports=False, publish=["127.0.0.1:9000:90"], volume=[], cap_add=["NET_ADMIN"],
        cap_drop=[], use_aliases=False, rm=True, detach=False, tty=False, no_tty=True,
        interactive=True)
    req = one_off_request(project, args, "ab" * 32)
    assert req.name == "p-web-run-" + "ab" * 6
    assert req.labels["com.docker.compose.oneoff"] == "True"
    assert req.labels[LABEL_SLUG] == "ab" * 32 and req.labels["k"] == "v"
    assert req.command == ["echo", "hi"] and req.user == "nobody" and req.workdir == "/tmp"
    assert "A=1" in req.env and "B=3" in req.env and "B=2" not in req.env
    assert [p.host_port for p in req.ports] == [9000]  # the service's ports are not published
    assert req.restart.name == "no" and req.auto_remove and not req.tty
    assert all(not ep.aliases for ep in req.endpoints)
    assert "NET_ADMIN" in req.cap_add

"""A compose service becomes the engine's typed create request: what `up` asks for."""

from __future__ import annotations

from pathlib import Path

from pycompose.compose import translate as T
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate
from pycompose.engine.api import (
    Endpoint,
    Mount,
    PortBinding,
    Resources,
    RestartPolicy,
    Ulimit,
)


def project(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="demo")))


def test_names_labels_and_hash(tmp_path: Path) -> None:
    p = project(tmp_path, "services:\n  web:\n    image: nginx\n    labels: {a: '1'}\n")
    o = T.create_request(p, "web", p.services["web"], 1)
    assert o.name == "demo-web-1"
    labels = o.labels
    assert labels["a"] == "1"
    assert labels[T.LABEL_PROJECT] == "demo"
    assert labels[T.LABEL_SERVICE] == "web"
    assert labels[T.LABEL_NUMBER] == "1"
    assert len(labels[T.LABEL_HASH]) == 64
    assert o.endpoints == [Endpoint("demo_default", ["web"])]
    assert o.scope == "demo"


def test_hash_changes_with_the_config_not_with_scale(tmp_path: Path) -> None:
    a = project(tmp_path, "services: {web: {image: nginx, scale: 1}}")
    b = project(tmp_path, "services: {web: {image: nginx, scale: 3}}")
    c = project(tmp_path, "services: {web: {image: nginx, scale: 1, user: app}}")
    assert T.config_hash(a, "web") == T.config_hash(b, "web") != T.config_hash(c, "web")


def test_full_service(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  web:
    image: busybox
    container_name: front
    entrypoint: ["/bin/sh", "-c"]
    command: echo hi
    environment: {A: "1", UNSET: null}
    ports: ["127.0.0.1:8080:80", "53:53/udp", "9000"]
    volumes:
      - data:/data
      - ./src:/src:ro
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 1m}
    networks:
      front: {aliases: [www], ipv4_address: 172.30.0.10}
    hostname: h
    user: "1000"
    working_dir: /srv
    restart: unless-stopped
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    ulimits: {nofile: 1024}
    sysctls: {net.core.somaxconn: "1024"}
    cap_add: [NET_ADMIN]
    read_only: true
    init: true
    stop_grace_period: 3s
    extra_hosts: ["db.local:10.1.2.3"]
networks:
  front:
    ipam: {config: [{subnet: 172.30.0.0/24}]}
volumes:
  data: {}
""")
    o = T.create_request(p, "web", p.services["web"], 1)
    assert o.name == "front"
    assert o.entrypoint == ["/bin/sh", "-c"]
    assert o.command == ["echo", "hi"]
    assert o.env == ["A=1"]
    assert o.ports == [PortBinding("127.0.0.1", 8080, 80, "tcp"),
                       PortBinding("", 53, 53, "udp"), PortBinding("", None, 9000, "tcp")]
    assert o.mounts == [Mount("volume", "/data", "demo_data"),
                        Mount("bind", "/src", f"{tmp_path}/src", read_only=True,
                              create_host_path=True),
                        Mount("tmpfs", "/scratch", tmpfs_size=1048576)]
    assert o.endpoints == [Endpoint("demo_front", ["web", "www"], "172.30.0.10")]
    assert (o.hostname, o.user, o.workdir) == ("h", "1000", "/srv")
    assert o.restart == RestartPolicy("unless-stopped")
    assert o.resources == Resources(memory=64 << 20, nano_cpus=500_000_000, pids_limit=50)
    assert o.ulimits == [Ulimit("nofile", 1024, 1024)]
    assert o.sysctls == {"net.core.somaxconn": "1024"}
    assert o.cap_add == ["NET_ADMIN"]
    assert o.read_only and o.init
    assert o.stop_timeout == 3
    assert o.extra_hosts == ["db.local:10.1.2.3"]


def test_a_published_range_stays_a_range(tmp_path: Path) -> None:
    p = project(tmp_path, "services: {web: {image: x, scale: 3, ports: ['6005-6015:80']}}")
    o = T.create_request(p, "web", p.services["web"], 2)
    assert o.ports == [PortBinding("", 6005, 80, "tcp", 6015)]


def test_network_modes(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  a: {image: x, network_mode: host}
  b: {image: x, network_mode: "service:a"}
  c: {image: x, network_mode: none}
""")
    assert T.create_request(p, "a", p.services["a"], 1).network == "host"
    assert T.create_request(p, "a", p.services["a"], 1).endpoints == []
    assert T.create_request(p, "b", p.services["b"], 1,
                            network_container="abc123").network == "container:abc123"
    assert T.create_request(p, "c", p.services["c"], 1).network == "none"


def test_deploy_keys(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  w:
    image: x
    deploy:
      replicas: 3
      restart_policy: {condition: on-failure, max_attempts: 2}
      resources: {limits: {memory: 32m, cpus: "0.25", pids: 10}}
""")
    svc = p.services["w"]
    assert T.replicas(svc) == 3
    o = T.create_request(p, "w", svc, 2)
    assert o.name == "demo-w-2"
    assert o.restart == RestartPolicy("on-failure", 2)
    assert o.resources == Resources(memory=32 << 20, nano_cpus=250_000_000, pids_limit=10)


def test_file_secrets_and_configs_are_read_only_binds(tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text("s3cret")
    (tmp_path / "app.conf").write_text("x=1")
    p = project(tmp_path, """
services:
  web:
    image: x
    secrets: [pw, {source: tok, target: token}]
    configs: [{source: conf, target: /etc/app.conf}]
secrets:
  pw: {file: ./pw.txt}
  tok: {environment: TOKEN}
configs:
  conf: {file: ./app.conf}
""")
    o = T.create_request(p, "web", p.services["web"], 1)
    assert o.mounts == [
        Mount("bind", "/run/secrets/pw", f"{tmp_path}/pw.txt", read_only=True),
        Mount("bind", "/etc/app.conf", f"{tmp_path}/app.conf", read_only=True),
    ]
    assert T.unsupported_secrets(p, "web", p.services["web"]) == ["services.web.secrets.tok"]


def test_ipc_service_joins_the_first_container_by_name(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  infra: {image: a}
  app: {image: a, ipc: "service:infra", network_mode: "service:infra"}
  host: {image: a, ipc: host}
  plain: {image: a}
""")
    assert T.create_request(p, "app", p.services["app"], 1).ipc == "container:demo-infra-1"
    assert T.create_request(p, "host", p.services["host"], 1).ipc == "host"
    assert T.create_request(p, "plain", p.services["plain"], 1).ipc == ""


def test_logging_becomes_the_log_config(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  a: {image: x, logging: {driver: local, options: {max-size: 5m, max-file: 3, tag: null}}}
  b: {image: x, logging: {options: {max-size: 1m}}}
  c: {image: x}
""")
    a = T.create_request(p, "a", p.services["a"], 1).log_config
    assert (a.type, a.config) == ("local", {"max-size": "5m", "max-file": "3"})
    b = T.create_request(p, "b", p.services["b"], 1).log_config
    assert (b.type, b.config) == ("", {"max-size": "1m"})
    c = T.create_request(p, "c", p.services["c"], 1).log_config
    assert (c.type, c.config) == ("", {})


def test_devices_both_syntaxes_and_cgroup_rules(tmp_path: Path) -> None:
    from pycompose.engine.api import DeviceCgroupRule, DeviceMapping

    p = project(tmp_path, """
services:
  vpn:
    image: busybox
    devices:
      - /dev/net/tun
      - /dev/fuse:/dev/myfuse:r
      - /dev/kvm:rw
      - {source: /dev/loop-control, target: /dev/lc, permissions: rm}
      - {source: /dev/zero}
    device_cgroup_rules: ["c 10:* rwm", "b *:* m"]
""")
    o = T.create_request(p, "vpn", p.services["vpn"], 1)
    assert o.devices == [DeviceMapping("/dev/net/tun", "/dev/net/tun", "rwm"),
                         DeviceMapping("/dev/fuse", "/dev/myfuse", "r"),
                         DeviceMapping("/dev/kvm", "/dev/kvm", "rw"),
                         DeviceMapping("/dev/loop-control", "/dev/lc", "rm"),
                         DeviceMapping("/dev/zero", "/dev/zero", "rwm")]
    assert o.device_cgroup_rules == [DeviceCgroupRule("c", 10, None, "rwm"),
                                     DeviceCgroupRule("b", None, None, "m")]
    assert T.create_request(p, "vpn", p.services["vpn"], 1) == o


def test_bad_device_permissions_and_rules_load_and_are_refused_at_create(
        tmp_path: Path) -> None:
    """As compose-go: they load (``config`` prints them); the engine judges them."""
    import pytest

    from pycompose.engine.api import InvalidArgument

    p = project(tmp_path, "services:\n  a:\n    image: busybox\n"
                          "    devices: ['/dev/fuse:/dev/fuse:rx']\n")
    with pytest.raises(InvalidArgument, match=r"invalid services.a.devices '/dev/fuse': "
                                              r"bad mode specified: rx"):
        T.create_request(p, "a", p.services["a"], 1)
    p = project(tmp_path, "services:\n  a:\n    image: busybox\n"
                          "    device_cgroup_rules: ['c 10 rw']\n")
    with pytest.raises(InvalidArgument, match=r"invalid services.a.device_cgroup_rules: "
                                              r"invalid device cgroup format 'c 10 rw'"):
        T.create_request(p, "a", p.services["a"], 1)

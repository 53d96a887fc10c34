"""A compose service becomes the engine's create options: what `up` asks the engine for."""

from __future__ import annotations

from pathlib import Path

from pycompose.compose import translate as T
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate


def project(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="demo")))


def test_names_labels_and_hash(tmp_path: Path) -> None:
    p = project(tmp_path, "services:\n  web:\n    image: nginx\n    labels: {a: '1'}\n")
    o = T.run_options(p, "web", p.services["web"], 1)
    assert o["name"] == "demo-web-1"
    labels = dict(item.split("=", 1) for item in o["labels"])
    assert labels["a"] == "1"
    assert labels[T.LABEL_PROJECT] == "demo"
    assert labels[T.LABEL_SERVICE] == "web"
    assert labels[T.LABEL_NUMBER] == "1"
    assert len(labels[T.LABEL_HASH]) == 64
    assert o["networks"] == [{"name": "demo_default", "aliases": ["web"]}]


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
    o = T.run_options(p, "web", p.services["web"], 1)
    assert o["name"] == "front"
    assert o["entrypoint"] == ["/bin/sh", "-c"]
    assert o["command"] == ["echo", "hi"]
    assert o["env"] == ["A=1"]
    assert o["publish"] == ["127.0.0.1:8080:80/tcp", "53:53/udp", "9000/tcp"]
    assert o["mounts"] == ["type=volume,source=demo_data,target=/data",
                           f"type=bind,source={tmp_path}/src,target=/src,readonly"]
    assert o["tmpfs"] == ["/scratch:size=1048576"]
    assert o["networks"] == [{"name": "demo_front", "aliases": ["web", "www"],
                              "ipv4_address": "172.30.0.10"}]
    assert (o["hostname"], o["user"], o["workdir"]) == ("h", "1000", "/srv")
    assert o["restart"] == "unless-stopped"
    assert (o["memory"], o["cpus"], o["pids_limit"]) == ("67108864", "0.5", 50)
    assert o["ulimits"] == ["nofile=1024:1024"]
    assert o["sysctls"] == ["net.core.somaxconn=1024"]
    assert o["cap_add"] == ["NET_ADMIN"]
    assert o["read_only"] and o["init"]
    assert o["stop_timeout"] == 3
    assert o["extra_hosts"] == ["db.local:10.1.2.3"]


def test_network_modes(tmp_path: Path) -> None:
    p = project(tmp_path, """
services:
  a: {image: x, network_mode: host}
  b: {image: x, network_mode: "service:a"}
  c: {image: x, network_mode: none}
""")
    assert T.run_options(p, "a", p.services["a"], 1)["network"] == "host"
    assert "networks" not in T.run_options(p, "a", p.services["a"], 1)
    assert T.run_options(p, "b", p.services["b"], 1,
                         network_container="abc123")["network"] == "container:abc123"
    assert T.run_options(p, "c", p.services["c"], 1)["network"] == "none"


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
    o = T.run_options(p, "w", svc, 2)
    assert o["name"] == "demo-w-2"
    assert o["restart"] == "on-failure:2"
    assert (o["memory"], o["cpus"], o["pids_limit"]) == (str(32 * 1024 * 1024), "0.25", 10)


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
    o = T.run_options(p, "web", p.services["web"], 1)
    assert o["mounts"] == [
        f"type=bind,source={tmp_path}/pw.txt,target=/run/secrets/pw,readonly",
        f"type=bind,source={tmp_path}/app.conf,target=/etc/app.conf,readonly",
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
    assert T.run_options(p, "app", p.services["app"], 1)["ipc"] == "container:demo-infra-1"
    assert T.run_options(p, "host", p.services["host"], 1)["ipc"] == "host"
    assert "ipc" not in T.run_options(p, "plain", p.services["plain"], 1)

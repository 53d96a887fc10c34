"""Services, validated from real files through the loader: every key loads, short
forms come out long, and the project-wide checks name both sides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import NOT_HONOURED, Project, unhonoured_keys, validate


def project_of(tmp_path: Path, text: str, env: dict[str, str] | None = None,
               profiles: tuple[str, ...] = (), files: dict[str, str] | None = None) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ=env or {},
                                     profiles=profiles)))


def error_of(tmp_path: Path, text: str, **kw: Any) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        project_of(tmp_path, text, **kw)
    return info.value


def test_every_service_key_of_the_spec_loads(tmp_path: Path) -> None:
    """One service that sets every key of the spec's service definition."""
    p = project_of(tmp_path, """
services:
  all:
    annotations: [a=1]
    attach: false
    build:
      context: .
      dockerfile: Containerfile
      args: {A: 1}
      ssh: [default]
      labels: [l=1]
      cache_from: [x]
      cache_to: [y]
      no_cache: true
      additional_contexts: {b: ../b}
      network: host
      provenance: true
      sbom: "false"
      pull: true
      target: prod
      shm_size: 64m
      extra_hosts: [h=1.2.3.4]
      isolation: default
      privileged: false
      secrets: [s]
      tags: [t:1]
      ulimits: {nofile: 10}
      platforms: [linux/amd64]
      entitlements: [network.host]
    blkio_config:
      weight: 300
      weight_device: [{path: /dev/sda, weight: 400}]
      device_read_bps: [{path: /dev/sda, rate: 12mb}]
      device_write_iops: [{path: /dev/sda, rate: 30}]
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    cgroup: private
    cgroup_parent: p
    command: echo hi
    configs: [c, {source: c, target: /c2, uid: "1", gid: "2", mode: 0440}]
    container_name: the-one
    cpu_count: 2
    cpu_percent: 50
    cpu_shares: 512
    cpu_quota: 50000
    cpu_period: 100000
    cpu_rt_period: 1000
    cpu_rt_runtime: 900
    cpus: 1.5
    cpuset: 0-1
    credential_spec: {config: x}
    depends_on: {other: {condition: service_healthy, restart: true}}
    deploy:
      mode: replicated
      replicas: 1
      labels: {a: b}
      resources:
        limits: {cpus: "0.5", memory: 1g, pids: 100}
        reservations: {memory: 10m, devices: [{capabilities: [gpu], count: 1}]}
      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 1m}
      update_config: {parallelism: 2, delay: 10s, order: stop-first}
      placement: {constraints: [a==b]}
    develop:
      watch: [{path: ./src, action: sync, target: /app}]
    device_cgroup_rules: ["c 1:3 mr"]
    devices: [/dev/null, {source: /dev/zero, target: /dev/z, permissions: r}]
    dns: 8.8.8.8
    dns_opt: [use-vc]
    dns_search: example.com
    domainname: example.com
    entrypoint: [/bin/sh, -c]
    env_file: [{path: ./missing.env, required: false}]
    environment: {A: 1}
    expose: [80, "90"]
    external_links: [x:y]
    extra_hosts: {h: 1.2.3.4}
    gpus: all
    group_add: [audio, 100]
    healthcheck: {test: [CMD, true], interval: 10s, timeout: 2s, retries: 3,
                  start_period: 1s, start_interval: 1s}
    hostname: h
    image: busybox
    init: true
    ipc: private
    isolation: default
    labels: {a: b}
    links: [other]
    logging: {driver: json-file, options: {max-size: 10m, max-file: 3}}
    mac_address: 02:42:ac:11:00:02
    mem_limit: 1g
    mem_reservation: 512m
    mem_swappiness: 10
    memswap_limit: 2g
    networks: {default: {aliases: [a], priority: 10}}
    oom_kill_disable: true
    oom_score_adj: -500
    pid: host
    pids_limit: 10
    platform: linux/amd64
    ports: ["80"]
    post_start: [{command: echo started, user: root}]
    pre_stop: [{command: [echo, stopping]}]
    privileged: true
    profiles: [p]
    pull_policy: missing
    read_only: true
    restart: on-failure:3
    runtime: runc
    scale: 1
    secrets: [s]
    security_opt: [no-new-privileges]
    shm_size: 64m
    stdin_open: true
    stop_grace_period: 1m
    stop_signal: SIGINT
    storage_opt: {size: 1G}
    sysctls: [net.core.somaxconn=1024]
    tmpfs: /run
    tty: true
    ulimits: {nproc: 65535, nofile: {soft: 1024, hard: 2048}}
    user: "1000"
    userns_mode: host
    uts: host
    volumes_from: [other:ro]
    working_dir: /app
    x-anything: 1
  other:
    image: busybox
    healthcheck: {test: exit 0}
secrets:
  s: {file: ./s.txt}
configs:
  c: {content: hello}
""", profiles=("p",))
    svc = p.services["all"]
    assert svc.command == ["echo", "hi"]
    assert svc.build is not None and svc.build.args == {"A": "1"}
    assert svc.mem_limit == 1 << 30
    assert svc.stop_grace_period == 60.0
    assert svc.ulimits is not None and svc.ulimits["nproc"].soft == 65535
    assert svc.configs is not None and svc.configs[1].mode == 0o440
    assert svc.dns == ["8.8.8.8"] and svc.tmpfs == ["/run"]
    assert svc.expose == ["80", "90"] and svc.group_add == ["audio", "100"]
    assert svc.gpus is not None and svc.gpus[0].count == -1  # all, as compose-go keeps it
    assert svc.extensions == {"x-anything": 1}
    assert svc.deploy is not None and svc.deploy.resources is not None
    assert svc.deploy.resources.limits is not None
    assert svc.deploy.resources.limits.cpus == 0.5
    assert p.services["other"].healthcheck is not None
    assert p.services["other"].healthcheck.test == ["CMD-SHELL", "exit 0"]
    keys = unhonoured_keys(p)
    assert "services.all.gpus" in keys and "services.all.deploy.placement" in keys
    assert "services.other.gpus" not in keys
    assert all(k.split(".", 2)[2].replace("[*]", "[]") in NOT_HONOURED for k in keys)


def test_top_level_resources(tmp_path: Path) -> None:
    p = project_of(tmp_path, """
services:
  web: {image: a, networks: [front, ext], volumes: [data:/d, old:/o]}
networks:
  front:
    driver: bridge
    driver_opts: {com.docker.network.bridge.name: br0, mtu: 1400}
    ipam: {config: [{subnet: 10.9.0.0/24, gateway: 10.9.0.1}]}
    internal: true
    enable_ipv6: false
    attachable: true
    labels: [a=b]
  ext:
    external: true
volumes:
  data: {driver: local, labels: {a: b}}
  old:
    external: {name: legacy}
secrets:
  env: {environment: HOME}
configs:
  file: {file: ./c.txt}
""")
    assert p.networks["front"].driver_opts == {"com.docker.network.bridge.name": "br0",
                                               "mtu": "1400"}
    assert p.networks["ext"].external is True
    assert p.volumes["old"].external is True and p.volumes["old"].name == "legacy"
    assert p.secrets["env"].environment == "HOME"


def test_environment_from_env_file_shell_and_bare_names(tmp_path: Path) -> None:
    p = project_of(tmp_path, """
services:
  web:
    image: a
    env_file: [a.env, {path: b.env, required: true}, {path: gone.env, required: false}]
    environment:
      FROM_ENV: overridden
      BARE:
      UNSET_BARE:
      FROM_SHELL: ${SHELL_VALUE}
""", env={"BARE": "from-shell", "SHELL_VALUE": "s", "B_REF": "ref"},
                   files={"a.env": "FROM_ENV=a\nONLY_A=1\nSHARED=a\n",
                          "b.env": "SHARED=b\nREF=${B_REF}\n"})
    assert p.services["web"].environment == {
        "FROM_ENV": "overridden", "ONLY_A": "1", "SHARED": "b", "REF": "ref",
        "BARE": "from-shell", "FROM_SHELL": "s", "UNSET_BARE": None}
    # what each file gave is kept (kube generate makes a ConfigMap of each); a file
    # that is not there and not required gave nothing
    assert p.services["web"].env_files_read() == [
        (str(tmp_path / "a.env"), {"FROM_ENV": "a", "ONLY_A": "1", "SHARED": "a"}),
        (str(tmp_path / "b.env"), {"SHARED": "b", "REF": "ref"})]
    assert p.services["web"].env_file is None


def test_dotenv_feeds_bare_names_but_is_not_injected(tmp_path: Path) -> None:
    p = project_of(tmp_path, "services: {web: {image: a, environment: [DOTENV_ONLY]}}",
                   files={".env": "DOTENV_ONLY=yes\nNOT_USED=1\n"})
    assert p.services["web"].environment == {"DOTENV_ONLY": "yes"}


def test_missing_required_env_file(tmp_path: Path) -> None:
    e = error_of(tmp_path, "services:\n  web:\n    image: a\n    env_file: nope.env\n")
    assert e.key == "services.web.env_file[0]" or e.key == "services.web.env_file"
    assert "nope.env not found" in str(e)
    assert e.line == 4


def test_label_file_under_labels(tmp_path: Path) -> None:
    p = project_of(tmp_path, "services: {web: {image: a, label_file: l.txt, labels: {b: 2}}}",
                   files={"l.txt": "a=1\nb=1\n"})
    assert p.services["web"].labels == {"a": "1", "b": "2"}


def test_profiles_split_services(tmp_path: Path) -> None:
    text = """
services:
  web: {image: a}
  debug: {image: a, profiles: [debug]}
  both: {image: a, profiles: [debug, test]}
"""
    p = project_of(tmp_path, text)
    assert set(p.services) == {"web"} and set(p.disabled) == {"debug", "both"}
    p = project_of(tmp_path, text, profiles=("test",))
    assert set(p.services) == {"web", "both"}
    p = project_of(tmp_path, text, profiles=("*",))
    assert set(p.services) == {"web", "debug", "both"}


@pytest.mark.parametrize(("text", "key", "message"), [
    ("services: {web: {image: a, networks: [nope]}}",
     "services.web.networks[0]", "refers to undefined network 'nope'"),
    ("services: {web: {image: a, volumes: [data:/d]}}",
     "services.web.volumes[0]", "refers to undefined volume 'data'"),
    ("services: {web: {image: a, secrets: [s]}}",
     "services.web.secrets[0]", "refers to undefined secret 's'"),
    ("services: {web: {image: a, configs: [{source: c}]}}",
     "services.web.configs[0]", "refers to undefined config 'c'"),
    ("services: {web: {command: x}}",
     "services.web", "neither an image nor a build context"),
    ("services: {web: {image: a, network_mode: host, networks: [default]}}",
     "services.web.network_mode", "exclude each other"),
    ("services: {web: {image: a, scale: 2, deploy: {replicas: 3}}}",
     "services.web.scale", "disagree"),
])
def test_project_checks(tmp_path: Path, text: str, key: str, message: str) -> None:
    e = error_of(tmp_path, text)
    assert e.key == key
    assert message in str(e)
    assert e.file == "compose.yaml" and e.line == 1


def test_version_is_ignored_with_a_warning(tmp_path: Path) -> None:
    p = project_of(tmp_path, "version: '3.8'\nservices: {web: {image: a}}\n")
    assert any("`version` is obsolete" in w for w in p.warnings)


def test_short_and_long_forms_give_the_same_model(tmp_path: Path) -> None:
    short = project_of(tmp_path, """
services:
  web:
    image: a
    build: .
    depends_on: [db]
    ports: ["127.0.0.1:8080:80/udp"]
    volumes: ["./src:/src:ro"]
    networks: [default]
    env_file: x.env
    secrets: [s]
    ulimits: {nofile: 5}
    healthcheck: {test: echo ok}
    extra_hosts: ["h:1.2.3.4"]
  db: {image: a}
secrets: {s: {file: ./s}}
""", files={"x.env": "A=1\n"})
    long = project_of(tmp_path, f"""
services:
  web:
    image: a
    build: {{context: {tmp_path}}}
    depends_on: {{db: {{condition: service_started, required: true}}}}
    ports: [{{target: 80, published: "8080", host_ip: 127.0.0.1, protocol: udp}}]
    volumes:
      - {{type: bind, source: {tmp_path}/src, target: /src, read_only: true,
          bind: {{create_host_path: true}}}}
    networks: {{default: null}}
    env_file: [{{path: x.env, required: true}}]
    secrets: [{{source: s}}]
    ulimits: {{nofile: {{soft: 5, hard: 5}}}}
    healthcheck: {{test: [CMD-SHELL, echo ok]}}
    extra_hosts: {{h: 1.2.3.4}}
  db: {{image: a}}
secrets: {{s: {{file: ./s}}}}
""")
    a, b = short.services["web"], long.services["web"]
    for key in ("build", "depends_on", "ports", "volumes", "networks", "secrets",
                "ulimits", "healthcheck", "extra_hosts", "environment"):
        assert getattr(a, key) == getattr(b, key), key


def test_yaml_scalars_are_read_as_docker_compose_reads_them(tmp_path: Path) -> None:
    """YAML 1.2 as go-yaml v3: no base-60 ports, no yes/no/on/off booleans."""
    p = project_of(tmp_path, """
services:
  off:
    image: a
    restart: no
    ports:
      - 22:22
    environment:
      ENABLED: yes
      MODE: on
""")
    svc = p.services["off"]
    assert svc.restart == "no"
    assert svc.ports is not None
    assert [(x.published, x.target) for x in svc.ports] == [("22", 22)]
    assert svc.environment == {"ENABLED": "yes", "MODE": "on"}

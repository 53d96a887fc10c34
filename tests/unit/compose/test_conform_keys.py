"""Keys and rules of the Compose Specification that compose-go learnt lately (its
``loader/tests/*_test.go``, ``normalize_test.go``, ``override/merge_*_test.go``): the
cases are our own, checked through the CLI's ``config`` as a user sees them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pycompose.cli import main


def config(project: Path, capsys: pytest.CaptureFixture[str], *files: str,
           args: tuple[str, ...] = ()) -> dict[str, Any]:
    argv = ["-p", "t"]
    for i, text in enumerate(files):
        name = f"f{i}.yaml"
        (project / name).write_text(text)
        argv += ["-f", name]
    assert main([*argv, "config", *args]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    return json.loads(out) if "json" in args else yaml.safe_load(out)


def refused(project: Path, capsys: pytest.CaptureFixture[str], *files: str) -> str:
    argv = ["-p", "t"]
    for i, text in enumerate(files):
        (project / f"f{i}.yaml").write_text(text)
        argv += ["-f", f"f{i}.yaml"]
    assert main([*argv, "config"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# --- pre_start: init containers before the service's own --------------------------

PRE_START = """
services:
  app:
    image: alpine
    pre_start:
      - command: ["migrate", "--up"]
      - image: busybox
        command: chown -R 1000:1000 /data
        environment: [OWNER=1000]
        per_replica: true
        privileged: false
  built:
    build: .
    pre_start:
      - command: ["init"]
"""


def test_pre_start_steps_load_and_take_the_service_image(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = config(project, capsys, PRE_START)["services"]
    assert services["app"]["pre_start"] == [
        {"command": ["migrate", "--up"], "image": "alpine"},
        {"command": ["chown", "-R", "1000:1000", "/data"], "image": "busybox",
         "environment": {"OWNER": "1000"}, "per_replica": True},
    ]
    # a service that only builds has no image to give
    assert services["built"]["pre_start"] == [{"command": ["init"]}]


def test_pre_start_in_json_has_a_command_even_when_unset(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config(project, capsys,
                  "services: {app: {image: alpine, pre_start: [{image: busybox}]}}",
                  args=("--format", "json"))
    assert data["services"]["app"]["pre_start"] == [{"command": None, "image": "busybox"}]


def test_pre_start_steps_of_two_files_are_appended(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = config(project, capsys,
                      "services: {app: {image: a, pre_start: [{command: one}]}}",
                      "services: {app: {pre_start: [{command: two}]}}")["services"]
    assert [h["command"] for h in services["app"]["pre_start"]] == [["one"], ["two"]]


def test_a_pre_start_step_with_an_unknown_key_is_named(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(project, capsys,
                  "services:\n  app:\n    image: a\n    pre_start:\n      - comand: x\n")
    assert "f0.yaml:5:9: services.app.pre_start[0].comand: unknown key 'comand'" in err


# --- provider services ---------------------------------------------------------------

PROVIDER = """
services:
  db:
    provider:
      type: awesomecloud
      options:
        type: mysql
        size: 256
        tags: [a, 1, true]
  app:
    image: alpine
"""


def test_a_provider_service_prints_type_then_options_as_lists(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "f0.yaml").write_text(PROVIDER)
    assert main(["-p", "t", "-f", "f0.yaml", "config"]) == 0
    out = capsys.readouterr().out
    assert ("  db:\n    provider:\n      type: awesomecloud\n      options:\n"
            "        size:\n          - \"256\"\n        tags:\n          - a\n"
            "          - \"1\"\n          - \"true\"\n        type:\n          - mysql\n") in out


def test_a_provider_service_is_on_no_network(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config(project, capsys, PROVIDER)
    assert "networks" not in data["services"]["db"]
    assert data["services"]["app"]["networks"] == {"default": None}
    only = config(project, capsys, "services: {db: {provider: {type: x}}}")
    assert "networks" not in only and "networks" not in only["services"]["db"]


# --- build.no_cache_filter -----------------------------------------------------------


def test_no_cache_filter_is_a_string_or_a_list(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = config(project, capsys, """
services:
  one: {build: {context: ., no_cache_filter: deps}}
  two: {build: {context: ., no_cache_filter: [deps, test]}}
""")["services"]
    assert services["one"]["build"]["no_cache_filter"] == ["deps"]
    assert services["two"]["build"]["no_cache_filter"] == ["deps", "test"]


# --- environment: a key with a trailing space ----------------------------------------


@pytest.mark.parametrize("where", ["environment", "build-args"])
def test_an_environment_key_ending_in_a_space_is_refused(
        where: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if where == "environment":
        text = "services:\n  web:\n    image: a\n    environment:\n      - DEBUG = true\n"
        at = "f0.yaml:5:7: services.web.environment"
    else:
        text = ("services:\n  web:\n    build:\n      context: .\n      args:\n"
                "        - VERSION =1\n")
        at = "f0.yaml:6:9: services.web.build.args"
    err = refused(project, capsys, text)
    assert at in err
    assert "declared with a trailing space" in err


def test_spaces_in_values_and_mapping_keys_are_kept(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = config(project, capsys, """
services:
  web:
    image: a
    environment: ["GREETING=hello world ", "EMPTY="]
""")["services"]["web"]["environment"]
    assert env == {"GREETING": "hello world ", "EMPTY": ""}


# --- devices -------------------------------------------------------------------------


def test_device_permissions_are_not_judged_at_load(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices = config(project, capsys, """
services:
  test:
    image: alpine
    devices:
      - /dev/source:/dev/target:permissions
      - /dev/single
""")["services"]["test"]["devices"]
    assert devices == [
        {"source": "/dev/source", "target": "/dev/target", "permissions": "permissions"},
        {"source": "/dev/single", "target": "/dev/single", "permissions": "rwm"}]


# --- ulimits: each limit is replaced whole by a later file ---------------------------


def test_an_override_of_half_a_ulimit_is_refused_as_docker_compose_refuses_it(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = "services:\n  web:\n    image: a\n    ulimits:\n      nofile: {soft: 1, hard: 2}\n"
    err = refused(project, capsys, base,
                  "services:\n  web:\n    ulimits:\n      nofile:\n        hard: 3\n")
    assert "services.web.ulimits.nofile.soft: missing the required key 'soft'" in err
    ulimits = config(project, capsys, base + "      nproc: 5\n",
                     "services: {web: {ulimits: {nofile: 9}}}")["services"]["web"]["ulimits"]
    assert ulimits == {"nofile": 9, "nproc": 5}


def test_a_one_value_ulimit_prints_as_one_value(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "f0.yaml").write_text(
        "services:\n  web:\n    image: a\n    ulimits:\n      nproc: 65535\n"
        "      nofile: {soft: 1024, hard: 2048}\n")
    assert main(["-p", "t", "-f", "f0.yaml", "config"]) == 0
    out = capsys.readouterr().out
    assert "    ulimits:\n      nofile:\n        soft: 1024\n        hard: 2048\n" \
           "      nproc: 65535\n" in out
    assert main(["-p", "t", "-f", "f0.yaml", "config", "--format", "json"]) == 0
    web = json.loads(capsys.readouterr().out)["services"]["web"]
    assert web["ulimits"] == {"nofile": {"soft": 1024, "hard": 2048}, "nproc": 65535}


# --- empty lists and maps: left out, as go-yaml's omitempty leaves them out ----------

EMPTIES = """
services:
  foo:
    image: alpine
    dns: ${NO_DNS}
    cap_add: []
    environment: {}
    labels: []
    ports: []
    volumes: []
    command: []
    entrypoint: []
    depends_on: []
    profiles: []
    build: {context: ., args: {}, tags: []}
    deploy: {labels: {}, resources: {}}
    x-kept: []
  bar:
    image: alpine
    networks: [n]
    volumes: [v:/v]
networks:
  n: {labels: [], ipam: {config: []}}
volumes:
  v: {labels: {}, driver_opts: {}}
"""


def test_empty_lists_and_maps_are_left_out_but_an_empty_command_is_kept(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config(project, capsys, EMPTIES)
    foo = data["services"]["foo"]
    assert foo == {
        "build": {"context": str(project), "dockerfile": "Dockerfile"},
        "command": [], "deploy": {}, "entrypoint": [], "image": "alpine",
        "networks": {"default": None}, "x-kept": []}
    assert data["networks"]["n"] == {"name": "t_n"}
    assert data["volumes"]["v"] == {"name": "t_v"}
    # Go's JSON has the structs it holds by value (deploy.resources, a network's ipam)
    as_json = config(project, capsys, EMPTIES, args=("--format", "json"))
    assert as_json["services"]["foo"]["deploy"] == {"resources": {}, "placement": {}}
    assert as_json["services"]["foo"]["command"] == []
    assert as_json["networks"]["n"] == {"name": "t_n", "ipam": {}}


def test_an_env_file_that_gives_nothing_leaves_no_environment(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "empty.env").write_text("# nothing yet\n")
    foo = config(project, capsys, """
services:
  foo:
    image: alpine
    env_file: [empty.env, {path: missing.env, required: false}]
""")["services"]["foo"]
    assert "environment" not in foo and "env_file" not in foo


def test_an_unset_dns_variable_gives_no_dns_server(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foo = config(project, capsys, "services: {foo: {image: a, dns: ['${NO_DNS}', 1.1.1.1]}}"
                 )["services"]["foo"]
    assert foo["dns"] == ["1.1.1.1"]


# --- a key without a value: "" in compose-go's Mapping and Options, null only where
# --- the type keeps "unset" apart (environment, build.args) ---------------------------


def test_keys_without_values_are_empty_strings_in_mappings_and_options(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config(project, capsys, """
services:
  foo:
    image: alpine
    sysctls: [net.core.somaxconn, net.ipv4.tcp_syncookies=]
    logging: {driver: local, options: {tag: }}
    storage_opt: {size: }
    environment: [UNSET_HERE]
    build: {context: ., additional_contexts: [base]}
    networks:
      n: {driver_opts: {mtu: }}
    volumes: [v:/v]
networks:
  n: {driver_opts: {mtu: }}
volumes:
  v: {driver_opts: {o: }}
""")
    foo = data["services"]["foo"]
    assert foo["sysctls"] == {"net.core.somaxconn": "", "net.ipv4.tcp_syncookies": ""}
    assert foo["logging"]["options"] == {"tag": ""}
    assert foo["storage_opt"] == {"size": ""}
    assert foo["build"]["additional_contexts"] == {"base": ""}
    assert foo["networks"]["n"]["driver_opts"] == {"mtu": ""}
    assert data["networks"]["n"]["driver_opts"] == {"mtu": ""}
    assert data["volumes"]["v"]["driver_opts"] == {"o": ""}
    # environment keeps "set from nowhere" apart from "set to empty"
    assert foo["environment"] == {"UNSET_HERE": None}


def test_a_bare_sysctl_reaches_the_engine_empty_not_as_none(tmp_path: Path) -> None:
    from pycompose.compose import translate
    from pycompose.compose.loader import LoadOptions, load
    from pycompose.compose.model import validate

    (tmp_path / "compose.yaml").write_text(
        "services: {a: {image: x, sysctls: [net.core.somaxconn]}}\n")
    p = validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="t")))
    req = translate.create_request(p, "a", p.services["a"], 1)
    assert req.sysctls == {"net.core.somaxconn": ""}


# --- extends of a service left empty ------------------------------------------------


def test_extending_a_service_left_empty_extends_nothing(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "base.yaml").write_text("services:\n  placeholder: # filled in later\n")
    services = config(project, capsys, """
services:
  app:
    image: busybox
    extends: {file: base.yaml, service: placeholder}
""")["services"]
    assert services["app"]["image"] == "busybox"


# --- device requests (gpus, deploy.resources.reservations.devices) ------------------


def test_device_requests_print_in_compose_go_order_with_count_a_number(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foo = config(project, capsys, """
services:
  foo:
    image: a
    gpus:
      - driver: nvidia
      - {driver: 3dfx, device_ids: [voodoo2], capabilities: [directX]}
      - {count: "2", capabilities: [compute]}
    deploy:
      resources:
        reservations:
          devices: [{capabilities: [gpu], count: all, driver: nvidia, options: {bits: 42}}]
""")["services"]["foo"]
    # neither count nor device_ids: all the devices, which compose-go keeps as -1
    assert foo["gpus"] == [
        {"driver": "nvidia", "count": -1},
        {"capabilities": ["directX"], "driver": "3dfx", "device_ids": ["voodoo2"]},
        {"capabilities": ["compute"], "count": 2}]
    device = foo["deploy"]["resources"]["reservations"]["devices"][0]
    assert list(device) == ["capabilities", "driver", "count", "options"]
    assert device["count"] == -1 and device["options"] == {"bits": "42"}


@pytest.mark.parametrize(("entry", "message"), [
    ("{count: 1, device_ids: [a], capabilities: [gpu]}",
     '"count" and "device_ids" attributes are exclusive'),
    ("{count: some, capabilities: [gpu]}",
     "invalid value 'some', the only value allowed is 'all' or a number"),
    ("{count: 1}", "devices[0].capabilities: missing the required key 'capabilities'"),
])
def test_bad_device_requests_are_refused_as_docker_compose_refuses_them(
        entry: str, message: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(project, capsys, "services:\n  foo:\n    image: a\n    deploy:\n"
                  f"      resources: {{reservations: {{devices: [{entry}]}}}}\n")
    assert message in err and "f0.yaml:" in err


# --- what docker compose's validation refuses ----------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("services: {a: {image: x, configs: [c]}}\nconfigs: {c: {labels: {a: b}}}\n",
     "configs.c: one of file, environment or content must be set"),
    ("services: {a: {image: x, ports: [{target: 80, host_ip: localhost}]}}\n",
     "services.a.ports[0]: invalid ip address: localhost"),
    ("services: {a: {image: x, ports: ['nope:80:80']}}\n",
     "services.a.ports[0]: invalid ip address: nope"),
    ("services: {a: {image: x, develop: {watch: [{path: '', action: sync}]}}}\n",
     "services.a.develop.watch[0].path: the path to watch is blank"),
    ("services: {a: {image: x, volumes: [{type: tmpfs, target: /t, tmpfs: {size: -1}}]}}\n",
     "services.a.volumes[0].tmpfs.size: expected a number >= 0"),
])
def test_refused_with_docker_compose_reasons(
        text: str, message: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert message in refused(project, capsys, text)


def test_an_external_config_or_one_with_a_driver_needs_no_source(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config(project, capsys, """
services: {a: {image: x, configs: [ext, drv]}}
configs: {ext: {external: true}, drv: {driver: vault, name: app-config}}
""")
    assert sorted(data["configs"]) == ["drv", "ext"]


# --- host paths resolved as docker compose resolves them -----------------------------


def test_paths_of_ssh_keys_and_of_a_local_bind_volume_are_absolute(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config(project, capsys, """
services:
  a:
    build: {context: ., ssh: [default, deploy=./keys/id_ed25519]}
    volumes: [data:/data, {type: bind, source: 'D:\\\\projects\\\\app', target: /app}]
volumes:
  data:
    driver: local
    driver_opts: {type: none, o: bind, device: ./data}
  other:
    driver: local
    driver_opts: {type: nfs, o: addr=10.0.0.1, device: ":/export"}
""", args=())
    a = data["services"]["a"]
    assert a["build"]["ssh"] == ["default", f"deploy={project}/keys/id_ed25519"]
    assert a["volumes"][1]["source"] == "D:\\\\projects\\\\app"  # a Windows path, kept
    assert data["volumes"]["data"]["driver_opts"]["device"] == f"{project}/data"


def test_config_images_lists_the_images_of_pre_start_steps_too(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "f0.yaml").write_text("""
services:
  app: {image: shop/app, pre_start: [{command: migrate}, {image: busybox, command: chown}]}
  db: {image: postgres}
""")
    assert main(["-p", "t", "-f", "f0.yaml", "config", "--images"]) == 0
    assert capsys.readouterr().out == "shop/app\nbusybox\npostgres\n"


def test_an_exposed_port_given_as_a_number_and_as_text_is_one_port(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = config(project, capsys, "services: {a: {image: x, expose: ['80', '3000']}}\n",
                      "services: {a: {expose: [80, '81']}}\n")["services"]
    assert services["a"]["expose"] == ["80", "3000", "81"]

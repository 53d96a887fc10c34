"""``pycompose config`` prints what ``docker compose config`` prints: the shapes pinned
by compose-go's marshalling and docker/compose's ``cmd/compose/config.go``, checked
through the real CLI entry point (``main``) and, for a few, the console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pctest import cli

from pycompose.cli import main
from pycompose.compose import render
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import validate


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root



def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


DOLLARS = """
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo $$HOME and $${PATH} cost 5$$"]
    environment:
      LITERAL: "$$NOT_A_VAR"
      FROM_ENV: "${IMG:-a$$b}"
    labels: ["price=$$5"]
"""


def test_every_dollar_prints_as_two(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": DOLLARS})
    out = run(["-p", "d", "config"], capsys)
    web = yaml.safe_load(out)["services"]["web"]
    assert web["command"] == ["sh", "-c", "echo $$HOME and $${PATH} cost 5$$"]
    assert web["environment"] == {"LITERAL": "$$NOT_A_VAR", "FROM_ENV": "a$$b"}
    assert web["labels"] == {"price": "$$5"}
    as_json = json.loads(run(["-p", "d", "config", "--format", "json"], capsys))
    assert as_json["services"]["web"]["environment"]["LITERAL"] == "$$NOT_A_VAR"


def test_config_output_loads_back_to_the_same_project(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": DOLLARS})
    first = run(["-p", "d", "config"], capsys)
    write(project, {"compose.yaml": first})
    assert run(["-p", "d", "config"], capsys) == first
    # and without the doubling it would not: $HOME would become the shell's
    assert "$$HOME" in first


def test_no_interpolate_prints_dollars_as_written(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": DOLLARS})
    web = yaml.safe_load(run(["-p", "d", "config", "--no-interpolate"], capsys)
                         )["services"]["web"]
    assert web["environment"]["FROM_ENV"] == "${IMG:-a$$b}"


def test_secret_target_default(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  web:
    image: busybox
    secrets: [token, {source: cert}, {source: key, target: /etc/key}]
secrets:
  token: {file: ./t}
  cert: {file: ./c}
  key: {file: ./k}
""", "t": "", "c": "", "k": ""})
    secrets = yaml.safe_load(run(["config"], capsys))["services"]["web"]["secrets"]
    assert secrets == [{"source": "token", "target": "/run/secrets/token"},
                       {"source": "cert", "target": "/run/secrets/cert"},
                       {"source": "key", "target": "/etc/key"}]


@pytest.mark.parametrize(
    ("written", "printed"),
    [("/data/", "/data"), ("/a/./b/", "/a/b"), ("/a/b/../c", "/a/c"), ("//x", "/x"),
     ("/", "/")],
)
def test_mount_targets_are_cleaned(project: Path, capsys: pytest.CaptureFixture[str],
                                   written: str, printed: str) -> None:
    write(project, {"compose.yaml": f"""
services:
  web:
    image: busybox
    volumes:
      - ./src:{written}
      - {{type: tmpfs, target: "{written}"}}
"""})
    volumes = yaml.safe_load(run(["config"], capsys))["services"]["web"]["volumes"]
    assert [v["target"] for v in volumes] == [printed, printed]


def test_host_paths_are_cleaned(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
include:
  - path: include/../subdir/inc.yaml
services:
  web:
    image: busybox
    volumes: [./a/../b/:/b, "~/x/../y:/y"]
    build: {context: ./ctx/./sub/..}
""", "subdir/inc.yaml": "services: {other: {image: x, volumes: [./here/..:/h]}}"})
    out = run(["config"], capsys)
    assert "/../" not in out and "/./" not in out
    got = yaml.safe_load(out)["services"]
    assert got["web"]["volumes"][0]["source"] == str(project / "b")
    assert got["web"]["build"]["context"] == str(project / "ctx")
    assert got["other"]["volumes"][0]["source"] == str(project / "subdir")


def test_bare_environment_key_prints_null(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  web:
    image: busybox
    environment: [UNSET_ANYWHERE, SET=1]
    build: {context: ., args: [UNSET_ARG]}
"""})
    out = run(["config"], capsys)
    assert "      UNSET_ANYWHERE: null\n" in out
    web = yaml.safe_load(out)["services"]["web"]
    assert web["environment"] == {"SET": "1", "UNSET_ANYWHERE": None}
    as_json = json.loads(run(["config", "--format", "json"], capsys))
    assert as_json["services"]["web"]["environment"]["UNSET_ANYWHERE"] is None


JSONY = """
name: shapes
services:
  web:
    image: busybox
    deploy: {replicas: 2}
    x-svc: dropped in json
  job:
    image: busybox
    command: [run]
    entrypoint: []
    networks: [front, ext]
networks:
  front: {}
  ext: {external: true}
x-top: {kept: true}
"""


def test_json_shape(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": JSONY})
    text = run(["config", "--format", "json"], capsys)
    data = json.loads(text)
    assert list(data) == sorted(data) == ["name", "networks", "services", "x-top"]
    web, job = data["services"]["web"], data["services"]["job"]
    assert web["command"] is None and web["entrypoint"] is None
    assert job["command"] == ["run"] and job["entrypoint"] == []
    assert "x-svc" not in web
    assert web["deploy"] == {"replicas": 2, "resources": {}, "placement": {}}
    assert all(net["ipam"] == {} for net in data["networks"].values())
    # key order of a service and a network is compose-go's struct order
    assert list(web)[:3] == ["command", "deploy", "entrypoint"]
    assert list(data["networks"]["front"]) == ["name", "ipam"]
    assert list(data["networks"]["ext"]) == ["name", "ipam", "external"]
    assert text.startswith('{\n  "name": "shapes",\n  "networks": {\n')


def test_yaml_shape_leaves_the_json_only_keys_out(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": JSONY})
    data = yaml.safe_load(run(["config"], capsys))
    assert list(data) == ["name", "services", "networks", "x-top"]
    assert "command" not in data["services"]["web"]
    assert data["services"]["job"]["entrypoint"] == []
    assert "ipam" not in data["networks"]["front"]
    assert data["services"]["web"]["x-svc"] == "dropped in json"


def test_json_escapes_html_characters_as_go_does(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": "services: {web: {image: busybox, "
                                    "labels: {a: '<b>&c'}}}"})
    text = run(["config", "--format", "json"], capsys)
    assert '"a": "\\u003cb\\u003e\\u0026c"' in text
    assert json.loads(text)["services"]["web"]["labels"]["a"] == "<b>&c"


# --- --variables and --environment ------------------------------------------------------


VARIABLES = """
services:
  web:
    image: "${IMG:-nginx}:${TAG?tag needed}"
    environment:
      - PLAIN=$PLAIN
      - ALT=${ALT:+yes}
      - JSON=${J:-{"a":1}}
      - NESTED=${OUTER:-${INNER:-deep}}
      - LIT=$$NOT_A_VARIABLE
    ports: ["${PORT:-8080}:80"]
"""


def test_variables_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": VARIABLES})
    out = run(["config", "--variables"], capsys)
    assert out == (
        "NAME                REQUIRED            DEFAULT VALUE       ALTERNATE VALUE\n"
        "ALT                 false                                   yes\n"
        "IMG                 false               nginx               \n"
        "INNER               false               deep                \n"
        "J                   false               {\"a\":1}             \n"
        "OUTER               false               ${INNER:-deep}      \n"
        "PLAIN               false                                   \n"
        "PORT                false               8080                \n"
        "TAG                 true                                    \n")


def test_variables_json_and_yaml(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": VARIABLES})
    text = run(["config", "--variables", "--format", "json"], capsys)
    assert text.endswith("}\n\n") and '\n    "ALT": {\n        "Name": "ALT",' in text
    data = json.loads(text)
    assert data["TAG"] == {"Name": "TAG", "DefaultValue": "", "PresenceValue": "",
                           "Required": True}
    assert data["OUTER"]["DefaultValue"] == "${INNER:-deep}"
    assert "NOT_A_VARIABLE" not in data
    as_yaml = yaml.safe_load(run(["config", "--variables", "--format", "yaml"], capsys))
    assert as_yaml["ALT"] == {"name": "ALT", "defaultvalue": "", "presencevalue": "yes",
                              "required": False}
    assert set(as_yaml) == set(data)


def test_variables_need_no_value(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--variables reads the files uninterpolated: a required variable that is unset
    is listed, not an error."""
    write(project, {"compose.yaml": "services: {web: {image: '${MUST:?set it}'}}"})
    assert "MUST                true" in run(["config", "--variables"], capsys)
    assert main(["config"]) == 1


def test_variables_of_included_and_extended_files(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": "include: [inc.yaml]\nservices:\n"
                                    "  web: {extends: {file: base.yaml, service: b}}\n",
                    "inc.yaml": "services: {i: {image: '${FROM_INCLUDE}'}}",
                    "base.yaml": "services: {b: {image: '${FROM_BASE:-x}'}}"})
    names = [line.split()[0] for line in run(["config", "--variables"], capsys).splitlines()]
    assert names == ["NAME", "FROM_BASE", "FROM_INCLUDE"]


def test_environment(project: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, {"compose.yaml": "name: envdemo\nservices: {web: {image: x}}",
                    ".env": "FROM_DOTENV=1\nSHADOWED=dotenv\nA0=x\n"})
    monkeypatch.setenv("SHADOWED", "shell")
    monkeypatch.setenv("A", "y")
    lines = run(["config", "--environment"], capsys).splitlines()
    assert "COMPOSE_PROJECT_NAME=envdemo" in lines
    assert "FROM_DOTENV=1" in lines and "SHADOWED=shell" in lines
    assert lines == sorted(lines)
    assert lines.index("A0=x") < lines.index("A=y")  # the K=V strings are sorted


def test_format_table_is_for_variables_only(project: Path) -> None:
    write(project, {"compose.yaml": "services: {web: {image: x}}"})
    assert main(["config", "--format", "table"]) == 1


def test_through_the_console_script(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": DOLLARS})
    got = cli.run(["-p", "d", "config", "--format", "json"], cwd=tmp_path,
                  env={"IMG": "im$g"})
    assert got.returncode == 0, got.stderr
    env = json.loads(got.stdout)["services"]["web"]["environment"]
    assert env == {"FROM_ENV": "im$$g", "LITERAL": "$$NOT_A_VAR"}
    got = cli.run(["config", "--variables"], cwd=tmp_path)
    assert got.returncode == 0 and got.stdout.splitlines()[1].startswith("IMG ")


def test_round_trip_through_project_dict(tmp_path: Path) -> None:
    """The printed YAML, read back, is the same project (with $ doubled)."""
    write(tmp_path, {"compose.yaml": DOLLARS})
    p = validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="d")))
    text = render.escape_dollars(render.to_yaml(render.project_dict(p)))
    write(tmp_path, {"compose.yaml": text})
    again = validate(load(LoadOptions(cwd=str(tmp_path), environ={}, project_name="d")))
    assert render.project_dict(again) == render.project_dict(p)


# --- normalisation docker compose prints ------------------------------------------------


def test_implied_dependencies_are_printed(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  db: {image: pg}
  cache: {image: redis}
  data: {image: busybox}
  app:
    image: busybox
    links: ["db:database", cache]
    volumes_from: [data, "container:external"]
    depends_on: {db: {condition: service_healthy}}
  sidecar:
    image: busybox
    network_mode: service:app
    pid: service:app
"""})
    got = yaml.safe_load(run(["config"], capsys))["services"]
    assert got["app"]["depends_on"] == {
        "cache": {"condition": "service_started", "restart": True, "required": True},
        "data": {"condition": "service_started", "required": True},
        "db": {"condition": "service_healthy", "required": True},
    }
    assert got["sidecar"]["depends_on"] == {
        "app": {"condition": "service_started", "restart": True, "required": True}}


def test_implied_dependencies_leave_the_hash_alone(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": "services: {db: {image: pg}, "
                                    "app: {image: x, network_mode: 'service:db'}}"})
    before = run(["config", "--hash", "app"], capsys)
    write(project, {"compose.yaml": "services: {db: {image: pg}, "
                                    "app: {image: x, network_mode: 'service:db', "
                                    "depends_on: {db: {condition: service_started, "
                                    "restart: true}}}}"})
    assert run(["config", "--hash", "app"], capsys) != before  # explicit ones count


def test_secret_content_is_never_printed(project: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  web: {image: busybox, secrets: [token], configs: [conf]}
secrets:
  token: {content: hunter2}
configs:
  conf: {content: "listen 80"}
"""})
    out = run(["config"], capsys)
    assert "hunter2" not in out
    assert yaml.safe_load(out)["configs"]["conf"]["content"] == "listen 80"
    assert "hunter2" not in run(["config", "--format", "json"], capsys)


def test_file_modes_print_in_octal(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  web:
    image: busybox
    secrets: [{source: s, mode: 0440}, {source: s, target: /b, mode: "0600"}]
    configs: [{source: c, mode: 292}]
secrets: {s: {file: ./s}}
configs: {c: {file: ./c}}
""", "s": "", "c": ""})
    web = yaml.safe_load(run(["config"], capsys))["services"]["web"]
    assert [s["mode"] for s in web["secrets"]] == ["0440", "0600"]
    assert web["configs"][0]["mode"] == "0444"


def test_build_ssh_and_args(project: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_SHELL", "s")
    write(project, {"compose.yaml": """
services:
  web:
    build:
      context: .
      ssh: [default, "key=/path/id"]
      args: [FROM_SHELL, UNSET_ARG, SET=1]
"""})
    build = yaml.safe_load(run(["config"], capsys))["services"]["web"]["build"]
    assert build["ssh"] == ["default", "key=/path/id"]
    assert build["args"] == {"FROM_SHELL": "s", "SET": "1"}


def test_keys_print_in_compose_go_order(project: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  web:
    image: busybox
    healthcheck: {retries: 3, interval: 5s, timeout: 1s, test: [CMD, x]}
    deploy: {endpoint_mode: vip, replicas: 1, mode: replicated}
    depends_on: {db: {required: true, restart: true, condition: service_started}}
  db: {image: pg, networks: [n]}
networks:
  n: {labels: {a: b}, attachable: true, enable_ipv6: true, driver: bridge,
      ipam: {config: [{ip_range: 10.1.0.0/25, gateway: 10.1.0.1, subnet: 10.1.0.0/24}]}}
"""})
    data = yaml.safe_load(run(["config"], capsys))
    web = data["services"]["web"]
    assert list(web["healthcheck"]) == ["test", "timeout", "interval", "retries"]
    assert list(web["deploy"]) == ["mode", "replicas", "endpoint_mode"]
    assert list(web["depends_on"]["db"]) == ["condition", "restart", "required"]
    net = data["networks"]["n"]
    assert list(net) == ["name", "driver", "ipam", "attachable", "labels", "enable_ipv6"]
    assert list(net["ipam"]["config"][0]) == ["subnet", "gateway", "ip_range"]


def test_config_of_named_services_and_their_dependencies(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  web: {image: nginx, depends_on: [api]}
  api: {image: api, depends_on: {db: {condition: service_healthy}},
        network_mode: "service:net"}
  net: {image: pause}
  db: {image: pg}
  tool: {image: t, profiles: [tools], depends_on: [db]}
  other: {image: x}
"""})
    assert run(["config", "--services", "web"], capsys) == "api\ndb\nnet\nweb\n"
    # naming a service enables its profile
    assert run(["config", "--services", "tool"], capsys) == "db\ntool\n"
    data = yaml.safe_load(run(["config", "api"], capsys))
    assert sorted(data["services"]) == ["api", "db", "net"]
    assert main(["config", "nope"]) == 1
    assert "no such service: nope" in capsys.readouterr().err


def test_false_booleans_print_as_docker_compose_prints_them(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """compose-go's plain bools are never printed false; its pointer bools (init,
    attach, enable_ipv6) are; create_host_path is an opt-out, printed only false."""
    write(project, {"compose.yaml": """
services:
  web:
    image: busybox
    read_only: false
    privileged: false
    tty: false
    init: false
    healthcheck: {test: [CMD, x], disable: false}
    volumes:
      - ./a:/a
      - {type: bind, source: ./b, target: /b, read_only: false,
         bind: {create_host_path: false}}
      - {type: bind, source: ./c, target: /c, bind: {propagation: rslave}}
      - {type: volume, source: v, target: /v, volume: {nocopy: false}}
    depends_on: {db: {condition: service_started, restart: false}}
  db: {image: pg, networks: [n]}
networks:
  n: {internal: false, attachable: false, enable_ipv6: false}
volumes:
  v: {external: false}
"""})
    data = yaml.safe_load(run(["config"], capsys))
    web = data["services"]["web"]
    for key in ("read_only", "privileged", "tty"):
        assert key not in web
    assert web["init"] is False
    assert web["healthcheck"] == {"test": ["CMD", "x"]}
    a, b, c, v = web["volumes"]
    assert a["bind"] == {}
    assert b["bind"] == {"create_host_path": False} and "read_only" not in b
    assert c["bind"] == {"propagation": "rslave"}
    assert v["volume"] == {}
    assert web["depends_on"]["db"] == {"condition": "service_started", "required": True}
    assert data["networks"]["n"] == {"name": f"{data['name']}_n", "enable_ipv6": False}
    assert data["volumes"]["v"] == {"name": data["volumes"]["v"]["name"]}


def test_numbers_and_normalised_values(project: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": "services: {web: {image: x, cpus: 2, "
                                    "pull_policy: if_not_present}, "
                                    "half: {image: x, cpus: 0.25}}"})
    out = run(["config"], capsys)
    assert "    cpus: 2\n" in out and "    cpus: 0.25\n" in out
    assert "pull_policy: missing" in out
    text = run(["config", "--format", "json"], capsys)
    assert '"cpus": 2,' in text and '"cpus": 0.25,' in text


def test_no_interpolate_prints_the_model_with_templates_in_typed_fields(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
name: ni
services:
  web:
    image: "nginx:${TAG:-1}"
    ports: ["${PORT:-8080}:80"]
    cpus: ${CPUS:-1}
    restart: ${RESTART:-always}
  tool: {image: t, profiles: [tools]}
volumes:
  data: {}
  ext: {external: true}
"""})
    out = run(["config", "--no-interpolate"], capsys)
    assert out == (
        "name: ni\n"
        "networks:\n"
        "  default:\n"
        "    name: ni_default\n"
        "services:\n"
        "  web:\n"
        "    cpus: ${CPUS:-1}\n"
        "    image: nginx:${TAG:-1}\n"
        "    networks:\n"
        "      default: null\n"
        "    ports:\n"
        "      - ${PORT:-8080}:80\n"
        "    restart: ${RESTART:-always}\n"
        "volumes:\n"
        "  data:\n"
        "    name: ni_data\n"
        "  ext:\n"
        "    external: true\n"
        "    name: ext\n")
    assert run(["config", "--no-interpolate", "--services"], capsys) == "web\n"
    as_json = json.loads(run(["config", "--no-interpolate", "--format", "json"], capsys))
    assert as_json["services"]["web"]["ports"] == ["${PORT:-8080}:80"]


def test_no_interpolate_with_named_services(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    write(project, {"compose.yaml": """
services:
  web: {image: "w:${T}", depends_on: [api]}
  api: {image: a, network_mode: "service:net"}
  net: {image: n}
  other: {image: o}
"""})
    # docker compose renders the whole model then, and says so
    assert run(["config", "--no-interpolate", "--services", "web"], capsys) == \
        "api\nnet\nother\nweb\n"
    assert main(["config", "--no-interpolate", "web"]) == 0
    out, err = capsys.readouterr()
    assert list(yaml.safe_load(out)["services"]) == ["api", "net", "other", "web"]
    assert "service filtering is not applied when --no-interpolate is set" in err
    assert main(["config", "--variables", "web"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == ["T", "false"]
    assert "service filtering is not applied when --variables is set" in err

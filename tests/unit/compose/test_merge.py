"""Multi-file merge rules of the Compose Specification (13-merge.md)."""

from __future__ import annotations

from typing import Any

from pycompose.compose.merge import merge_documents, port_key, resolve_wrappers
from pycompose.compose.yamlsrc import load_yaml, locate, plain


def merged(*docs: str) -> Any:
    trees = [load_yaml(d, f"f{i}.yml") for i, d in enumerate(docs)]
    out = trees[0]
    for t in trees[1:]:
        out = merge_documents(out, t)
    return resolve_wrappers(out)


def svc(*docs: str) -> Any:
    return plain(merged(*docs)["services"]["web"])


def test_scalars_later_wins() -> None:
    assert svc("services: {web: {image: a, user: x}}",
               "services: {web: {image: b}}") == {"image": "b", "user": "x"}


def test_command_entrypoint_and_healthcheck_test_are_replaced() -> None:
    out = svc(
        "services: {web: {command: [a, b], entrypoint: [x],"
        " healthcheck: {test: [CMD, a], retries: 3}}}",
        "services: {web: {command: [c], entrypoint: [y], healthcheck: {test: [CMD, b]}}}",
    )
    assert out["command"] == ["c"]
    assert out["entrypoint"] == ["y"]
    assert out["healthcheck"] == {"test": ["CMD", "b"], "retries": 3}


def test_ports_append_and_deduplicate() -> None:
    out = svc('services: {web: {ports: ["80:80", "443:443"]}}',
              'services: {web: {ports: ["80:80", "127.0.0.1:8080:8080/udp"]}}')
    assert out["ports"] == ["80:80", "443:443", "127.0.0.1:8080:8080/udp"]


def test_port_key() -> None:
    assert port_key("127.0.0.1:8080:80/udp") == ("127.0.0.1", "80", "8080", "udp")
    assert port_key("[::1]:8080:80") == ("::1", "80", "8080", "tcp")
    assert port_key("80") == ("", "80", "", "tcp")
    assert port_key({"target": 80, "published": "8080"}) == ("", "80", "8080", "tcp")


def test_volumes_merge_by_target() -> None:
    out = svc('services: {web: {volumes: ["a:/data", "b:/logs"]}}',
              'services: {web: {volumes: [{type: volume, source: c, target: /data}]}}')
    assert out["volumes"] == [{"type": "volume", "source": "c", "target": "/data"}, "b:/logs"]


def test_environment_list_and_map_merge_by_key() -> None:
    out = svc("services: {web: {environment: [A=1, B=2, C]}}",
              "services: {web: {environment: {B: 3, D: 4}}}")
    assert out["environment"] == {"A": "1", "B": 3, "C": None, "D": 4}


def test_labels_and_build_args() -> None:
    out = svc("services: {web: {labels: [a=1], build: {context: ., args: [X=1]}}}",
              "services: {web: {labels: {b: 2}, build: {args: {Y: 2}}}}")
    assert out["labels"] == {"a": "1", "b": 2}
    assert out["build"] == {"context": ".", "args": {"X": "1", "Y": 2}}


def test_build_string_merges_with_mapping() -> None:
    out = svc("services: {web: {build: ./app}}",
              "services: {web: {build: {dockerfile: Dockerfile.dev}}}")
    assert out["build"] == {"context": "./app", "dockerfile": "Dockerfile.dev"}


def test_depends_on_list_and_map() -> None:
    out = svc("services: {web: {depends_on: [db]}}",
              "services: {web: {depends_on: {cache: {condition: service_healthy}}}}")
    assert out["depends_on"] == {
        "db": {"condition": "service_started", "required": True},
        "cache": {"condition": "service_healthy"},
    }


def test_string_lists_deduplicate_and_lone_strings() -> None:
    out = svc("services: {web: {dns: 8.8.8.8, cap_add: [NET_ADMIN]}}",
              "services: {web: {dns: [8.8.8.8, 1.1.1.1], cap_add: [NET_ADMIN, SYS_TIME]}}")
    assert out["dns"] == ["8.8.8.8", "1.1.1.1"]
    assert out["cap_add"] == ["NET_ADMIN", "SYS_TIME"]


def test_logging_options_merge_only_for_the_same_driver() -> None:
    same = svc("services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}",
               "services: {web: {logging: {options: {max-file: '3'}}}}")
    assert same["logging"] == {"driver": "json-file",
                               "options": {"max-size": "1m", "max-file": "3"}}
    other = svc("services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}",
                "services: {web: {logging: {driver: syslog}}}")
    assert other["logging"] == {"driver": "syslog"}


def test_ulimits_merge_per_limit() -> None:
    # the limits merge by name; each limit is replaced whole (compose-go's
    # mergeUlimit): soft is not kept from the base when the override names hard only
    out = svc("services: {web: {ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}}}",
              "services: {web: {ulimits: {nofile: {hard: 3}}}}")
    assert out["ulimits"] == {"nofile": {"hard": 3}, "nproc": 5}
    out = svc("services: {web: {ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}}}",
              "services: {web: {ulimits: {nofile: 7, nproc: {soft: 3, hard: 4}}}}")
    assert out["ulimits"] == {"nofile": 7, "nproc": {"soft": 3, "hard": 4}}


def test_reset_and_override() -> None:
    out = svc("services: {web: {image: a, ports: ['80:80'], environment: {A: 1, B: 2}}}",
              "services: {web: {ports: !reset [], environment: !override {C: 3}}}")
    assert out == {"image": "a", "environment": {"C": 3}}


def test_reset_a_whole_service_and_nested_key() -> None:
    doc = plain(merged(
        "services: {web: {image: a}, db: {image: b, healthcheck: {test: x, retries: 1}}}",
        "services: {web: !reset null, db: {healthcheck: {retries: !reset null}}}"))
    assert doc == {"services": {"db": {"image": "b", "healthcheck": {"test": "x"}}}}


def test_tags_in_a_single_file_are_settled() -> None:
    assert plain(merged("services: {web: {image: !override a, user: !reset x}}")) == {
        "services": {"web": {"image": "a"}}}


def test_top_level_resources_merge() -> None:
    doc = plain(merged("networks: {front: {driver: bridge}}\nvolumes: {data: {}}",
                       "networks: {front: {internal: true}, back: {}}\nname: later"))
    assert doc == {"networks": {"front": {"driver": "bridge", "internal": True}, "back": {}},
                   "volumes": {"data": {}}, "name": "later"}


def test_marks_follow_the_value_into_the_merge() -> None:
    doc = merged("services:\n  web:\n    image: a\n",
                 "services:\n  web:\n    ports:\n      - 99999:80\n")
    mark, _ = locate(doc, ("services", "web", "ports", 0))
    assert (mark.file, mark.line) == ("f1.yml", 4)
    mark, _ = locate(doc, ("services", "web", "image"))
    assert (mark.file, mark.line) == ("f0.yml", 3)

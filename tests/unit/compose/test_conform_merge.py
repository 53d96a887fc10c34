"""Merge rules where docker compose (compose-go ``override``) merges entries that a
plain "later file wins" would drop: mappings against lists, host lists, IPAM configs.
Table cases of our own, in the spirit of compose-go's ``merge_*_test.go``."""

from __future__ import annotations

from typing import Any

import pytest

from pycompose.compose.merge import merge_documents, resolve_wrappers
from pycompose.compose.model.syntax import extra_hosts
from pycompose.compose.yamlsrc import load_yaml, plain


def merged(*docs: str) -> dict[str, Any]:
    trees = [load_yaml(d, f"f{i}.yml") for i, d in enumerate(docs)]
    out = trees[0]
    for t in trees[1:]:
        out = merge_documents(out, t)
    return plain(resolve_wrappers(out))


def as_map(value: Any) -> dict[str, Any]:
    """A K=V list or a mapping, as a mapping (what the model makes of either)."""
    if isinstance(value, dict):
        return value
    return {k: (v if sep else None) for k, sep, v in (i.partition("=") for i in value)}


# --- a mapping on one side, a list on the other: the entries merge --------------------


@pytest.mark.parametrize(
    ("path", "base", "over"),
    [
        (("networks", "net", "labels"), "networks: {net: {labels: {a: '1', b: '2'}}}",
         "networks: {net: {labels: [b=3, c=4]}}"),
        (("networks", "net", "labels"), "networks: {net: {labels: [a=1, b=2]}}",
         "networks: {net: {labels: {b: '3', c: '4'}}}"),
        (("volumes", "vol", "labels"), "volumes: {vol: {labels: {a: '1', b: '2'}}}",
         "volumes: {vol: {labels: [b=3, c=4]}}"),
        (("services", "web", "build", "args"),
         "services: {web: {build: {context: ., args: {a: '1', b: '2'}}}}",
         "services: {web: {build: {args: [b=3, c=4]}}}"),
        (("services", "web", "build", "additional_contexts"),
         "services: {web: {build: {context: ., additional_contexts: {a: '1', b: '2'}}}}",
         "services: {web: {build: {additional_contexts: [b=3, c=4]}}}"),
        (("services", "web", "build", "additional_contexts"),
         "services: {web: {build: {context: ., additional_contexts: [a=1, b=2]}}}",
         "services: {web: {build: {additional_contexts: {b: '3', c: '4'}}}}"),
        (("services", "web", "build", "labels"),
         "services: {web: {build: {context: ., labels: [a=1, b=2]}}}",
         "services: {web: {build: {labels: {b: '3', c: '4'}}}}"),
        (("services", "web", "labels"), "services: {web: {labels: {a: '1', b: '2'}}}",
         "services: {web: {labels: [b=3, c=4]}}"),
        (("services", "web", "environment"),
         "services: {web: {environment: [a=1, b=2]}}",
         "services: {web: {environment: {b: '3', c: '4'}}}"),
        (("services", "web", "annotations"),
         "services: {web: {annotations: [a=1, b=2]}}",
         "services: {web: {annotations: {b: '3', c: '4'}}}"),
        (("services", "web", "sysctls"), "services: {web: {sysctls: {a: '1', b: '2'}}}",
         "services: {web: {sysctls: [b=3, c=4]}}"),
        (("services", "web", "deploy", "labels"),
         "services: {web: {deploy: {labels: {a: '1', b: '2'}}}}",
         "services: {web: {deploy: {labels: [b=3, c=4]}}}"),
    ],
)
def test_mapping_and_list_merge_entries(path: tuple[str, ...], base: str, over: str) -> None:
    node: Any = merged(base, over)
    for step in path:
        node = node[step]
    assert as_map(node) == {"a": "1", "b": "3", "c": "4"}


def test_a_network_keeps_its_other_keys_when_labels_merge() -> None:
    net = merged("networks: {net: {driver: bridge, labels: {a: '1'}, internal: true}}",
                 "networks: {net: {labels: [b=2], attachable: true}}")["networks"]["net"]
    assert net["driver"] == "bridge" and net["internal"] and net["attachable"]
    assert as_map(net["labels"]) == {"a": "1", "b": "2"}


def test_reset_still_drops_a_network() -> None:
    doc = merged("networks: {a: {}, b: {driver: x}}\nservices: {}",
                 "networks: {b: !reset {}}")
    assert doc["networks"] == {"a": {}}


# --- extra_hosts: unique by host and address ---------------------------------------------


@pytest.mark.parametrize(
    ("base", "over", "expected"),
    [
        # an override adds an address of a host: both stay
        ("[web:10.0.0.1]", "[web:10.0.0.2]", {"web": ["10.0.0.1", "10.0.0.2"]}),
        ("[web=10.0.0.1]", "{web: 10.0.0.2}", {"web": ["10.0.0.1", "10.0.0.2"]}),
        ("{web: [10.0.0.1, 10.0.0.3]}", "[web=10.0.0.2]",
         {"web": ["10.0.0.1", "10.0.0.3", "10.0.0.2"]}),
        # the same pair, written either way, is not repeated
        ("[web:10.0.0.1]", "[web=10.0.0.1]", {"web": ["10.0.0.1"]}),
        ("[web=10.0.0.1, db=10.0.0.9]", "[db:10.0.0.9, cache=10.0.0.7]",
         {"web": ["10.0.0.1"], "db": ["10.0.0.9"], "cache": ["10.0.0.7"]}),
        # IPv6 addresses
        ("['v6=::1']", "['v6:fe80::1']", {"v6": ["::1", "fe80::1"]}),
    ],
)
def test_extra_hosts_unique_by_host_and_address(base: str, over: str,
                                                expected: dict[str, list[str]]) -> None:
    for where in ("services: {web: {extra_hosts: %s}}",
                  "services: {web: {build: {context: ., extra_hosts: %s}}}"):
        web = merged(where % base, where % over)["services"]["web"]
        hosts = web["extra_hosts"] if "extra_hosts" in web else web["build"]["extra_hosts"]
        assert extra_hosts(hosts) == expected


def test_extra_hosts_reset_and_override() -> None:
    base = "services: {web: {extra_hosts: [a=1.1.1.1]}}"
    assert "extra_hosts" not in merged(
        base, "services: {web: {extra_hosts: !reset []}}")["services"]["web"]
    assert merged(base, "services: {web: {extra_hosts: !override [b=2.2.2.2]}}"
                  )["services"]["web"]["extra_hosts"] == ["b=2.2.2.2"]


# --- ipam.config by subnet -------------------------------------------------------------


def test_ipam_config_merges_by_subnet() -> None:
    net = merged("""
networks:
  n:
    driver: bridge
    ipam:
      driver: default
      config:
        - subnet: 172.28.0.0/16
          gateway: 172.28.0.1
          aux_addresses: {h1: 172.28.1.5, h2: 172.28.1.6}
        - subnet: 172.29.0.0/16
      options: {a: "1"}
""", """
networks:
  n:
    ipam:
      config:
        - subnet: 172.28.0.0/16
          ip_range: 172.28.5.0/24
          aux_addresses: {h2: 172.28.1.7, h3: 172.28.1.8}
        - subnet: 172.30.0.0/16
      options: {b: "2"}
""")["networks"]["n"]
    assert net["driver"] == "bridge"
    assert net["ipam"]["driver"] == "default"
    assert net["ipam"]["options"] == {"a": "1", "b": "2"}
    assert net["ipam"]["config"] == [
        {"subnet": "172.28.0.0/16", "gateway": "172.28.0.1", "ip_range": "172.28.5.0/24",
         "aux_addresses": {"h1": "172.28.1.5", "h2": "172.28.1.7", "h3": "172.28.1.8"}},
        {"subnet": "172.29.0.0/16"},
        {"subnet": "172.30.0.0/16"},
    ]


def test_ipam_added_by_an_override() -> None:
    net = merged("networks: {n: {driver: bridge}}",
                 "networks: {n: {ipam: {config: [{subnet: 10.9.0.0/24}]}}}")["networks"]["n"]
    assert net == {"driver": "bridge", "ipam": {"config": [{"subnet": "10.9.0.0/24"}]}}


# --- service models and links ------------------------------------------------------------


def test_service_models_merge_as_mappings() -> None:
    web = merged("services: {web: {image: x, models: [llm, embed]}}",
                 "services: {web: {models: {vision: {endpoint_var: V_URL}}}}")["services"]["web"]
    assert web["models"] == {"llm": None, "embed": None, "vision": {"endpoint_var": "V_URL"}}


def test_links_are_unique_by_the_text_before_equals() -> None:
    web = merged("services: {web: {image: x, links: [a, b, 'c:alias']}}",
                 "services: {web: {links: [b=alias1, 'c:alias']}}")["services"]["web"]
    assert web["links"] == ["a", "b=alias1", "c:alias"]

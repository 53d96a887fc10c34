"""Random and mutated documents through load_yaml + validate: the only exception that
may come out is ComposeError (never a pydantic, Key, Type or Attribute error), and it
always carries a message."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import RawProject
from pycompose.compose.model import validate
from pycompose.compose.model.project import _known_keys
from pycompose.compose.yamlsrc import MDict, load_yaml

KEYS = [*_known_keys(()), "web", "db", "default", "x-ext", "", "1", "services"]

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-70000, 70000), st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["80:80", "99999:80", "1-3:4-6/udp", "./a:/b:ro", "a:/b", "30s", "1m",
                     "512m", "service:web", "container:x", "web", "db", "on-failure:2",
                     "CMD", "=", "a=b", "tcp", "bind", "volume", "[::1]:1:2", "${X}"]),
)

VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=25,
)

BASE: dict[str, Any] = yaml.safe_load("""
name: fuzz
services:
  web:
    image: nginx
    build: {context: ., args: [A=1]}
    ports: ["8080:80", {target: 81, published: "8081"}]
    volumes: ["./d:/d:ro", "data:/data", {type: tmpfs, target: /t, tmpfs: {size: 1m}}]
    environment: {A: "1", B: null}
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: [CMD, "true"], interval: 10s}
    deploy: {resources: {limits: {memory: 1g, cpus: "0.5"}}, replicas: 1}
    networks: {front: {aliases: [w]}}
    ulimits: {nofile: {soft: 1, hard: 2}}
    secrets: [s]
    command: echo hi
  db:
    image: postgres
    links: [cache]
    volumes_from: [cache]
    profiles: [p]
  cache: {image: redis, network_mode: none}
networks: {front: {ipam: {config: [{subnet: 10.1.0.0/24}]}}}
volumes: {data: {}}
secrets: {s: {file: ./s}}
x-top: 1
""")


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def run(doc: Any, tmp: Path) -> None:
    try:
        text = yaml.safe_dump(doc, sort_keys=False)
    except yaml.YAMLError:
        return
    try:
        tree = load_yaml(text, "compose.yaml")
        if not isinstance(tree, MDict):
            return
        validate(RawProject(name="fuzz", working_dir=tmp, config_files=["compose.yaml"],
                            environment={"B": "b"}, data=tree, profiles={"p"}))
    except ComposeError as e:
        assert str(e)


#: CI runs a quick sample; PYCOMPOSE_FUZZ_EXAMPLES=5000 for a long local run.
FUZZ = settings(max_examples=int(os.environ.get("PYCOMPOSE_FUZZ_EXAMPLES", "100")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_random_documents(tmp_path: Path, doc: dict[str, Any]) -> None:
    run(doc, tmp_path)


@FUZZ
@given(services=st.dictionaries(st.sampled_from(["web", "db", "a-b", "x y"]),
                                st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6),
                                max_size=3))
def test_random_services(tmp_path: Path, services: dict[str, Any]) -> None:
    run({"services": services}, tmp_path)


@FUZZ
@given(data=st.data())
def test_mutated_valid_document(tmp_path: Path, data: st.DataObject) -> None:
    doc = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(paths(doc)[1:]))
        parent = doc
        for step in where[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = data.draw(VALUES)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent[where[-1]], dict):
            parent[where[-1]][data.draw(st.sampled_from(KEYS))] = data.draw(VALUES)
        elif isinstance(parent[where[-1]], list):
            parent[where[-1]].append(data.draw(VALUES))
    run(doc, tmp_path)


def test_the_base_document_is_valid(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("secret")
    tree = load_yaml(yaml.safe_dump(BASE), "compose.yaml")
    p = validate(RawProject(name="fuzz", working_dir=tmp_path, config_files=["compose.yaml"],
                            environment={}, data=tree, profiles={"p"}))
    assert set(p.services) == {"web", "db", "cache"}


def run_through_loader(doc: Any, tmp: Path, files: dict[str, Any] | None = None) -> None:
    """The whole pipeline: files on disk, the loader (interpolation, merge, extends,
    include), then validate."""
    from pycompose.compose.loader import LoadOptions, load

    try:
        (tmp / "compose.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        for name, content in (files or {}).items():
            (tmp / name).write_text(yaml.safe_dump(content, sort_keys=False))
    except yaml.YAMLError:
        return
    try:
        validate(load(LoadOptions(cwd=str(tmp), environ={"X": "1"}, profiles=["p"])))
    except ComposeError as e:
        assert str(e)


@FUZZ
@given(data=st.data())
def test_mutated_documents_through_the_loader(tmp_path: Path, data: st.DataObject) -> None:
    doc = copy.deepcopy(BASE)
    doc["services"]["web"]["extends"] = data.draw(st.one_of(
        st.just({"service": "cache"}), st.just("db"), VALUES))
    doc["include"] = data.draw(st.one_of(st.just(["other.yaml"]), VALUES))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(paths(doc)[1:]))
        parent = doc
        for step in where[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()):
            parent[where[-1]] = data.draw(VALUES)
        else:
            del parent[where[-1]]
    override = data.draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3))
    run_through_loader(doc, tmp_path, {"compose.override.yaml": override,
                                       "other.yaml": {"services": {"o": {"image": "x"}}}})

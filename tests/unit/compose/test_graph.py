"""The service graph: edges from every key that makes one service need another, start
levels for the scheduler, and errors that name the cycle or both services."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycompose.compose import graph
from pycompose.compose.errors import ComposeError
from pycompose.compose.loader import LoadOptions, load
from pycompose.compose.model import Project, validate


def project_of(tmp_path: Path, text: str, profiles: tuple[str, ...] = ()) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return validate(load(LoadOptions(cwd=str(tmp_path), environ={}, profiles=profiles)))


def error_of(tmp_path: Path, text: str) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        project_of(tmp_path, text)
    return info.value


def test_edges_from_every_kind_of_dependency(tmp_path: Path) -> None:
    p = project_of(tmp_path, """
services:
  web:
    image: a
    depends_on: {db: {condition: service_healthy, restart: true}}
    links: [cache:redis]
    volumes_from: [files:ro, container:outside]
  sidecar: {image: a, network_mode: "service:web", ipc: "service:db", pid: "service:web"}
  db: {image: a, healthcheck: {test: exit 0}}
  cache: {image: a}
  files: {image: a}
""")
    g = graph.service_graph(p)
    assert set(g.edges) == {("web", "db"), ("web", "cache"), ("web", "files"),
                            ("sidecar", "web"), ("sidecar", "db")}
    assert g.edges["web", "db"]["condition"] == "service_healthy"
    assert g.edges["web", "db"]["restart"] is True
    assert g.edges["web", "cache"]["kinds"] == ["links"]
    assert g.edges["sidecar", "web"]["kinds"] == ["network_mode", "pid"]
    assert graph.levels(g) == [["cache", "db", "files"], ["web"], ["sidecar"]]
    assert graph.start_order(g) == ["cache", "db", "files", "web", "sidecar"]
    assert graph.stop_order(g)[0] == "sidecar"
    assert graph.dependencies(g, "sidecar") == {"web", "db", "cache", "files"}
    assert graph.dependants(g, "db") == {"web", "sidecar"}


def test_cycle_is_named_at_the_first_edge(tmp_path: Path) -> None:
    e = error_of(tmp_path, """services:
  a: {image: x, depends_on: [b]}
  b: {image: x, links: [c]}
  c: {image: x, depends_on: {a: {condition: service_started}}}
""")
    assert "dependency cycle: a -> b -> c -> a" in str(e)
    assert (e.line, e.key) == (2, "services.a.depends_on[0]")


def test_self_dependency_is_a_cycle(tmp_path: Path) -> None:
    e = error_of(tmp_path, "services:\n  a: {image: x, network_mode: 'service:a'}\n")
    assert "dependency cycle: a -> a" in str(e)
    assert e.key == "services.a.network_mode"


def test_networkx_graph_reports_the_same_cycle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """service_graph checks on its own, for callers that build projects otherwise."""
    from pycompose.compose.model import dependencies

    monkeypatch.setattr(dependencies, "check_dependencies", lambda _p: [])
    p = project_of(tmp_path, "services:\n  a: {image: x, depends_on: [b]}\n"
                             "  b: {image: x, depends_on: [a]}\n")
    with pytest.raises(ComposeError, match="dependency cycle: a -> b -> a") as info:
        graph.service_graph(p)
    assert info.value.line == 2


def test_unknown_dependency_names_both(tmp_path: Path) -> None:
    e = error_of(tmp_path, "services:\n  web:\n    image: a\n    depends_on: [ghost]\n")
    assert "service 'web' depends on undefined service 'ghost'" in str(e)
    assert (e.line, e.key) == (4, "services.web.depends_on[0]")


def test_unknown_volumes_from_service(tmp_path: Path) -> None:
    e = error_of(tmp_path, "services:\n  web:\n    image: a\n    volumes_from: [ghost:ro]\n")
    assert "undefined service 'ghost' (volumes_from)" in str(e)


def test_dependency_disabled_by_profile(tmp_path: Path) -> None:
    text = "services:\n  web: {image: a, depends_on: [dbg]}\n  dbg: {image: a, profiles: [debug]}\n"
    with pytest.raises(ComposeError) as info:
        project_of(tmp_path, text)
    assert "service 'web' depends on service 'dbg' (depends_on), which is disabled" \
        in str(info.value)
    assert "(debug)" in str(info.value)
    p = project_of(tmp_path, text, profiles=("debug",))
    assert graph.start_order(graph.service_graph(p)) == ["dbg", "web"]


def test_optional_dependency_is_a_warning(tmp_path: Path) -> None:
    p = project_of(tmp_path, "services:\n  web:\n    image: a\n    depends_on:\n"
                             "      ghost: {condition: service_started, required: false}\n")
    assert any("undefined service 'ghost'" in w and "not required" in w for w in p.warnings)
    assert list(graph.service_graph(p).edges) == []

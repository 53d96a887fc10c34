"""What each service depends on, as the files say it: ``depends_on``, ``links``,
``network_mode``/``ipc``/``pid: service:X`` and ``volumes_from``; and the checks that
validation runs on them (a dependency that does not exist or is disabled by its
profiles, a cycle), with the file and line of the key that names it.

Pure and free of networkx, so that loading a project (``config``) stays fast;
``compose/graph.py`` builds the scheduler's graph from the same walk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..errors import ComposeError
    from .service import Service


class Project(Protocol):
    """What the dependency checks read of a project (``project.Project`` has it)."""

    @property
    def services(self) -> Mapping[str, Service]: ...
    @property
    def disabled(self) -> Mapping[str, Service]: ...
    @property
    def source(self) -> Any: ...
    def error_at(self, path: tuple[str | int, ...], message: str) -> ComposeError: ...


def _index_of(node: Any, target: str, split: str | None = None) -> str | int:
    """The raw key path step of ``target`` in a list (``links: [db:alias]``) or map."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            text = str(item)
            if split is not None:
                text = text.split(split, 1)[0]
            if text == target:
                return i
    return target


def _volumes_from_service(entry: str) -> str | None:
    """``svc``, ``svc:ro``, ``service:svc[:rw]`` name a service; ``container:x`` doesn't."""
    parts = entry.split(":")
    if parts[0] == "container":
        return None
    if parts[0] == "service" and len(parts) > 1:
        return parts[1]
    return parts[0]


def edges_of(name: str, svc: Service, source: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(dependency, attributes)`` for each thing ``svc`` needs, in the order written."""
    raw = source.get("services", {}).get(name, {}) if isinstance(source, dict) else {}
    raw = raw if isinstance(raw, dict) else {}
    base = ("services", name)
    for dep, d in (svc.depends_on or {}).items():
        yield dep, {"kind": "depends_on", "condition": d.condition, "required": d.required,
                    "restart": bool(d.restart),
                    "path": (*base, "depends_on", _index_of(raw.get("depends_on"), dep))}
    for link in svc.links or []:
        dep = link.split(":", 1)[0]
        yield dep, {"kind": "links", "path": (*base, "links",
                                               _index_of(raw.get("links"), dep, ":"))}
    for key in ("network_mode", "ipc", "pid"):
        value = getattr(svc, key)
        if isinstance(value, str) and value.startswith("service:"):
            yield value[len("service:"):], {"kind": key, "path": (*base, key)}
    for i, entry in enumerate(svc.volumes_from or []):
        source = _volumes_from_service(entry)
        if source is not None:
            yield source, {"kind": "volumes_from", "path": (*base, "volumes_from", i)}


def _walk(project: Project) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """Adjacency (service -> dependency -> attributes) and warnings; raises on a
    dependency that does not exist or is disabled by profiles."""
    adjacency: dict[str, dict[str, dict[str, Any]]] = {}
    warnings: list[str] = []
    for name, svc in project.services.items():
        out = adjacency.setdefault(name, {})
        for dep, attrs in edges_of(name, svc, project.source):
            kind = attrs["kind"]
            if dep not in project.services:
                optional = kind == "depends_on" and not attrs["required"]
                if dep in project.disabled:
                    profiles = ", ".join(project.disabled[dep].profiles or [])
                    why = (f"service {name!r} depends on service {dep!r} ({kind}), which "
                           f"is disabled: enable its profile ({profiles}) with --profile "
                           "or COMPOSE_PROFILES")
                else:
                    why = f"service {name!r} depends on undefined service {dep!r} ({kind})"
                if optional:
                    warnings.append(f"{why}; it is not required, so {name!r} starts "
                                    "without it")
                    continue
                raise project.error_at(attrs["path"], why)
            if dep in out:  # several keys name the same dependency: merge them
                merged = out[dep]
                merged["kinds"].append(kind)
                for k in ("condition", "required", "restart"):
                    if k in attrs:
                        merged[k] = attrs[k]
                continue
            attrs = dict(attrs)
            attrs["kinds"] = [attrs.pop("kind")]
            attrs.setdefault("condition", "service_started")
            attrs.setdefault("required", True)
            attrs.setdefault("restart", False)
            out[dep] = attrs
    return adjacency, warnings


def _find_cycle(adjacency: dict[str, dict[str, dict[str, Any]]]) -> list[str] | None:
    """A cycle as ``[a, b, a]``, found by an iterative depth-first search."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in sorted(adjacency):
        if state.get(root):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(adjacency[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(child) == 1:
                return [*path[path.index(child):], child]
            if not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(adjacency.get(child, {})))))
    return None


def check_dependencies(project: Project) -> list[str]:
    """Raise for unknown/disabled dependencies and cycles; return warnings.

    Kept free of networkx so that ``config`` stays fast; :func:`service_graph` builds
    the networkx graph for the scheduler from the same walk.
    """
    adjacency, warnings = _walk(project)
    cycle = _find_cycle(adjacency)
    if cycle:
        first = adjacency[cycle[0]][cycle[1]]
        raise project.error_at(first["path"], "dependency cycle: " + " -> ".join(cycle))
    return warnings



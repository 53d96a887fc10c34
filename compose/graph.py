"""The service graph: who must start before whom.

A networkx ``DiGraph`` whose nodes are the enabled services and whose edges go from a
service to what it needs (``web -> db``), from ``depends_on``, ``links``,
``network_mode: service:x``, ``volumes_from`` and ``ipc``/``pid: service:x``. Each edge
carries ``kinds`` (the keys that made it), and for ``depends_on`` its ``condition``,
``required`` and ``restart``; ``path`` is where the first of them was written, so
errors point at the file and line.

What a service names (its edges) and the checks that need no networkx (unknown,
disabled or cyclic dependencies, run at validation) are the model's
(``model/dependencies.py``); this module builds the graph the planner walks.

The scheduler starts :func:`levels` in order (each level's services in parallel),
waiting on each edge's condition; ``down`` stops in the reverse order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model.dependencies import _walk, check_dependencies, edges_of

if TYPE_CHECKING:
    import networkx as nx

    from .model import Project

__all__ = ["check_dependencies", "dependants", "dependencies", "edges_of", "levels",
           "service_graph", "start_order", "stop_order"]


def service_graph(project: Project) -> nx.DiGraph:
    """The service graph (edges ``service -> dependency``); raises as
    :func:`check_dependencies` does."""
    import networkx as nx

    adjacency, _ = _walk(project)
    g: nx.DiGraph = nx.DiGraph()
    g.add_nodes_from(sorted(adjacency))
    for name, deps in adjacency.items():
        for dep, attrs in deps.items():
            g.add_edge(name, dep, **attrs)
    try:
        cycle_edges = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return g
    names = [u for u, _v in cycle_edges] + [cycle_edges[0][0]]
    first = g.edges[cycle_edges[0][0], cycle_edges[0][1]]
    raise project.error_at(first["path"], "dependency cycle: " + " -> ".join(names))


def levels(g: nx.DiGraph) -> list[list[str]]:
    """Start order in waves: every service of a wave depends only on earlier waves."""
    import networkx as nx

    return [sorted(gen) for gen in nx.topological_generations(g.reverse(copy=False))]


def start_order(g: nx.DiGraph) -> list[str]:
    """One start order (dependencies first), stable for a given project."""
    return [name for wave in levels(g) for name in wave]


def stop_order(g: nx.DiGraph) -> list[str]:
    """The reverse of :func:`start_order`: dependants stop before what they need."""
    return list(reversed(start_order(g)))


def dependants(g: nx.DiGraph, name: str) -> set[str]:
    """Every service that needs ``name``, directly or not (to restart or stop them)."""
    import networkx as nx

    return set(nx.ancestors(g, name))


def dependencies(g: nx.DiGraph, name: str) -> set[str]:
    """Every service ``name`` needs, directly or not (``up web`` starts them too)."""
    import networkx as nx

    return set(nx.descendants(g, name))

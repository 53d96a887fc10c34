"""``--dry-run``: what ``up``/``create``/``down`` would do, from the plan alone.

The plan is data (``compose/plan.py``), so a dry run is the plan printed as docker
compose prints its dry-run lines (``DRY-RUN MODE -  Container p-web-1  Created``), with
nothing changed: no network, volume or container is made or removed.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import compose_common as C

PREFIX = "DRY-RUN MODE - "


def _line(kind: str, name: str, what: str) -> None:
    import sys

    print(f"{PREFIX} {kind} {name}  {what}", file=sys.stderr, flush=True)


def dry_up(args: argparse.Namespace, project: Any, opts: Any) -> int:
    from pycompose.compose import plan as P
    from pycompose.compose.observed import observe
    from pycompose.compose.plan import Action

    names = P.selected_services(P.enable(project, opts.services), opts.services,
                                not opts.no_deps)
    obs = observe(C.engine(), project, services=names)
    plan = P.plan_up(project, obs, opts)
    for r in plan.networks:
        if r.action == "create":
            _line("Network", r.name, "Created")
        elif r.action == "recreate":
            _line("Network", r.name, "Recreated")
    for v in plan.volumes:
        if v.action == "create":
            _line("Volume", v.name, "Created")
    for step in plan.orphans:
        _line("Container", step.name, "Removed")
    for sp in plan.services.values():
        for s in sp.steps:
            if s.action is Action.CREATE:
                _line("Container", s.name, "Created")
            elif s.action is Action.RECREATE:
                _line("Container", s.name, "Recreated")
            elif s.action is Action.REMOVE:
                _line("Container", s.name, "Removed")
            else:
                _line("Container", s.name, "Running")
            if not opts.no_start and s.action is not Action.REMOVE:
                _line("Container", s.name, "Started")
    return 0


def dry_down(args: argparse.Namespace, project: Any, *, volumes: bool,
             remove_orphans: bool, rmi: str | None = None) -> int:
    from pycompose.compose import plan as P
    from pycompose.compose.observed import observe

    obs = observe(C.engine(), project)
    plan = P.plan_down(project, obs, remove_orphans=remove_orphans, volumes=volumes, rmi=rmi)
    for wave in plan.stop_waves:
        for c in wave:
            _line("Container", c.name, "Stopped")
    for c in plan.remove:
        _line("Container", c.name, "Removed")
    for name in plan.networks:
        _line("Network", name, "Removed")
    for name in plan.volumes:
        _line("Volume", name, "Removed")
    return 0

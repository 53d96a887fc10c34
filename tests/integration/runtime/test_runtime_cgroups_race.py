"""Many containers created at once under a cgroup parent nobody has made yet: on cgroup
v1 each new ``cpuset`` level starts with empty ``cpuset.cpus``/``cpuset.mems`` and
refuses tasks (ENOSPC) until they are copied from its parent, so a creator that finds a
level another one has just made, and not yet filled, must not go on unfilled; and a
remover that clears empty parents must not take a level from under a creator."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from pycompose.engine.runtime import ContainerSpec, cgroups, destroy, run
from pycompose.util.paths import root_id

if TYPE_CHECKING:
    from conftest import MakeSpec

AT_ONCE = 30
ROUNDS = 12


def _has_v1_cpuset() -> bool:
    return any(h.version == 1 and "cpuset" in h.controllers for h in cgroups.probe())


def test_thirty_containers_at_once_under_a_fresh_parent(make_spec: MakeSpec) -> None:
    if not _has_v1_cpuset():
        pytest.skip("no cgroup v1 cpuset hierarchy here (the race is v1's)")
    errors: list[str] = []

    def one(spec: ContainerSpec, gate: threading.Barrier, n: int) -> None:
        gate.wait()
        try:
            c = run(spec)
            c.wait()
            c.close()
        except Exception as e:
            errors.append(f"round {n}: {e}")
        finally:
            destroy(spec)

    for n in range(ROUNDS):
        # a parent level that does not exist yet: every round races to create it
        parent = f"pycompose/{root_id()}/race{n}"
        specs = [make_spec("true", cgroup_parent=parent) for _ in range(AT_ONCE)]
        gate = threading.Barrier(AT_ONCE)
        threads = [threading.Thread(target=one, args=(s, gate, n)) for s in specs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not errors, "\n".join(errors[:5])

"""Issue 15 #1, #2, #3, #10: what ``up``/``start`` take along, on real containers.

Each scenario: commands, then what a user observes (exit codes, output, states)."""

from __future__ import annotations

import json
import time

from pctest.stack import Stack

DB_HEALTHY = """
services:
  db:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    healthcheck: {test: ["CMD", "true"], interval: 1s, start_period: 1s}
  app:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    depends_on: {db: {condition: service_healthy}}
"""


def states(stack: Stack) -> dict[str, str]:
    out = stack.ok("ps", "-a", "--format", "json")
    rows = json.loads(out) if out.strip().startswith("[") else \
        [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["Service"]: r["State"] for r in rows}


def test_up_no_deps_starts_the_service_alone_with_its_dependency_running(
        stack: Stack) -> None:
    """#1: --no-deps means the dependencies are not touched, not refused."""
    stack.write(DB_HEALTHY)
    stack.ok("up", "-d", "--wait", "db")
    db_started = stack.inspect(f"{stack.name}-db-1", "{{.State.StartedAt}}")
    r = stack("up", "-d", "--no-deps", "app")
    assert r.returncode == 0, r.stderr
    assert states(stack) == {"db": "running", "app": "running"}
    assert stack.inspect(f"{stack.name}-db-1", "{{.State.StartedAt}}") == db_started
    stack.ok("rm", "-s", "-f", "app")
    r = stack("up", "-d", "--no-deps", "app")  # db stopped: app still comes up alone
    assert r.returncode == 0, r.stderr


def test_naming_a_service_of_an_inactive_profile_enables_it_and_its_dependencies(
        stack: Stack) -> None:
    """#2"""
    stack.write("""
services:
  db: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
  foo:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    profiles: [tools]
    depends_on: [db]
  other: {image: busybox, command: [sleep, "600"], profiles: [tools]}
""")
    stack.ok("up", "-d", "foo")
    assert states(stack) == {"db": "running", "foo": "running"}


def test_start_starts_the_dependency_chain_in_order(stack: Stack) -> None:
    """#3"""
    stack.write(DB_HEALTHY)
    stack.ok("up", "-d", "--wait")
    stack.ok("stop", "-t", "1")
    assert set(states(stack).values()) == {"exited"}
    r = stack("start", "app")
    assert r.returncode == 0, r.stderr
    assert states(stack) == {"db": "running", "app": "running"}
    db = stack.inspect(f"{stack.name}-db-1", "{{.State.StartedAt}}")
    app = stack.inspect(f"{stack.name}-app-1", "{{.State.StartedAt}}")
    assert db < app  # RFC 3339 in UTC: text order is time order
    assert stack.inspect(f"{stack.name}-db-1", "{{.State.Health.Status}}") == "healthy"


def test_network_mode_service_orders_the_first_up(stack: Stack) -> None:
    """#10: the dependency network_mode implies is honoured as depends_on is."""
    stack.write("""
services:
  app:
    image: busybox
    command: [sh, -c, "ip addr show eth0 | grep -o 'inet [0-9.]*'; sleep 600"]
    stop_signal: SIGKILL
    network_mode: "service:db"
  db: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL}
""")
    r = stack("up", "-d")
    assert r.returncode == 0, r.stderr
    assert states(stack) == {"db": "running", "app": "running"}
    nets = json.loads(stack.inspect(f"{stack.name}-db-1", "{{json .NetworkSettings.Networks}}"))
    (ip,) = [n["IPAddress"] for n in nets.values()]
    for _ in range(50):
        out = stack.ok("logs", "app")
        if "inet" in out:
            break
        time.sleep(0.1)
    assert f"inet {ip}" in out

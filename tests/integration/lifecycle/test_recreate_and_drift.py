"""Issue 15 #5, #6, #7, #8, #9 and duplicate container names, on real containers."""

from __future__ import annotations

import json
import socket

from pctest.cli import run
from pctest.stack import Stack


def started_at(stack: Stack, service: str, n: int = 1) -> str:
    return stack.inspect(f"{stack.name}-{service}-{n}", "{{.State.StartedAt}}")


def test_recreating_a_dependency_restarts_dependants_that_ask(stack: Stack) -> None:
    """#5: depends_on restart: true; a dependant that does not ask is left running."""
    base = """
services:
  db: {image: busybox, command: [sleep, "6%s"], stop_signal: SIGKILL}
  web:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    depends_on: {db: {condition: service_started, restart: true}}
  cron: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL, depends_on: [db]}
"""
    stack.write(base % "00")
    stack.ok("up", "-d")
    web, cron = started_at(stack, "web"), started_at(stack, "cron")
    stack.write(base % "01")  # db's config changes: it is recreated
    r = stack("up", "-d")
    assert r.returncode == 0, r.stderr
    assert "Recreate" in r.stderr
    assert started_at(stack, "web") > web  # restarted after its dependency
    assert started_at(stack, "cron") == cron


def test_every_container_is_created_before_a_failing_dependency_stops_the_rest(
        stack: Stack) -> None:
    """#6: dependants exist (created) when the dependency fails; the exit is told
    before the lack of a healthcheck."""
    stack.write("""
services:
  db: {image: busybox, command: [sh, -c, "exit 1"]}
  app:
    image: busybox
    command: [sleep, "600"]
    depends_on: {db: {condition: service_healthy}}
""")
    r = stack("up", "-d")
    assert r.returncode == 1
    assert f"container {stack.name}-db-1 exited (1)" in r.stderr, r.stderr
    assert stack.inspect(f"{stack.name}-app-1", "{{.State.Status}}") == "created"


def _free_range(n: int) -> int:
    """The first port of ``n`` consecutive free loopback ports."""
    for base in range(24000, 60000, 97):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


def test_a_published_range_is_spread_over_the_replicas(stack: Stack) -> None:
    """#7: each replica takes the next free port of the range."""
    lo = _free_range(4)
    stack.write(f"""
services:
  web:
    image: busybox
    command: [httpd, -f, -p, "80", -h, /var/www]
    stop_signal: SIGKILL
    scale: 3
    ports: ["127.0.0.1:{lo}-{lo + 3}:80"]
""")
    r = stack("up", "-d")
    assert r.returncode == 0, r.stderr
    ports = set()
    for n in (1, 2, 3):
        binds = json.loads(stack.inspect(f"{stack.name}-web-{n}",
                                         "{{json .NetworkSettings.Ports}}"))["80/tcp"]
        ports.add(int(binds[0]["HostPort"]))
    assert len(ports) == 3 and ports <= set(range(lo, lo + 4))
    for p in ports:
        with socket.create_connection(("127.0.0.1", p), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert c.recv(100).startswith(b"HTTP/1")


def test_commands_act_on_the_loaded_files_services_only(stack: Stack) -> None:
    """#8: -f compose.yaml stop leaves the project's containers of another file alone;
    an unknown service is an error."""
    stack.write("services:\n  a: {image: busybox, command: [sleep, '600'], "
                "stop_signal: SIGKILL}\n")
    stack.write("services:\n  b: {image: busybox, command: [sleep, '600'], "
                "stop_signal: SIGKILL}\n", "other.yaml")
    stack.ok("-f", "compose.yaml", "up", "-d")
    stack.ok("-f", "other.yaml", "up", "-d")
    stack.ok("-f", "compose.yaml", "stop")
    assert stack.inspect(f"{stack.name}-a-1", "{{.State.Status}}") == "exited"
    assert stack.inspect(f"{stack.name}-b-1", "{{.State.Status}}") == "running"
    r = stack("ps", "unknown")
    assert r.returncode == 1 and "no such service: unknown" in r.stderr
    stack.ok("-f", "other.yaml", "down", "-t", "1")


def test_a_changed_subnet_recreates_the_network_and_reconnects(stack: Stack) -> None:
    """#9: network drift."""
    text = """
services:
  a: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL, networks: [front]}
networks:
  front: {ipam: {config: [{subnet: %s}]}}
"""
    stack.write(text % "172.29.31.0/24")
    stack.ok("up", "-d")
    stack.write(text % "172.29.32.0/24")
    r = stack("up", "-d")
    assert r.returncode == 0, r.stderr
    nets = json.loads(stack.inspect(f"{stack.name}-a-1", "{{json .NetworkSettings.Networks}}"))
    assert nets[f"{stack.name}_front"]["IPAddress"].startswith("172.29.32.")


def test_a_renamed_external_volume_recreates_its_users(stack: Stack) -> None:
    """#9: volume drift the config hash does not see."""
    v1, v2 = f"{stack.name}-v1", f"{stack.name}-v2"
    for v in (v1, v2):
        assert run(["volume", "create", v]).returncode == 0
    text = """
services:
  a: {image: busybox, command: [sleep, "600"], stop_signal: SIGKILL, volumes: [data:/data]}
volumes:
  data: {external: true, name: %s}
"""
    stack.write(text % v1)
    stack.ok("up", "-d")
    stack.write(text % v2)
    stack.ok("up", "-d")
    mounts = json.loads(stack.inspect(f"{stack.name}-a-1", "{{json .Mounts}}"))
    assert [m["Name"] for m in mounts] == [v2]
    stack.ok("down", "-t", "1")
    for v in (v1, v2):
        run(["volume", "rm", v])


def test_clashing_container_names_fail_up_but_not_down(stack: Stack) -> None:
    stack.write("services:\n  a: {image: busybox, container_name: same}\n"
                "  b: {image: busybox, container_name: same}\n")
    r = stack("up", "-d")
    assert r.returncode == 1 and "both use container_name 'same'" in r.stderr
    assert stack("down").returncode == 0
    assert stack("config", "-q").returncode == 0

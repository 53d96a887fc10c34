"""`pycompose up` and `down` on the real engine: containers, a project network with
DNS for service names, a published port, dependency conditions, recreation."""

from __future__ import annotations

import socket
import time

from pctest.stack import Stack

PAIR = """
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    ports: ["127.0.0.1:{port}:8080"]
    depends_on: [echo]
  echo:
    image: busybox
    command: ["sh", "-c", "while true; do echo pong | nc -l -p 7000; done"]
    stop_signal: SIGKILL
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str = "/", timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                c.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                data = b""
                while chunk := c.recv(65536):
                    data += chunk
                return data.decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_stack_up_answers_by_name_and_port_then_down_leaves_nothing(stack: Stack) -> None:
    port = free_port()
    stack.write(PAIR.format(port=port))
    stack.ok("up", "-d")
    ps = stack.ps()
    assert sorted(r["Service"] for r in ps) == ["echo", "web"]
    assert all(r["State"] == "running" for r in ps)
    assert {r["Name"] for r in ps} == {f"{stack.name}-web-1", f"{stack.name}-echo-1"}
    # the published port answers from the host
    assert "hello from busybox" in http_get(port, "/index.html")
    # the web container reaches the echo service by its name on the project network
    r = stack.exec("web", "sh", "-c", "nc -w 3 echo 7000 </dev/null")
    assert r.returncode == 0 and r.stdout.strip() == "pong", r.stderr
    assert stack.ok("port", "web", "8080").strip() == f"127.0.0.1:{port}"
    # up again with nothing changed keeps the containers
    before = {r["ID"] for r in ps}
    stack.ok("up", "-d")
    after = {r["ID"] for r in stack.ps()}
    assert before == after
    out = stack("down")
    assert out.returncode == 0, out.stderr
    assert "Network " + f"{stack.name}_default" in out.stderr
    assert stack.ps("-a") == []


def test_changed_service_is_recreated_and_scale(stack: Stack) -> None:
    stack.write("services:\n  w:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n    environment: {V: '1'}\n")
    stack.ok("up", "-d")
    first = stack.ps()[0]["ID"]
    stack.write("services:\n  w:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n    environment: {V: '2'}\n")
    out = stack("up", "-d", "--scale", "w=2")
    assert out.returncode == 0, out.stderr
    rows = stack.ps()
    assert len(rows) == 2 and first not in {r["ID"] for r in rows}
    assert "Recreate" in out.stderr
    env = stack.inspect(f"{stack.name}-w-2", "{{.Config.Env}}")
    assert "V=2" in env


def test_depends_on_completed_successfully(stack: Stack) -> None:
    stack.write("""
services:
  init:
    image: busybox
    command: ["sh", "-c", "echo migrated > /shared/state"]
    volumes: [shared:/shared]
  app:
    image: busybox
    command: ["sh", "-c", "cat /shared/state; sleep 300"]
    stop_signal: SIGKILL
    volumes: [shared:/shared]
    depends_on:
      init: {condition: service_completed_successfully}
volumes:
  shared: {}
""")
    stack.ok("up", "-d")
    logs = stack.ok("logs", "app")
    assert "migrated" in logs


def test_failed_dependency_stops_up_with_a_clear_message(stack: Stack) -> None:
    stack.write("""
services:
  init:
    image: busybox
    command: ["sh", "-c", "exit 3"]
  app:
    image: busybox
    command: [sleep, "300"]
    depends_on:
      init: {condition: service_completed_successfully}
""")
    r = stack("up", "-d")
    assert r.returncode != 0
    assert "service 'init' didn't complete successfully: exit 3" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_compose_file_is_one_clear_line(stack: Stack) -> None:
    stack.write("services:\n  web:\n    image: busybox\n    ports: ['99999:80']\n")
    r = stack("up", "-d")
    assert r.returncode == 1
    assert r.stderr.startswith("error: compose.yaml:4:")
    assert "services.web.ports[0]" in r.stderr
    assert "Traceback" not in r.stderr


def test_two_ups_at_once_make_one_set_of_containers(stack: Stack) -> None:
    import subprocess

    from pctest.cli import PYCOMPOSE

    stack.write("services:\n  a:\n    image: busybox\n    command: [sleep, '300']\n"
                "    stop_signal: SIGKILL\n  b:\n    image: busybox\n"
                "    command: [sleep, '300']\n    stop_signal: SIGKILL\n")
    procs = [subprocess.Popen([PYCOMPOSE, "-p", stack.name, "up", "-d"], cwd=stack.folder,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
    rows = stack.ps()
    assert sorted(r["Name"] for r in rows) == [f"{stack.name}-a-1", f"{stack.name}-b-1"]


def test_up_wait_waits_for_healthy_and_fails_on_an_exit(stack: Stack) -> None:
    stack.write("""
services:
  db:
    image: busybox
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; sleep 300"]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 200ms
      retries: 20
""")
    out = stack("up", "--wait", "--wait-timeout", "30")
    assert out.returncode == 0, out.stderr
    assert "Healthy" in out.stderr
    assert stack.inspect(f"{stack.name}-db-1", "{{.State.Health.Status}}") == "healthy"
    stack.write("services:\n  bad:\n    image: busybox\n    command: [sh, -c, 'exit 4']\n")
    r = stack("up", "--wait", "--wait-timeout", "30", "--remove-orphans")
    assert r.returncode == 1
    assert f"container {stack.name}-bad-1 exited (4)" in r.stderr
